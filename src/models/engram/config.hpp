// Engram's configuration, with the reference's defaults (engram_demo_v1.py; see
// shared/reference/engram.md). Field names follow the reference's EngramConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ttlm::engram {

struct EngramConfig {
    std::vector<int64_t> engram_vocab_size{129280 * 5, 129280 * 5};  // one per n-gram order 2..max_ngram_size
    int max_ngram_size = 3;
    int n_embed_per_ngram = 512;
    int n_head_per_ngram = 8;
    std::vector<int> layer_ids{1, 15};
    int64_t pad_id = 2;  // an original (uncompressed) token id
    uint64_t seed = 0;
    int kernel_size = 4;
    int hidden_size = 1024;
    int hc_mult = 4;

    int head_dim() const { return n_embed_per_ngram / n_head_per_ngram; }
    int hash_heads() const { return (max_ngram_size - 1) * n_head_per_ngram; }     // 16 by default
    int embed_dim() const { return (max_ngram_size - 1) * n_embed_per_ngram; }     // 1024 by default

    // Throws std::invalid_argument naming the field and what was expected.
    void validate() const;

    // A config.json as the reference script writes it (every field of EngramConfig; unknown
    // fields are an error). Errors name the file and the field. The result is validated.
    static EngramConfig from_json_file(const std::string& path);
};

}  // namespace ttlm::engram
