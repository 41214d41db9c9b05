// UTF-8 and character-class helpers of the tokenizer (internal to src/io/tokenizer*.cpp).
//
// The tokenizer reproduces HuggingFace's Rust `tokenizers`, so "whitespace", "numeric" and "word
// character" here mean what Rust's char methods and the `regex` crate mean by them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ttlm::io::tokenizer_impl {

// Byte offset of the first byte that does not start a well-formed UTF-8 sequence, or npos.
size_t find_invalid_utf8(std::string_view bytes);

// Replaces each maximal ill-formed subsequence by U+FFFD, as Rust's String::from_utf8_lossy does.
std::string utf8_lossy(std::string_view bytes);

// Length of the UTF-8 sequence that `lead` starts (1 for a byte that starts none).
inline size_t utf8_length(unsigned char lead) { return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// Decodes the character at `pos` of valid UTF-8 and advances `pos` past it.
char32_t next_char(std::string_view text, size_t& pos);

void append_utf8(std::string& out, char32_t c);

// Unicode White_Space (Rust's char::is_whitespace, the regex crate's and Oniguruma's \s).
bool is_white_space(char32_t c);

// General category N* (Rust's char::is_numeric).
bool is_numeric(char32_t c);

// General category M*.
bool is_mark(char32_t c);

// The regex crate's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(char32_t c);

// Rust's char::to_lowercase of one character, appended as UTF-8.
void append_lowercase(std::string& out, char32_t c);

// GPT-2's byte-level alphabet: each byte is spelled as one printable character, so that every
// byte string is a string of vocabulary symbols.
const std::string& byte_level_char(unsigned char byte);  // UTF-8 of the character for `byte`
int byte_level_byte(char32_t c);                         // inverse: the byte, or -1 if `c` is not in the alphabet

}  // namespace ttlm::io::tokenizer_impl
