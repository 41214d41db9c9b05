#include "io/tokenizer_unicode.hpp"

#include <utf8proc.h>

#include <array>

namespace ttlm::io::tokenizer_impl {

namespace {

// Length of the well-formed UTF-8 sequence at `pos` (0 if none), and, through `bad_length`, how many
// bytes make up its maximal ill-formed prefix (Unicode's "maximal subpart", what one U+FFFD replaces).
size_t valid_sequence_length(std::string_view bytes, size_t pos, size_t& bad_length) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const unsigned char lead = byte(pos);
    bad_length = 1;
    if (lead < 0x80) return 1;
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;   // no overlong forms
        if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    for (size_t i = 1; i < length; ++i) {
        if (pos + i >= bytes.size()) return 0;
        const unsigned char next = byte(pos + i);
        const bool ok = i == 1 ? (next >= low && next <= high) : (next >= 0x80 && next <= 0xBF);
        if (!ok) return 0;
        bad_length = i + 1;
    }
    return length;
}

struct ByteLevelAlphabet {
    std::array<std::string, 256> char_of_byte;
    std::array<int, 324> byte_of_char{};  // every character of the alphabet is below U+0144

    ByteLevelAlphabet() {
        byte_of_char.fill(-1);
        int next_extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next_extra++);
            append_utf8(char_of_byte[b], c);
            byte_of_char[c] = b;
        }
    }
};

const ByteLevelAlphabet& byte_level_alphabet() {
    static const ByteLevelAlphabet alphabet;
    return alphabet;
}

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

}  // namespace

size_t find_invalid_utf8(std::string_view bytes) {
    size_t pos = 0;
    size_t bad_length = 0;
    while (pos < bytes.size()) {
        if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
            ++pos;
            continue;
        }
        const size_t length = valid_sequence_length(bytes, pos, bad_length);
        if (length == 0) return pos;
        pos += length;
    }
    return std::string_view::npos;
}

std::string utf8_lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t pos = 0;
    size_t bad_length = 0;
    while (pos < bytes.size()) {
        const size_t length = valid_sequence_length(bytes, pos, bad_length);
        if (length == 0) {
            out += "\xEF\xBF\xBD";
            pos += bad_length;
        } else {
            out.append(bytes.substr(pos, length));
            pos += length;
        }
    }
    return out;
}

char32_t next_char(std::string_view text, size_t& pos) {
    const auto byte = [&](size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[i])); };
    const char32_t lead = byte(pos);
    if (lead < 0x80) {
        pos += 1;
        return lead;
    }
    if (lead < 0xE0) {
        const char32_t c = ((lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
        pos += 2;
        return c;
    }
    if (lead < 0xF0) {
        const char32_t c = ((lead & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
        pos += 3;
        return c;
    }
    const char32_t c =
        ((lead & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) | ((byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
    pos += 4;
    return c;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

bool is_white_space(char32_t c) {
    if (c >= 0x09 && c <= 0x0D) return true;
    switch (c) {
        case 0x20:
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

bool is_numeric(char32_t c) {
    const auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

bool is_mark(char32_t c) {
    const auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

bool is_word_char(char32_t c) {
    switch (category(c)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_PC:
            return true;
        default:
            break;
    }
    // Join_Control, and the symbols that are Alphabetic through Other_Alphabetic (circled and
    // squared Latin letters).
    return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
           (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

void append_lowercase(std::string& out, char32_t c) {
    // U+0130 is the one character whose full (SpecialCasing) lowercase differs from the simple one.
    if (c == 0x130) {
        out += "i\xCC\x87";
        return;
    }
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

const std::string& byte_level_char(unsigned char byte) { return byte_level_alphabet().char_of_byte[byte]; }

int byte_level_byte(char32_t c) {
    const auto& table = byte_level_alphabet().byte_of_char;
    return c < table.size() ? table[c] : -1;
}

}  // namespace ttlm::io::tokenizer_impl
