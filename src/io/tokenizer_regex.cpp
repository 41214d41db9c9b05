#include "io/tokenizer_regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <optional>
#include <stdexcept>

#include "io/tokenizer_json.hpp"
#include "io/tokenizer_unicode.hpp"

namespace ttlm::io::tokenizer_impl {

namespace {

constexpr std::string_view kWordClass = "\\p{L}\\p{M}\\p{N}\\p{Pc}";
constexpr std::string_view kHexClass = "0-9a-fA-F";

// The members of a class, bracketed unless already inside a class.
void append_class(std::string& out, std::string_view members, bool in_class) {
    if (in_class) {
        out.append(members);
    } else {
        out.append("[").append(members).append("]");
    }
}

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof(buffer));
    return reinterpret_cast<const char*>(buffer);
}

// Per-thread matching state: match data and a JIT stack are not shareable between threads.
struct MatchState {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);

    MatchState() {
        if (!data || !jit_stack || !context) throw std::bad_alloc();
        pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
    ~MatchState() {
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_data_free(data);
    }
    MatchState(const MatchState&) = delete;
    MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
    thread_local MatchState state;
    return state;
}

}  // namespace

struct Regex::Code {
    pcre2_code* code = nullptr;
    std::string where;
    ~Code() { pcre2_code_free(code); }
};

std::string oniguruma_to_pcre2(std::string_view pattern, std::string_view where) {
    const auto unsupported = [&](std::string_view what) {
        throw_format_error(std::string(where) + ": " + std::string(what) + " (Oniguruma syntax) is not supported");
    };
    std::string out;
    out.reserve(pattern.size() + 16);
    bool in_class = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char e = pattern[++i];
            switch (e) {
                case 's':
                    out += "\\p{White_Space}";
                    break;
                case 'S':
                    out += "\\P{White_Space}";
                    break;
                case 'w':
                    append_class(out, kWordClass, in_class);
                    break;
                case 'W':
                    if (in_class) unsupported("\\W inside a character class");
                    out.append("[^").append(kWordClass).append("]");
                    break;
                case 'h':
                    append_class(out, kHexClass, in_class);
                    break;
                case 'H':
                    if (in_class) unsupported("\\H inside a character class");
                    out.append("[^").append(kHexClass).append("]");
                    break;
                case 'v':
                    out += "\\x{0B}";
                    break;
                case 'u': {
                    const std::string_view hex = pattern.substr(i + 1, 4);
                    bool is_hex = hex.size() == 4;
                    for (char h : hex) is_hex = is_hex && std::isxdigit(static_cast<unsigned char>(h));
                    if (!is_hex) unsupported("\\u without four hexadecimal digits");
                    out.append("\\x{").append(hex).append("}");
                    i += 4;
                    break;
                }
                default:
                    out += '\\';
                    out += e;
            }
            continue;
        }
        if (c == '[') {
            if (in_class) {
                if (pattern.substr(i, 2) == "[:") {  // POSIX bracket [:alpha:]
                    const size_t end = pattern.find(":]", i + 2);
                    if (end == std::string_view::npos) unsupported("an unterminated POSIX bracket");
                    out.append(pattern.substr(i, end + 2 - i));
                    i = end + 1;
                    continue;
                }
                unsupported("a nested character class");
            }
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal in both dialects.
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
            continue;
        }
        if (in_class && c == ']') in_class = false;
        if (in_class && c == '&' && i + 1 < pattern.size() && pattern[i + 1] == '&') {
            unsupported("character class intersection &&");
        }
        out += c;
    }
    return out;
}

Regex::Regex(std::string_view pattern, std::string_view where) {
    const std::string translated = oniguruma_to_pcre2(pattern, where);
    auto code = std::make_shared<Code>();
    code->where = std::string(where);
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
    pcre2_set_newline(context, PCRE2_NEWLINE_LF);  // Oniguruma's only newline
    code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, context);
    pcre2_compile_context_free(context);
    if (!code->code) {
        throw_format_error(std::string(where) + ": invalid regular expression \"" + std::string(pattern) +
                           "\": " + pcre2_message(error) + " (at offset " + std::to_string(offset) + " of \"" +
                           translated + "\")");
    }
    // Without JIT (not built in, or no executable memory) PCRE2's interpreter gives the same matches.
    pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);
    code_ = std::move(code);
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& matches) const {
    MatchState& state = match_state();
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t search_from = 0;
    std::optional<size_t> last_match_end;
    while (search_from <= text.size()) {
        const int rc =
            pcre2_match(code_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK, state.data, state.context);
        if (rc == PCRE2_ERROR_NOMATCH) return;
        if (rc < 0) {
            throw std::runtime_error(code_->where + ": regular expression failed on a " + std::to_string(text.size()) +
                                     "-byte input: " + pcre2_message(rc));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
        const size_t begin = ovector[0], end = ovector[1];
        if (begin == end && last_match_end == end) {
            if (search_from == text.size()) return;
            search_from += utf8_length(static_cast<unsigned char>(text[search_from]));
            continue;
        }
        matches.emplace_back(begin, end);
        search_from = end;
        last_match_end = end;
    }
}

}  // namespace ttlm::io::tokenizer_impl
