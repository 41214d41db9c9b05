// libFuzzer target for the tokenizer.json loader (see README.md): every input must load or throw
// FormatError; a loaded tokenizer must encode and decode a few texts, where only a runtime_error
// is allowed (a damaged unk_token may name no token, and HF fails the same way). Any other
// exception escapes, aborts, and libFuzzer reports it.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "io/errors.hpp"
#include "io/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view json(reinterpret_cast<const char*>(data), size);
    std::optional<ttlm::io::Tokenizer> tokenizer;
    try {
        tokenizer.emplace(ttlm::io::Tokenizer::from_json(json, {}, "fuzz.json"));
    } catch (const ttlm::io::FormatError&) {
        return 0;
    }
    for (const std::string_view text : {"abc gh", "Hello 123 <s> wörld\t\n", "", "日本語 🙂"}) {
        try {
            const auto ids = tokenizer->encode(text);
            tokenizer->decode(ids);
            tokenizer->decode(ids, true);
        } catch (const std::runtime_error&) {
        }
    }
    return 0;
}
