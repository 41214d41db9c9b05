// The Engram module (shared/reference/engram.md): compressed ids -> n-gram hashes -> multi-head
// embedding -> key/value projections -> gating -> ShortConv -> output, two ways:
//   unfused  op by op with the op library (the TT-NN analogue);
//   fused    the 4 key projections and the value projection as one stacked GEMM, then the ttl
//            gating kernel and the ttl pipe conv kernel (kernels.hpp).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/engram/compressed_tokenizer.hpp"
#include "models/engram/config.hpp"
#include "models/engram/ngram_hash.hpp"
#include "ttl/ttl.hpp"

namespace ttlm::io {
class SafetensorsFile;
}

namespace ttlm::engram {

// The multi-head embedding table: sum(primes) rows x head_dim. Either a tensor (usually a zero-copy
// view of an mmap'd safetensors file, so it may be larger than RAM) or, without weights, rows drawn
// on the fly from a seeded counter-based generator: deterministic, and no 2.6 GB to allocate.
class EmbeddingTable {
   public:
    static EmbeddingTable from_tensor(ttl::Tensor table);
    static EmbeddingTable random(int64_t rows, int64_t dim, uint64_t seed);
    int64_t rows() const { return rows_; }
    int64_t dim() const { return dim_; }
    // rows[i] = table[ids[i]] for flat row ids; out is [n, dim] f32.
    void gather(const int64_t* ids, int64_t n, float* out) const;
    const ttl::Tensor* tensor() const { return table_ ? &*table_ : nullptr; }

   private:
    std::optional<ttl::Tensor> table_;
    int64_t rows_ = 0, dim_ = 0;
    uint64_t seed_ = 0;
};

// The reference's state_dict, in fp32.
struct EngramWeights {
    EmbeddingTable embedding;           // multi_head_embedding.embedding.weight
    ttl::Tensor value_weight, value_bias;               // value_proj.{weight,bias}: [H, E], [H]
    std::vector<ttl::Tensor> key_weight, key_bias;      // key_projs.{i}.{weight,bias}
    std::vector<ttl::Tensor> norm1, norm2;              // norm1.{i}.weight, norm2.{i}.weight: [H]
    ttl::Tensor conv_weight;                            // short_conv.conv.weight: [hc*H, 1, K]
    std::vector<ttl::Tensor> conv_norm;                 // short_conv.norms.{i}.weight: [H]

    // Every tensor checked for presence, dtype and shape (errors name the file and the tensor).
    static EngramWeights load(const io::SafetensorsFile& file, const EngramConfig& config, const LayerHashing& layer);
    // nn.Linear / nn.Conv1d default init ranges, norms at 1 (or drawn around 1 with random_norms),
    // embedding rows uniform with unit variance; deterministic from `seed`.
    static EngramWeights random(const EngramConfig& config, const LayerHashing& layer, uint64_t seed,
                                bool random_norms = false);
};

// Every stage, as the reference names them (--dump writes each as .npy).
struct EngramStages {
    ttl::Tensor compressed_ids, hash_ids;  // [B, L] and [B, L, heads] int64
    ttl::Tensor embeddings;                // [B, L, E]
    ttl::Tensor value;                     // [B, L, H]
    ttl::Tensor gates;                     // [B, L, hc, 1]
    ttl::Tensor gated;                     // [B, L, hc, H]
    ttl::Tensor conv;                      // [B, L, hc, H] (ShortConv output, after SiLU)
    ttl::Tensor output;                    // [B, L, hc, H]
};

struct StageTimes {
    double hash_embed_ms = 0, gemm_ms = 0, gating_ms = 0, conv_ms = 0, total_ms = 0;
};

struct ForwardOptions {
    bool fused = true;
    ttl::DType dtype = ttl::DType::F32;  // bf16: fused path only (buffers and outputs in bf16)
    bool keep_stages = true;             // value, gates and conv are extra outputs of the fused path
    int conv_nodes_per_sequence = 0;     // 0: the conv kernel's default split
    StageTimes* times = nullptr;
};

class Engram {
   public:
    Engram(EngramConfig config, int layer_id, std::shared_ptr<const CompressedTokenizer> tokenizer,
           std::shared_ptr<const NgramHashMapping> hashing, EngramWeights weights);

    // input_ids: [B, L] original token ids (int64); hidden_states: [B, L, hc, H] f32.
    EngramStages forward(const ttl::Tensor& input_ids, const ttl::Tensor& hidden_states,
                         const ForwardOptions& options = {}) const;

    const EngramConfig& config() const { return config_; }
    const EngramWeights& weights() const { return weights_; }
    const CompressedTokenizer& tokenizer() const { return *tokenizer_; }
    const NgramHashMapping& hashing() const { return *hashing_; }
    int layer_id() const { return layer_id_; }

   private:
    void hash_and_embed(const ttl::Tensor& input_ids, EngramStages& s, int64_t padded_len) const;
    void forward_unfused(const ttl::Tensor& hidden_states, EngramStages& s, StageTimes& t) const;
    void forward_fused(const ttl::Tensor& hidden_states, EngramStages& s, StageTimes& t, const ForwardOptions& o) const;

    EngramConfig config_;
    int layer_id_;
    std::shared_ptr<const CompressedTokenizer> tokenizer_;
    std::shared_ptr<const NgramHashMapping> hashing_;
    EngramWeights weights_;
    // Fused path, prepared once, with H padded to a whole number of tiles (Hp) by zero channels:
    // the stacked [(hc+1)*Hp, E] projection, norm1*norm2 rows, and the conv taps times the conv
    // norms' weights, tap-major [K, hc*Hp].
    int64_t padded_hidden_ = 0;
    ttl::Tensor stacked_weight_, stacked_bias_;
    std::vector<ttl::Tensor> key_query_weight_, conv_taps_;
    ttl::Tensor stacked_weight_bf16_;
};

}  // namespace ttlm::engram
