#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "io/errors.hpp"

namespace ttlm::io {

void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

InputFile::InputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_errno(fmt::format("cannot open '{}'", path));
    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
        const int error = errno;
        ::close(fd_);
        throw std::system_error(error, std::generic_category(), fmt::format("cannot stat '{}'", path));
    }
    if (!S_ISREG(info.st_mode)) {
        ::close(fd_);
        throw FormatError(fmt::format("{}: not a regular file", path));
    }
    size_ = static_cast<size_t>(info.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

void write_file_atomically(const std::string& path, std::span<const std::span<const std::byte>> pieces) {
    const std::string temporary = path + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno(fmt::format("cannot create '{}'", temporary));
    auto fail = [&](const char* what) {
        const int error = errno;
        ::close(fd);
        ::unlink(temporary.c_str());
        throw std::system_error(error, std::generic_category(), fmt::format("cannot {} '{}'", what, path));
    };
    for (auto piece : pieces) {
        while (!piece.empty()) {
            ssize_t written = ::write(fd, piece.data(), piece.size());
            if (written < 0 && errno == EINTR) continue;
            if (written < 0) fail("write");
            piece = piece.subspan(static_cast<size_t>(written));
        }
    }
    // Data on disk before the rename makes the new name visible: a crash leaves the old file or the
    // new one, never a prefix of the new one.
    if (::fsync(fd) != 0) fail("flush");
    if (::close(fd) != 0) {
        ::unlink(temporary.c_str());
        throw_errno(fmt::format("cannot write '{}'", path));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        throw std::system_error(error, std::generic_category(),
                                fmt::format("cannot rename '{}' to '{}'", temporary, path));
    }
}


}  // namespace ttlm::io
