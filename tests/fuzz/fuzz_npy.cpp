// libFuzzer target for the .npy reader (see README.md): every input must load cleanly or
// throw FormatError. Any other exception escapes, aborts, and libFuzzer reports it.
#include "io/npy.hpp"
#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& path = fuzz::write_input(data, size);
    try {
        fuzz::touch(ttlm::io::load_npy(path));
    } catch (const ttlm::io::FormatError&) {
    }
    return 0;
}
