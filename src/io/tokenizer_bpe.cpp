#include "io/tokenizer_bpe.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "io/tokenizer_unicode.hpp"

namespace ttlm::io::tokenizer_impl {

namespace {

// One symbol of a word being merged: a doubly linked list over a vector, as in HF's Word.
struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    uint32_t length;  // bytes of the word it covers; 0 once merged into its left neighbour
};

// A pair waiting to be merged; the lowest rank goes first, then the leftmost position.
struct Candidate {
    uint32_t rank;
    uint32_t position;
    int32_t merged_id;
    bool operator<(const Candidate& other) const {  // std heap order: "less urgent than"
        return rank != other.rank ? rank > other.rank : position > other.position;
    }
};

void add_symbol(std::vector<Symbol>& symbols, int32_t id, size_t length) {
    const auto index = static_cast<int32_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, static_cast<uint32_t>(length)});
}

}  // namespace

void TokenIdTable::reserve(size_t tokens, size_t bytes) {
    entries_.reserve(tokens);
    bytes_.reserve(bytes);
    if (slots_.size() < 2 * tokens) rehash(std::bit_ceil(2 * tokens));
}

size_t TokenIdTable::slot_of(std::string_view token, size_t hash) const {
    const size_t mask = slots_.size() - 1;
    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
        const uint32_t index = slots_[slot];
        if (index == 0) return slot;
        const Entry& entry = entries_[index - 1];
        if (entry.hash == hash && token_at(index - 1) == token) return slot;
    }
}

void TokenIdTable::rehash(size_t slot_count) {
    slots_.assign(slot_count, 0);
    for (size_t i = 0; i < entries_.size(); ++i) {
        slots_[slot_of(token_at(i), entries_[i].hash)] = static_cast<uint32_t>(i + 1);
    }
}

void TokenIdTable::insert_or_assign(std::string_view token, int32_t id) {
    if (2 * (entries_.size() + 1) > slots_.size()) rehash(std::max<size_t>(64, 2 * slots_.size()));
    const size_t hash = StringHash{}(token);
    const size_t slot = slot_of(token, hash);
    if (slots_[slot] != 0) {
        entries_[slots_[slot] - 1].id = id;
        return;
    }
    entries_.push_back({hash, static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(token.size()), id});
    bytes_.append(token);
    slots_[slot] = static_cast<uint32_t>(entries_.size());
}

std::optional<int32_t> TokenIdTable::find(std::string_view token) const {
    if (slots_.empty()) return std::nullopt;
    const uint32_t index = slots_[slot_of(token, StringHash{}(token))];
    if (index == 0) return std::nullopt;
    return entries_[index - 1].id;
}

namespace {

// model.vocab and model.merges read from the JSON tree, checking every entry.
BpeTables read_tables(const JsonField& model) {
    BpeTables tables;
    const JsonField vocab = model.at("vocab");
    if (!vocab.value().is_object()) vocab.fail("an object mapping token strings to ids");
    tables.vocab.reserve(vocab.value().size());
    for (const auto& [token, id] : vocab.value().items()) {
        tables.vocab.emplace_back(token, JsonField(id, vocab.file(), "model.vocab[\"" + token + "\"]").as_int());
    }
    const JsonField merges = model.at("merges");
    tables.merges.reserve(merges.array_size());
    for (size_t i = 0; i < merges.array_size(); ++i) {
        const JsonField entry = merges.at(i);
        if (entry.value().is_string()) {
            // Files written before tokenizers 0.20: "left right", plus merges.txt's "#version" header.
            const std::string line = entry.as_string();
            if (line.starts_with("#version")) continue;
            const size_t space = line.find(' ');
            if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
                entry.fail("\"left right\" (two tokens separated by one space)");
            }
            tables.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
        } else if (entry.value().is_array() && entry.array_size() == 2) {
            tables.merges.emplace_back(entry.at(0).as_string(), entry.at(1).as_string());
        } else {
            entry.fail("a \"left right\" string or a [left, right] pair of strings");
        }
    }
    return tables;
}

}  // namespace

