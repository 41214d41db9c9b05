// libFuzzer target for encoding with the DeepSeek-V3 tokenizer (see README.md): valid UTF-8 must
// encode, and decode back to the same text (byte-level BPE, no normaliser); invalid UTF-8 must be
// refused with std::invalid_argument. Anything else aborts and libFuzzer reports it.
// The tokenizer folder comes from $TTLM_TOKENIZER (default .cache/tokenizers/deepseek_v3).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "io/tokenizer.hpp"

namespace {
// Well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF), checked here
// independently of the tokenizer's own check.
bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        uint32_t cp = n == 1 ? b : b & (0x7F >> n);
        for (size_t k = 1; k < n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c >> 6) != 0x2) return false;
            cp = cp << 6 | (c & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

const ttlm::io::Tokenizer& deepseek() {
    static const ttlm::io::Tokenizer tokenizer = [] {
        const char* dir = std::getenv("TTLM_TOKENIZER");
        return ttlm::io::Tokenizer::from_file(dir ? dir : ".cache/tokenizers/deepseek_v3");
    }();
    return tokenizer;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const bool valid = valid_utf8(text);
    try {
        const auto ids = deepseek().encode(text, false);
        if (!valid) {
            std::fprintf(stderr, "invalid UTF-8 accepted\n");
            std::abort();
        }
        if (deepseek().decode(ids) != text) {
            std::fprintf(stderr, "decode(encode(text)) != text\n");
            std::abort();
        }
    } catch (const std::invalid_argument&) {
        if (valid) {
            std::fprintf(stderr, "valid UTF-8 refused\n");
            std::abort();
        }
    }
    return 0;
}
