// The BPE model of tokenizer.json (internal): HuggingFace's models::bpe::BPE, merges applied by
// rank with the leftmost pair first, plus its options (unk_token, fuse_unk, byte_fallback,
// continuing_subword_prefix, end_of_word_suffix, ignore_merges).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/tokenizer_json.hpp"

namespace ttlm::io::tokenizer_impl {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// Token string -> id by open addressing, the strings packed in one buffer. Loading does three
// lookups per merge and merging one per pair, so this table is most of the time of both.
class TokenIdTable {
   public:
    void reserve(size_t tokens, size_t bytes);
    void insert_or_assign(std::string_view token, int32_t id);
    std::optional<int32_t> find(std::string_view token) const;

    size_t size() const { return entries_.size(); }
    // Entries in insertion order; views stay valid while the table is not modified.
    std::string_view token_at(size_t index) const {
        return {bytes_.data() + entries_[index].offset, entries_[index].length};
    }
    int32_t id_at(size_t index) const { return entries_[index].id; }

   private:
    struct Entry {
        size_t hash;
        uint32_t offset, length;
        int32_t id;
    };
    size_t slot_of(std::string_view token, size_t hash) const;  // its slot, or the empty slot it would take
    void rehash(size_t slot_count);

    std::string bytes_;
    std::vector<Entry> entries_;
    std::vector<uint32_t> slots_;  // entry index + 1, or 0 when empty; the size is a power of two
};

class BpeModel {
   public:
    // `model` is tokenizer.json's "model" object (type "BPE"); `tables` its vocab and merges when the
    // reader already extracted them, else they are read (and checked) from `model`.
    BpeModel(const JsonField& model, std::optional<BpeTables> tables);

    // Appends the ids of one pre-tokenized word (for byte-level models, already in the byte alphabet).
    void tokenize(std::string_view word, std::vector<int64_t>& ids) const;

    std::optional<int32_t> token_to_id(std::string_view token) const { return vocab_.find(token); }
    const TokenIdTable& vocab() const { return vocab_; }

   private:
    struct Merge {
        uint64_t pair = kNoPair;
        uint32_t rank = 0;
        int32_t merged_id = 0;
    };
    static constexpr uint64_t kNoPair = ~uint64_t{0};  // no pair of non-negative ids packs to this
    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }
    size_t merge_slot(uint64_t pair) const;
    const Merge* find_merge(int32_t left, int32_t right) const;

    void load_vocab(const JsonField& model, std::vector<std::pair<std::string, int64_t>> vocab);
    void load_merges(const JsonField& model, const std::vector<std::pair<std::string, std::string>>& merges);
    // HF's BPE::merge_word + Word::merge_all: the word's ids, uncached.
    void merge_word(std::string_view word, std::vector<int32_t>& ids) const;

    TokenIdTable vocab_;
    std::vector<Merge> merges_;  // open addressing by pair; the size is a power of two
    std::optional<std::string> unk_token_;
    std::string continuing_subword_prefix_;
    std::string end_of_word_suffix_;
    bool fuse_unk_ = false;
    bool byte_fallback_ = false;
    bool ignore_merges_ = false;
    std::array<int32_t, 256> byte_fallback_ids_{};  // id of "<0xXX>", or -1

    // Words seen before, and their ids: the same word always gives the same ids, so this only
    // saves time. Bounded, and filled only with short words, as HF's cache is.
    static constexpr size_t kCacheCapacity = 1 << 17;
    static constexpr size_t kMaxCachedWordBytes = 256;
    mutable std::shared_mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace ttlm::io::tokenizer_impl
