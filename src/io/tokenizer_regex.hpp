// Regular expressions of tokenizer.json, run by PCRE2 (UTF, UCP, JIT) with Oniguruma's meaning
// (internal).
//
// HuggingFace's Rust tokenizers compiles Split/Replace patterns with Oniguruma. PCRE2 reads the same
// syntax but a few escapes mean other things; the pattern is rewritten so they mean what
// Oniguruma means:
//   \s \S   White_Space (PCRE2 also counts U+180E)      -> \p{White_Space}, \P{White_Space}
//   \w \W   L, M, N, Pc (PCRE2: L, N and '_' only)      -> [\p{L}\p{M}\p{N}\p{Pc}], its complement
//   \h \H   hexadecimal digit (PCRE2: horizontal space) -> [0-9a-fA-F], its complement
//   \v      vertical tab (PCRE2: vertical space)        -> \x{0B}
//   \uHHHH  a code point (PCRE2: an error)              -> \x{HHHH}
// and ^ $ are line anchors (Oniguruma's syntax sets no single-line option). What has no PCRE2
// equivalent (nested classes, && class intersection, \W or \H inside a class) is rejected.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ttlm::io::tokenizer_impl {

class Regex {
   public:
    // `where` names the pattern in error messages ("tokenizer.json: pre_tokenizer.pattern.Regex").
    Regex(std::string_view pattern, std::string_view where);

    // Appends the [begin, end) byte ranges of the non-overlapping matches in `text` (valid UTF-8),
    // left to right. An empty match right where the previous match ended is skipped, as the onig
    // crate's find_iter does.
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& matches) const;

   private:
    struct Code;
    std::shared_ptr<const Code> code_;
};

// The Oniguruma-to-PCRE2 rewrite described above; exposed for tests.
std::string oniguruma_to_pcre2(std::string_view pattern, std::string_view where);

}  // namespace ttlm::io::tokenizer_impl
