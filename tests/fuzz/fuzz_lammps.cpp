// libFuzzer target for the LAMMPS data reader (see README.md): every input must parse into a
// consistent system (System::validate) or throw an error whose message names the source. Any
// other outcome aborts and libFuzzer reports it.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "models/md/lammps_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        ttlm::md::parse_lammps_data(text, "fuzz.data").validate();
    } catch (const std::exception& error) {
        if (std::string_view(error.what()).find("fuzz.data") == std::string_view::npos) {
            std::fprintf(stderr, "error without the source's name: %s\n", error.what());
            std::abort();
        }
    }
    return 0;
}