BpeModel::BpeModel(const JsonField& model, std::optional<BpeTables> tables) {
    if (auto dropout = model.find("dropout")) {
        const double p = dropout->as_number();
        if (p < 0.0 || p > 1.0) dropout->fail("a probability in [0, 1]");
        if (p > 0.0)
            dropout->fail("null or 0 (BPE dropout samples merges at random; ttlm tokenizes deterministically)");
    }
    unk_token_ = model.optional_string("unk_token");
    continuing_subword_prefix_ = model.optional_string("continuing_subword_prefix").value_or("");
    end_of_word_suffix_ = model.optional_string("end_of_word_suffix").value_or("");
    fuse_unk_ = model.bool_or("fuse_unk", false);
    byte_fallback_ = model.bool_or("byte_fallback", false);
    ignore_merges_ = model.bool_or("ignore_merges", false);
    if (!tables) tables = read_tables(model);
    load_vocab(model, std::move(tables->vocab));
    load_merges(model, tables->merges);

    byte_fallback_ids_.fill(-1);
    if (byte_fallback_) {
        for (int byte = 0; byte < 256; ++byte) {
            char name[8];
            std::snprintf(name, sizeof(name), "<0x%02X>", byte);
            if (auto id = token_to_id(name)) byte_fallback_ids_[byte] = *id;
        }
    }
}

void BpeModel::load_vocab(const JsonField& model, std::vector<std::pair<std::string, int64_t>> vocab) {
    size_t bytes = 0;
    for (const auto& [token, id] : vocab) bytes += token.size();
    vocab_.reserve(vocab.size(), bytes);
    for (const auto& [token, id] : vocab) {
        if (id < 0 || id > INT32_MAX) {
            throw_format_error(model.file() + ": model.vocab[\"" + token + "\"]: expected an id in [0, 2^31), got " +
                               std::to_string(id));
        }
        vocab_.insert_or_assign(token, static_cast<int32_t>(id));  // a repeated key keeps its last id, as in JSON
    }
    std::vector<std::pair<int32_t, size_t>> ids;  // (id, entry)
    ids.reserve(vocab_.size());
    for (size_t i = 0; i < vocab_.size(); ++i) ids.emplace_back(vocab_.id_at(i), i);
    std::sort(ids.begin(), ids.end());
    for (size_t i = 1; i < ids.size(); ++i) {
        if (ids[i].first != ids[i - 1].first) continue;
        throw_format_error(model.file() + ": model.vocab: id " + std::to_string(ids[i].first) + " is given to both \"" +
                           std::string(vocab_.token_at(ids[i - 1].second)) + "\" and \"" +
                           std::string(vocab_.token_at(ids[i].second)) + "\"");
    }
}

void BpeModel::load_merges(const JsonField& model, const std::vector<std::pair<std::string, std::string>>& merges) {
    merges_.assign(std::bit_ceil(std::max<size_t>(64, 2 * merges.size())), Merge{});
    std::string merged;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string& left = merges[rank].first;  // named, not bound: clang before 16 cannot capture a structured binding
        const std::string& right = merges[rank].second;
        const auto fail = [&](const std::string& problem) {
            throw_format_error(model.file() + ": model.merges: merge \"" + left + " " + right + "\": " + problem);
        };
        const auto id_of = [&](const std::string& token) {
            auto id = token_to_id(token);
            if (!id) fail("\"" + token + "\" is not in model.vocab");
            return *id;
        };
        const int32_t left_id = id_of(left);
        const int32_t right_id = id_of(right);
        if (right.size() < continuing_subword_prefix_.size())
            fail("the right token is shorter than continuing_subword_prefix");
        merged = left;
        merged.append(right, continuing_subword_prefix_.size());
        // A pair listed twice keeps its last rank, as HF's HashMap collect does.
        const uint64_t pair = pair_key(left_id, right_id);
        merges_[merge_slot(pair)] = Merge{pair, static_cast<uint32_t>(rank), id_of(merged)};
    }
}

size_t BpeModel::merge_slot(uint64_t pair) const {
    const size_t mask = merges_.size() - 1;
    for (size_t slot = (pair * 0x9E3779B97F4A7C15ull) >> 20 & mask;; slot = (slot + 1) & mask) {
        if (merges_[slot].pair == pair || merges_[slot].pair == kNoPair) return slot;
    }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
    const Merge& merge = merges_[merge_slot(pair_key(left, right))];
    return merge.pair == kNoPair ? nullptr : &merge;
}

