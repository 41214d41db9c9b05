// libFuzzer target for the safetensors reader (see README.md): every input must open and read
// cleanly or throw FormatError. Any other exception escapes, aborts, and libFuzzer reports it.
#include "io/safetensors.hpp"
#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& path = fuzz::write_input(data, size);
    try {
        const auto file = ttlm::io::SafetensorsFile::open(path);
        for (const auto& name : file.names()) {
            try {
                fuzz::touch(file.tensor(name));
            } catch (const ttlm::io::FormatError&) {  // a dtype ttl::Tensor lacks
            }
            try {
                fuzz::touch(file.tensor_f32(name));
            } catch (const ttlm::io::FormatError&) {  // not a float dtype
            }
        }
    } catch (const ttlm::io::FormatError&) {
    }
    return 0;
}
