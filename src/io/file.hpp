// The POSIX file handling the io readers and writers share.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace ttlm::io {

// A regular file opened for reading; closes itself.
class InputFile {
   public:
    // Throws std::system_error if it cannot be opened or stat'ed, FormatError if it is not a
    // regular file (a directory, a pipe), both naming `path`.
    explicit InputFile(const std::string& path);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    int fd() const { return fd_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

   private:
    std::string path_;
    int fd_ = -1;
    size_t size_ = 0;
};

// Throws std::system_error for errno, with `what` (which names the file) as its message.
[[noreturn]] void throw_errno(const std::string& what);

// Writes `pieces` one after another to `path`.tmp, flushes it to disk and renames it to `path`;
// on failure removes the temporary file and throws std::system_error naming `path`. A crash leaves
// the old file or the new one, never a prefix of the new one.
void write_file_atomically(const std::string& path, std::span<const std::span<const std::byte>> pieces);

}  // namespace ttlm::io