void BpeModel::tokenize(std::string_view word, std::vector<int64_t>& ids) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        if (auto id = token_to_id(word)) {
            ids.push_back(*id);
            return;
        }
    }
    const bool cacheable = word.size() <= kMaxCachedWordBytes;
    if (cacheable) {
        std::shared_lock lock(cache_mutex_);
        if (auto it = cache_.find(word); it != cache_.end()) {
            ids.insert(ids.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int32_t> word_ids;
    merge_word(word, word_ids);
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    if (cacheable) {
        std::unique_lock lock(cache_mutex_);
        if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::move(word_ids));
    }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Candidate> queue;
    thread_local std::string decorated;
    symbols.clear();
    queue.clear();

    // Characters not in the vocabulary become unk (runs of them one unk with fuse_unk); without an
    // unk token they are dropped, exactly as HF drops them.
    std::optional<std::pair<int32_t, size_t>> pending_unk;
    const auto unk_id = [&] {
        auto id = token_to_id(*unk_token_);
        if (!id) throw std::runtime_error("BPE unk_token \"" + *unk_token_ + "\" is not in the vocabulary");
        return *id;
    };
    for (size_t pos = 0; pos < word.size();) {
        const size_t start = pos;
        pos += utf8_length(static_cast<unsigned char>(word[pos]));
        std::string_view symbol = word.substr(start, pos - start);
        const size_t byte_length = symbol.size();
        if ((start > 0 && !continuing_subword_prefix_.empty()) ||
            (pos == word.size() && !end_of_word_suffix_.empty())) {
            decorated.assign(start > 0 ? continuing_subword_prefix_ : "");
            decorated += symbol;
            if (pos == word.size()) decorated += end_of_word_suffix_;
            symbol = decorated;
        }
        if (auto id = token_to_id(symbol)) {
            if (pending_unk) {
                add_symbol(symbols, pending_unk->first, pending_unk->second);
                pending_unk.reset();
            }
            add_symbol(symbols, *id, byte_length);
            continue;
        }
        if (byte_fallback_) {
            const bool all_bytes = std::all_of(symbol.begin(), symbol.end(), [&](char b) {
                return byte_fallback_ids_[static_cast<unsigned char>(b)] >= 0;
            });
            if (all_bytes) {
                // HF leaves a pending unk in place here, so it lands after these bytes.
                for (char b : symbol) add_symbol(symbols, byte_fallback_ids_[static_cast<unsigned char>(b)], 1);
                continue;
            }
        }
        if (unk_token_) {
            if (pending_unk && fuse_unk_) {
                pending_unk->second += byte_length;
            } else {
                if (pending_unk) add_symbol(symbols, pending_unk->first, pending_unk->second);
                pending_unk.emplace(unk_id(), byte_length);
            }
        }
    }
    if (pending_unk) add_symbol(symbols, pending_unk->first, pending_unk->second);

    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        if (const Merge* merge = find_merge(symbols[i].id, symbols[i + 1].id)) {
            queue.push_back({merge->rank, static_cast<uint32_t>(i), merge->merged_id});
        }
    }
    std::make_heap(queue.begin(), queue.end());
    while (!queue.empty()) {
        std::pop_heap(queue.begin(), queue.end());
        const Candidate top = queue.back();
        queue.pop_back();
        Symbol& current = symbols[top.position];
        if (current.length == 0 || current.next < 0) continue;
        const Symbol right = symbols[current.next];
        // Skip stale entries: the pair at this position changed since it was queued.
        const Merge* merge = find_merge(current.id, right.id);
        if (!merge || merge->merged_id != top.merged_id) continue;

        symbols[current.next].length = 0;
        current.id = top.merged_id;
        current.length += right.length;
        current.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = static_cast<int32_t>(top.position);

        if (current.prev >= 0) {
            if (const Merge* m = find_merge(symbols[current.prev].id, current.id)) {
                queue.push_back({m->rank, static_cast<uint32_t>(current.prev), m->merged_id});
                std::push_heap(queue.begin(), queue.end());
            }
        }
        if (current.next >= 0) {
            if (const Merge* m = find_merge(current.id, symbols[current.next].id)) {
                queue.push_back({m->rank, top.position, m->merged_id});
                std::push_heap(queue.begin(), queue.end());
            }
        }
    }
    for (const Symbol& symbol : symbols) {
        if (symbol.length != 0) ids.push_back(symbol.id);
    }
}

}  // namespace ttlm::io::tokenizer_impl
