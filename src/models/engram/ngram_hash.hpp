// Engram's n-gram hashing (shared/reference/engram.md section 3; NgramHashMapping in the reference):
// per layer, odd multipliers drawn with numpy's default_rng, one prime table size per hash head,
// and hash ids  (s0*m0 XOR s1*m1 [XOR s2*m2 ...]) mod prime  over compressed token ids, where s_k is
// the sequence shifted right by k and filled with the compressed pad id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/engram/config.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::engram {

class CompressedTokenizer;

// Everything hashing needs for one layer.
struct LayerHashing {
    int layer_id = 0;
    std::vector<int64_t> multipliers;  // max_ngram_size odd values 2r+1, one per shift
    std::vector<int64_t> head_sizes;   // primes, (max_ngram_size-1)*n_head_per_ngram: all 2-gram heads, then 3-gram...
    std::vector<int64_t>
        head_offsets;  // exclusive prefix sums of head_sizes: head h's first row in the embedding table
};

class NgramHashMapping {
   public:
    // `tokenizer_vocab_size` is the number of compressed ids (98627 for DeepSeek-V3) and
    // `compressed_pad_id` the compressed id of config.pad_id. Throws std::invalid_argument naming the
    // field for a bad config.
    NgramHashMapping(const EngramConfig& config, int64_t tokenizer_vocab_size, int64_t compressed_pad_id);
    NgramHashMapping(const EngramConfig& config, const CompressedTokenizer& tokenizer);

    const EngramConfig& config() const { return config_; }
    int64_t tokenizer_vocab_size() const { return tokenizer_vocab_size_; }
    int64_t compressed_pad_id() const { return compressed_pad_id_; }
    // In config.layer_ids order.
    const std::vector<LayerHashing>& layers() const { return layers_; }
    // Throws std::invalid_argument if layer_id is not one of config.layer_ids.
    const LayerHashing& layer(int layer_id) const;

    // compressed_ids: I64 [B, T] (negative ids allowed: they hash as the reference's numpy code does,
    // ids >= tokenizer_vocab_size are an error). Returns I64 [B, T, (max_ngram_size-1)*n_head_per_ngram].
    ttl::Tensor hash_ids(const ttl::Tensor& compressed_ids, int layer_id) const;

    // hash_config.json, also written by scripts/reference/engram_reference.py:
    //   { "format": "ttlm.engram.hash_config", "version": 1,
    //     "tokenizer_vocab_size": 98627, "pad_id": 2, "compressed_pad_id": 2, "seed": 0,
    //     "max_ngram_size": 3, "n_head_per_ngram": 8, "engram_vocab_size": [646400, 646400],
    //     "layers": [ { "layer_id": 1,
    //                   "multipliers": [m0, m1, m2],              // one per shift k = 0..max_ngram_size-1
    //                   "primes": [[8 primes of the 2-grams], [8 primes of the 3-grams]],
    //                   "offsets": [16 exclusive prefix sums of the flattened primes] }, ... ] }
    // Layers appear in config.layer_ids order.
    nlohmann::json hash_config_json() const;
    void write_hash_config_json(const std::string& path) const;

   private:
    EngramConfig config_;
    int64_t tokenizer_vocab_size_;
    int64_t compressed_pad_id_;
    std::vector<LayerHashing> layers_;
};

// Deterministic Miller-Rabin, exact for every 64-bit n.
bool is_prime(uint64_t n);

}  // namespace ttlm::engram
