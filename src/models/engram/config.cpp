#include "models/engram/config.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace ttlm::engram {

void EngramConfig::validate() const {
    auto positive = [](const char* field, int64_t v) {
        if (v <= 0) throw std::invalid_argument(fmt::format("engram config: {} must be positive, got {}", field, v));
    };
    positive("max_ngram_size", max_ngram_size);
    if (max_ngram_size < 2)
        throw std::invalid_argument(fmt::format("engram config: max_ngram_size must be at least 2, got {}", max_ngram_size));
    positive("n_embed_per_ngram", n_embed_per_ngram);
    positive("n_head_per_ngram", n_head_per_ngram);
    if (n_embed_per_ngram % n_head_per_ngram != 0)
        throw std::invalid_argument(fmt::format("engram config: n_embed_per_ngram ({}) must be a multiple of n_head_per_ngram ({})",
                                                n_embed_per_ngram, n_head_per_ngram));
    if (static_cast<int>(engram_vocab_size.size()) != max_ngram_size - 1)
        throw std::invalid_argument(fmt::format("engram config: engram_vocab_size has {} entries, expected max_ngram_size - 1 = {}",
                                                engram_vocab_size.size(), max_ngram_size - 1));
    for (int64_t v : engram_vocab_size) positive("engram_vocab_size", v);
    if (layer_ids.empty()) throw std::invalid_argument("engram config: layer_ids is empty");
    for (int id : layer_ids)
        if (id < 0) throw std::invalid_argument(fmt::format("engram config: layer id {} is negative", id));
    if (pad_id < 0) throw std::invalid_argument(fmt::format("engram config: pad_id must be >= 0, got {}", pad_id));
    positive("kernel_size", kernel_size);
    positive("hidden_size", hidden_size);
    positive("hc_mult", hc_mult);
}

}  // namespace ttlm::engram
