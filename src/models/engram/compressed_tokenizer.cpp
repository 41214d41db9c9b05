#include "models/engram/compressed_tokenizer.hpp"

#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>
#include <utf8proc.h>

#include "io/tokenizer.hpp"
#include "io/tokenizer_unicode.hpp"

namespace ttlm::engram {

namespace {

constexpr char32_t kSentinel = 0xE000;
constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Rust's char::is_whitespace (the Unicode White_Space property), which tokenizers' Strip uses.
bool is_white_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_mark(char32_t c) {
    const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return category == UTF8PROC_CATEGORY_MN || category == UTF8PROC_CATEGORY_MC || category == UTF8PROC_CATEGORY_ME;
}

// NFD(NFKC(x)) == NFKD(x): NFKC composes NFKD(x) into a canonically equivalent string, and NFD is
// the same for canonically equivalent strings. One decomposition pass therefore does both steps.
std::u32string nfkd(std::string_view text) {
    const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    const auto length = static_cast<utf8proc_ssize_t>(text.size());
    const int options = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE;
    std::u32string out(text.size() + 8, U'\0');
    for (;;) {
        const utf8proc_ssize_t n =
            utf8proc_decompose(bytes, length, reinterpret_cast<utf8proc_int32_t*>(out.data()),
                               static_cast<utf8proc_ssize_t>(out.size()), utf8proc_option_t(options));
        if (n < 0)
            throw std::invalid_argument(fmt::format("normalize: invalid UTF-8 in {:?}: {}", text, utf8proc_errmsg(n)));
        if (static_cast<size_t>(n) <= out.size()) {
            out.resize(static_cast<size_t>(n));
            return out;
        }
        out.resize(static_cast<size_t>(n));
    }
}

}  // namespace

std::string normalize(std::string_view text) {
    // StripAccents, Lowercase and the whitespace-run replacement, in one pass. utf8proc_tolower is
    // Unicode's simple lowercase mapping, which equals Rust's char::to_lowercase except for U+0130
    // ("i" + U+0307), and NFKD has already decomposed U+0130 into "I" + U+0307.
    std::u32string chars;
    for (char32_t c : nfkd(text)) {
        if (is_mark(c)) continue;
        c = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
        if (c == U' ' || c == U'\t' || c == U'\r' || c == U'\n') {
            // Every run character becomes a space, so a space at the end means a run is in progress.
            if (!chars.empty() && chars.back() == U' ') continue;
            c = U' ';
        }
        chars.push_back(c);
    }
    // Replace(^ $ -> U+E000) then Strip: a lone space survives the strip.
    if (chars == U" ") return " ";
    size_t begin = 0;
    size_t end = chars.size();
    while (begin < end && is_white_space(chars[begin])) ++begin;
    while (end > begin && is_white_space(chars[end - 1])) --end;
    std::string out;
    out.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) io::tokenizer_impl::append_utf8(out, chars[i] == kSentinel ? U' ' : chars[i]);
    return out;
}

CompressedTokenizer CompressedTokenizer::from_token_strings(std::span<const TokenStrings> tokens) {
    std::unordered_map<std::string, int64_t> key_to_new_id;
    key_to_new_id.reserve(tokens.size());
    std::vector<int64_t> lookup(tokens.size());
    for (size_t id = 0; id < tokens.size(); ++id) {
        const TokenStrings& token = tokens[id];
        std::string key;
        if (token.decoded.find(kReplacementUtf8) != std::string::npos) {
            key = token.raw;
        } else {
            key = normalize(token.decoded);
            if (key.empty()) key = token.decoded;
        }
        const auto next_id = static_cast<int64_t>(key_to_new_id.size());
        lookup[id] = key_to_new_id.try_emplace(std::move(key), next_id).first->second;
    }
    const auto num_new_ids = static_cast<int64_t>(key_to_new_id.size());
    return CompressedTokenizer(std::move(lookup), num_new_ids);
}

CompressedTokenizer::CompressedTokenizer(const io::Tokenizer& tokenizer) {
    std::vector<TokenStrings> tokens(static_cast<size_t>(tokenizer.size()));
    for (int64_t id = 0; id < tokenizer.size(); ++id) {
        TokenStrings& token = tokens[static_cast<size_t>(id)];
        const int64_t ids[] = {id};
        try {
            token.decoded = tokenizer.decode(ids, /*skip_special_tokens=*/false);
        } catch (const std::out_of_range&) {
            // An id with no token: HF's decode skips it and gives "", so does the reference.
            continue;
        }
        if (token.decoded.find(kReplacementUtf8) != std::string::npos) token.raw = tokenizer.id_to_token(id);
    }
    *this = from_token_strings(tokens);
}

CompressedTokenizer CompressedTokenizer::from_lookup_table(std::vector<int64_t> lookup_table) {
    // New ids appear in order of first appearance, so each entry is at most one past the largest so far.
    int64_t num_new_ids = 0;
    for (size_t id = 0; id < lookup_table.size(); ++id) {
        const int64_t v = lookup_table[id];
        if (v < 0 || v > num_new_ids)
            throw std::invalid_argument(fmt::format(
                "compressed tokenizer lookup table: entry {} is {}, expected a value in [0, {}] (new ids are numbered "
                "in order of first appearance)",
                id, v, num_new_ids));
        if (v == num_new_ids) ++num_new_ids;
    }
    return CompressedTokenizer(std::move(lookup_table), num_new_ids);
}

int64_t CompressedTokenizer::compress(int64_t id) const {
    if (id < 0) return id;
    if (id >= original_size())
        throw std::invalid_argument(
            fmt::format("compress: token id {} is not below the tokenizer's size {}", id, original_size()));
    return lookup_table_[static_cast<size_t>(id)];
}

void CompressedTokenizer::compress_into(std::span<const int64_t> ids, int64_t* out) const {
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] >= original_size())
            throw std::invalid_argument(
                fmt::format("compress: token id {} at position {} is not below the tokenizer's size {}", ids[i], i,
                            original_size()));
        out[i] = ids[i] < 0 ? ids[i] : lookup_table_[static_cast<size_t>(ids[i])];
    }
}

std::vector<int64_t> CompressedTokenizer::compress(std::span<const int64_t> ids) const {
    std::vector<int64_t> out(ids.size());
    compress_into(ids, out.data());
    return out;
}

ttl::Tensor CompressedTokenizer::compress(const ttl::Tensor& ids) const {
    if (ids.dtype() != ttl::DType::I64)
        throw std::invalid_argument(fmt::format("compress: token ids must be an i64 tensor, got {}", ids.describe()));
    ttl::Tensor out = ttl::Tensor::empty(ids.shape(), ttl::DType::I64);
    compress_into(ids.span<int64_t>(), out.data<int64_t>());
    return out;
}

}  // namespace ttlm::engram
