// What the reader fuzz targets share: the readers take a path, so each input is written to this
// process's scratch file; every byte of a loaded tensor is read, so a view past the mapping faults.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "ttl/tensor.hpp"

namespace fuzz {

// Replaces the scratch file's content with the input; returns its path.
inline const std::string& write_input(const uint8_t* data, size_t size) {
    static const std::string path = [] {
        const char* dir = std::getenv("TMPDIR");
        std::string p = std::string(dir ? dir : "/tmp") + "/ttlm_fuzz_" + std::to_string(::getpid());
        std::atexit([] { ::unlink(path.c_str()); });
        return p;
    }();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size) ||
        ::ftruncate(fd, static_cast<off_t>(size)) != 0)
        std::abort();
    ::close(fd);
    return path;
}

inline volatile uint8_t sink;
inline void touch(const ttl::Tensor& t) {
    const auto* bytes = static_cast<const uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) sink = bytes[i];
}

}  // namespace fuzz
