// Engram's CompressedTokenizer (shared/reference/engram.md section 2): a surjective map from the
// backbone tokenizer's ids to "compressed" ids, merging tokens that differ only by case, accents,
// compatibility forms or surrounding whitespace. DeepSeek-V3's 128815 ids become 98627.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttl/tensor.hpp"

namespace ttlm::io {
class Tokenizer;
}

namespace ttlm::engram {

// The reference's normalizer (HF tokenizers' Sequence): NFKC, NFD, StripAccents (drop General_Category
// M: Mn, Mc, Me), Lowercase (per character, no final-sigma rule), Replace([ \t\r\n]+ -> " "),
// Replace(^ $ -> U+E000), Strip (Unicode White_Space, both ends), Replace(U+E000 -> " ").
// `text` must be valid UTF-8 (std::invalid_argument otherwise).
std::string normalize(std::string_view text);

// What the table is built from, for one original id: decode([id]) with special tokens kept, and the
// raw token string (id_to_token), which is the key only when `decoded` contains U+FFFD.
struct TokenStrings {
    std::string decoded;
    std::string raw;
};

class CompressedTokenizer {
   public:
    // Builds the table from the tokenizer (decode and id_to_token of every id 0..size()-1).
    explicit CompressedTokenizer(const io::Tokenizer& tokenizer);
    // The core: entry i describes original id i. Keys: normalize(decoded), or `decoded` itself when that
    // is empty, or `raw` when `decoded` holds U+FFFD; new ids in order of first appearance of each key.
    static CompressedTokenizer from_token_strings(std::span<const TokenStrings> tokens);
    // A table built before (say, saved to disk); checked to map onto exactly 0..max.
    static CompressedTokenizer from_lookup_table(std::vector<int64_t> lookup_table);

    // Number of compressed ids.
    int64_t size() const { return num_new_ids_; }
    // Number of original ids (the table's length).
    int64_t original_size() const { return static_cast<int64_t>(lookup_table_.size()); }
    // old id -> new id, over all original ids.
    std::span<const int64_t> lookup_table() const { return lookup_table_; }

    // Negative ids pass through unchanged (they mark padding in the reference); ids at or past
    // original_size() are an std::invalid_argument naming the id and its position.
    int64_t compress(int64_t id) const;
    std::vector<int64_t> compress(std::span<const int64_t> ids) const;
    // I64 tensor of any shape -> I64 tensor of the same shape.
    ttl::Tensor compress(const ttl::Tensor& ids) const;

   private:
    CompressedTokenizer(std::vector<int64_t> lookup_table, int64_t num_new_ids)
        : lookup_table_(std::move(lookup_table)), num_new_ids_(num_new_ids) {}
    void compress_into(std::span<const int64_t> ids, int64_t* out) const;

    std::vector<int64_t> lookup_table_;
    int64_t num_new_ids_ = 0;
};

}  // namespace ttlm::engram
