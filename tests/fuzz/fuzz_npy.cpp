// libFuzzer target for the .npy reader (see README.md): every input must load cleanly or
// throw FormatError. Any other exception escapes, aborts, and libFuzzer reports it.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/npy.hpp"

namespace {

// The reader takes a path: each input replaces this process's scratch file in place.
const std::string& scratch_path() {
    static const std::string path = [] {
        const char* dir = std::getenv("TMPDIR");
        std::string p = std::string(dir ? dir : "/tmp") + "/fuzz_npy_" + std::to_string(::getpid());
        std::atexit([] { ::unlink(scratch_path().c_str()); });
        return p;
    }();
    return path;
}

void overwrite(const std::string& path, const uint8_t* data, size_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size) ||
        ::ftruncate(fd, static_cast<off_t>(size)) != 0)
        std::abort();
    ::close(fd);
}

// Reads every byte, so a view past the mapping faults.
volatile uint8_t sink;
void touch(const ttl::Tensor& t) {
    const auto* bytes = static_cast<const uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) sink = bytes[i];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    overwrite(scratch_path(), data, size);
    try {
        touch(ttlm::io::load_npy(scratch_path()));
    } catch (const ttlm::io::FormatError&) {
    }
    return 0;
}
