#include "models/engram/engram.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "io/safetensors.hpp"
#include "models/engram/kernels.hpp"
#include "ops/ops.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::engram {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

constexpr float kFloat32Eps = 1.1920929e-07f;  // the reference's RMSNorm eps (None -> finfo.eps)
constexpr float kConvNormEps = 1e-5f;

// splitmix64: a counter-based generator, so any row of a random table can be drawn on its own.
[[gnu::always_inline]] inline uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Uniform in [-bound, bound) from (seed, stream, index).
[[gnu::always_inline]] inline float uniform(uint64_t seed, uint64_t stream, uint64_t index, float bound) {
    uint64_t r = mix(seed ^ mix(stream * 0x100000001b3ull + index));
    return (static_cast<float>(r >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * bound;
}

// uniform() over `count` consecutive indices. Cloned for x86-64-v4, where GCC vectorises the
// 64-bit multiplies (AVX-512DQ), and picked when the program loads: the random default embedding
// table is generated on the fly at every lookup, so this is the lookup's cost.
__attribute__((target_clones("default", "arch=x86-64-v4"))) void uniform_run(uint64_t seed, uint64_t stream,
                                                                              uint64_t first, int64_t count,
                                                                              float bound, float* out) {
    for (int64_t j = 0; j < count; ++j) out[j] = uniform(seed, stream, first + static_cast<uint64_t>(j), bound);
}

Tensor random_tensor(Shape shape, uint64_t seed, uint64_t stream, float bound, float center = 0.0f) {
    Tensor t(std::move(shape));
    float* p = t.data<float>();
    const int64_t n = t.numel();
    ttlm::runtime::parallel_for(n, [&](int64_t b, int64_t e) {
        uniform_run(seed, stream, static_cast<uint64_t>(b), e - b, bound, p + b);
        if (center != 0.0f)
            for (int64_t i = b; i < e; ++i) p[i] += center;
    }, 1 << 14);
    return t;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Tensor load_f32(const io::SafetensorsFile& f, const std::string& name, const Shape& shape) {
    const auto& e = f.entry(name);
    if (e.dtype == "F32") return f.tensor(name, DType::F32, shape);
    Tensor t = f.tensor_f32(name);
    if (t.shape() != shape)
        throw std::invalid_argument(fmt::format("{}: tensor '{}': shape {}, expected {}", f.path(), name,
                                                ttl::shape_str(t.shape()), ttl::shape_str(shape)));
    return t;
}

// A [1, n] view of row `row` of a 2-D tensor (shares its storage).
Tensor row_view(const Tensor& t, int64_t row) {
    const int64_t n = t.dim(-1);
    auto keep = std::make_shared<Tensor>(t);
    float* p = static_cast<float*>(keep->mutable_raw()) + row * n;
    return Tensor::wrap(p, {1, n}, DType::F32, keep);
}

// x with dimension `dim` widened to `size` by zeros (the tile padding of the fused path's channels).
Tensor pad_channels(const Tensor& x, int64_t size, int dim) {
    const int64_t have = x.dim(dim);
    if (have == size) return x;
    Shape shape = x.shape();
    shape[static_cast<size_t>(dim)] = size;
    Tensor out(shape);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= x.dim(i);
    for (int i = dim + 1; i < x.ndim(); ++i) inner *= x.dim(i);
    for (int64_t o = 0; o < outer; ++o)
        std::memcpy(out.data<float>() + o * size * inner, x.data<float>() + o * have * inner,
                    static_cast<size_t>(have * inner) * sizeof(float));
    return out;
}

}  // namespace

EmbeddingTable EmbeddingTable::from_tensor(Tensor table) {
    if (table.ndim() != 2 || table.dtype() != DType::F32)
        throw std::invalid_argument(fmt::format("engram embedding table: expected an f32 [rows, dim] tensor, got {}",
                                                table.describe()));
    EmbeddingTable t;
    t.rows_ = table.dim(0);
    t.dim_ = table.dim(1);
    t.table_ = std::move(table);
    return t;
}

EmbeddingTable EmbeddingTable::random(int64_t rows, int64_t dim, uint64_t seed) {
    EmbeddingTable t;
    t.rows_ = rows;
    t.dim_ = dim;
    t.seed_ = seed;
    return t;
}

void EmbeddingTable::gather(const int64_t* ids, int64_t n, float* out) const {
    const int64_t d = dim_;
    for (int64_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= rows_)
            throw std::out_of_range(fmt::format("engram embedding: row {} (position {}) outside the table of {} rows", ids[i], i, rows_));
    ttlm::runtime::parallel_for(n, [&](int64_t b, int64_t e) {
        if (table_) {
            const float* base = table_->data<float>();
            for (int64_t i = b; i < e; ++i) std::memcpy(out + i * d, base + ids[i] * d, static_cast<size_t>(d) * sizeof(float));
        } else {
            const float bound = std::sqrt(3.0f);  // unit variance
            for (int64_t i = b; i < e; ++i) uniform_run(seed_, 1, static_cast<uint64_t>(ids[i] * d), d, bound, out + i * d);
        }
    }, 256);
}

EngramWeights EngramWeights::load(const io::SafetensorsFile& f, const EngramConfig& c, const LayerHashing& layer) {
    const int64_t H = c.hidden_size, E = c.embed_dim(), hc = c.hc_mult, K = c.kernel_size;
    int64_t rows = 0;
    for (int64_t p : layer.head_sizes) rows += p;
    EngramWeights w;
    w.embedding = EmbeddingTable::from_tensor(load_f32(f, "multi_head_embedding.embedding.weight", {rows, c.head_dim()}));
    if (f.contains("multi_head_embedding.offsets")) {
        Tensor off = f.tensor("multi_head_embedding.offsets");
        bool same = off.dtype() == DType::I64 && off.numel() == static_cast<int64_t>(layer.head_offsets.size());
        for (int64_t i = 0; same && i < off.numel(); ++i) same = off.data<int64_t>()[i] == layer.head_offsets[static_cast<size_t>(i)];
        if (!same)
            throw std::invalid_argument(fmt::format("{}: tensor 'multi_head_embedding.offsets' does not match the head "
                                                    "offsets of layer {} under this config (different vocab sizes, "
                                                    "layer ids or seed?)",
                                                    f.path(), layer.layer_id));
    }
    w.value_weight = load_f32(f, "value_proj.weight", {H, E});
    w.value_bias = load_f32(f, "value_proj.bias", {H});
    for (int64_t i = 0; i < hc; ++i) {
        w.key_weight.push_back(load_f32(f, fmt::format("key_projs.{}.weight", i), {H, E}));
        w.key_bias.push_back(load_f32(f, fmt::format("key_projs.{}.bias", i), {H}));
        w.norm1.push_back(load_f32(f, fmt::format("norm1.{}.weight", i), {H}));
        w.norm2.push_back(load_f32(f, fmt::format("norm2.{}.weight", i), {H}));
        w.conv_norm.push_back(load_f32(f, fmt::format("short_conv.norms.{}.weight", i), {H}));
    }
    w.conv_weight = load_f32(f, "short_conv.conv.weight", {hc * H, 1, K});
    return w;
}

EngramWeights EngramWeights::random(const EngramConfig& c, const LayerHashing& layer, uint64_t seed, bool random_norms) {
    const int64_t H = c.hidden_size, E = c.embed_dim(), hc = c.hc_mult, K = c.kernel_size;
    int64_t rows = 0;
    for (int64_t p : layer.head_sizes) rows += p;
    EngramWeights w;
    w.embedding = EmbeddingTable::random(rows, c.head_dim(), seed);
    const float lin = 1.0f / std::sqrt(static_cast<float>(E));  // nn.Linear: U(-1/sqrt(in), 1/sqrt(in))
    uint64_t stream = 100;
    auto norm = [&] { return random_norms ? random_tensor({H}, seed, stream++, 0.5f, 1.0f) : random_tensor({H}, seed, stream++, 0.0f, 1.0f); };
    w.value_weight = random_tensor({H, E}, seed, stream++, lin);
    w.value_bias = random_tensor({H}, seed, stream++, lin);
    for (int64_t i = 0; i < hc; ++i) {
        w.key_weight.push_back(random_tensor({H, E}, seed, stream++, lin));
        w.key_bias.push_back(random_tensor({H}, seed, stream++, lin));
        w.norm1.push_back(norm());
        w.norm2.push_back(norm());
        w.conv_norm.push_back(norm());
    }
    w.conv_weight = random_tensor({hc * H, 1, K}, seed, stream++, 1.0f / std::sqrt(static_cast<float>(K)));
    return w;
}

Engram::Engram(EngramConfig config, int layer_id, std::shared_ptr<const CompressedTokenizer> tokenizer,
               std::shared_ptr<const NgramHashMapping> hashing, EngramWeights weights)
    : config_(std::move(config)), layer_id_(layer_id), tokenizer_(std::move(tokenizer)), hashing_(std::move(hashing)),
      weights_(std::move(weights)) {
    config_.validate();
    hashing_->layer(layer_id_);  // throws for a layer id outside config.layer_ids
    const int64_t H = config_.hidden_size, hc = config_.hc_mult, K = config_.kernel_size;
    const int64_t Hp = (H + ttl::kTileDim - 1) / ttl::kTileDim * ttl::kTileDim;
    padded_hidden_ = Hp;
    std::vector<Tensor> ws(weights_.key_weight), bs(weights_.key_bias);
    ws.push_back(weights_.value_weight);
    bs.push_back(weights_.value_bias);
    stacked_weight_ = pad_channels(ops::concat(ws, 0).reshape({hc + 1, H, -1}), Hp, 1).reshape({(hc + 1) * Hp, -1});
    stacked_bias_ = pad_channels(ops::concat(bs, 0).reshape({hc + 1, H}), Hp, 1).reshape({(hc + 1) * Hp});
    stacked_weight_bf16_ = stacked_weight_.to(DType::BF16);
    for (int64_t h = 0; h < hc; ++h) {
        Tensor kq = ops::mul(weights_.norm1[static_cast<size_t>(h)], weights_.norm2[static_cast<size_t>(h)]).reshape({1, H});
        key_query_weight_.push_back(pad_channels(kq, Hp, 1));
    }
    // [hc*H, 1, K] -> tap-major [K, hc, Hp], each channel's taps times its RMSNorm weight
    Tensor norms = ops::concat(weights_.conv_norm, 0).reshape({1, hc, H});
    Tensor taps = pad_channels(ops::mul(ops::transpose(weights_.conv_weight.reshape({hc * H, K}), 0, 1).reshape({K, hc, H}),
                                        norms),
                               Hp, 2)
                      .reshape({K, hc * Hp});
    for (int64_t k = 0; k < K; ++k) conv_taps_.push_back(row_view(taps, k));
}

void Engram::hash_and_embed(const Tensor& input_ids, EngramStages& s, int64_t padded_len) const {
    const int64_t B = input_ids.dim(0), L = input_ids.dim(1);
    s.compressed_ids = tokenizer_->compress(input_ids);
    s.hash_ids = hashing_->hash_ids(s.compressed_ids, layer_id_);
    const LayerHashing& layer = hashing_->layer(layer_id_);
    const int64_t heads = static_cast<int64_t>(layer.head_offsets.size()), D = weights_.embedding.dim();
    std::vector<int64_t> rows(static_cast<size_t>(B * L * heads));
    const int64_t* hid = s.hash_ids.data<int64_t>();
    for (int64_t i = 0; i < B * L * heads; ++i) rows[static_cast<size_t>(i)] = hid[i] + layer.head_offsets[static_cast<size_t>(i % heads)];
    // Padded sequences (fused path) keep zero rows after each sequence's last token.
    Tensor emb({B, padded_len, heads * D});
    for (int64_t b = 0; b < B; ++b)
        weights_.embedding.gather(rows.data() + b * L * heads, L * heads, emb.data<float>() + b * padded_len * heads * D);
    s.embeddings = emb;
}

EngramStages Engram::forward(const Tensor& input_ids, const Tensor& hidden_states, const ForwardOptions& o) const {
    const int64_t hc = config_.hc_mult, H = config_.hidden_size;
    if (input_ids.ndim() != 2 || input_ids.dtype() != DType::I64)
        throw std::invalid_argument(fmt::format("engram: input_ids must be int64 [B, L], got {}", input_ids.describe()));
    const int64_t B = input_ids.dim(0), L = input_ids.dim(1);
    const Shape want{B, L, hc, H};
    if (hidden_states.shape() != want || hidden_states.dtype() != DType::F32)
        throw std::invalid_argument(fmt::format("engram: hidden_states is {}, expected f32{} for {} sequence(s) of {} tokens",
                                                hidden_states.describe(), ttl::shape_str(want), B, L));
    if (!o.fused && o.dtype != DType::F32)
        throw std::invalid_argument("engram: the unfused path runs in f32 only (--dtype bf16 needs the fused path)");
    StageTimes local;
    StageTimes& t = o.times ? *o.times : local;
    t = {};
    auto t0 = std::chrono::steady_clock::now();
    EngramStages s;
    const int64_t padded = o.fused ? (L + ttl::kTileDim - 1) / ttl::kTileDim * ttl::kTileDim : L;
    hash_and_embed(input_ids, s, padded);
    t.hash_embed_ms = ms_since(t0);
    if (o.fused)
        forward_fused(hidden_states, s, t, o);
    else
        forward_unfused(hidden_states, s, t);
    t.total_ms = ms_since(t0);
    return s;
}

void Engram::forward_unfused(const Tensor& hidden, EngramStages& s, StageTimes& t) const {
    const int64_t hc = config_.hc_mult, H = config_.hidden_size;
    const int64_t B = hidden.dim(0), L = hidden.dim(1);
    auto t0 = std::chrono::steady_clock::now();
    s.value = ops::linear(s.embeddings, weights_.value_weight, weights_.value_bias);
    std::vector<Tensor> keys;
    for (int64_t h = 0; h < hc; ++h) keys.push_back(ops::linear(s.embeddings, weights_.key_weight[static_cast<size_t>(h)], weights_.key_bias[static_cast<size_t>(h)]));
    t.gemm_ms = ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> gates;
    const float inv_sqrt_h = 1.0f / std::sqrt(static_cast<float>(H));
    for (int64_t h = 0; h < hc; ++h) {
        Tensor nk = ops::rms_norm(keys[static_cast<size_t>(h)], weights_.norm1[static_cast<size_t>(h)], kFloat32Eps);
        Tensor q = ops::slice(hidden, 2, h, h + 1).reshape({B, L, H});
        Tensor nq = ops::rms_norm(q, weights_.norm2[static_cast<size_t>(h)], kFloat32Eps);
        Tensor g = ops::mul(ops::sum(ops::mul(nk, nq), -1, true), inv_sqrt_h);  // [B, L, 1]
        // sign(g) * sqrt(max(|g|, 1e-6)): the op library has no sign(); compose it
        Tensor mag = ops::sqrt(ops::clamp(ops::abs(g), 1e-6f, INFINITY));
        Tensor sgn = ops::div(g, ops::clamp(ops::abs(g), 1e-38f, INFINITY));  // +-1, and 0 at g == 0
        gates.push_back(ops::sigmoid(ops::mul(mag, sgn)));
    }
    s.gates = ops::concat(gates, 2).reshape({B, L, hc, 1});
    s.gated = ops::mul(s.gates, s.value.reshape({B, L, 1, H}));
    t.gating_ms = ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> normed;
    for (int64_t h = 0; h < hc; ++h)
        normed.push_back(ops::rms_norm(ops::slice(s.gated, 2, h, h + 1).reshape({B, L, H}), weights_.conv_norm[static_cast<size_t>(h)], kConvNormEps));
    Tensor y = ops::conv1d_depthwise_causal(ops::concat(normed, 2), weights_.conv_weight, config_.max_ngram_size);
    s.conv = ops::silu(y).reshape({B, L, hc, H});
    s.output = ops::add(s.gated, s.conv);
    t.conv_ms = ms_since(t0);
}

void Engram::forward_fused(const Tensor& hidden, EngramStages& s, StageTimes& t, const ForwardOptions& o) const {
    const int64_t hc = config_.hc_mult, H = config_.hidden_size;
    const int64_t B = hidden.dim(0), L = hidden.dim(1);
    const int64_t Lp = s.embeddings.dim(1), N = B * Lp, E = s.embeddings.dim(2);
    const int64_t Hp = padded_hidden_;
    const DType dt = o.dtype;
    ttl::ExecOptions exec = ttl::default_options();

    auto t0 = std::chrono::steady_clock::now();
    // One GEMM for the 4 keys and the value: [N, E] x [E, (hc+1)*H].
    Tensor x2 = s.embeddings.reshape({N, E});
    Tensor kv = dt == DType::F32 ? ops::linear(x2, stacked_weight_, stacked_bias_)
                                 : ops::to_bf16(ops::linear(x2.to(DType::BF16), stacked_weight_bf16_, stacked_bias_));
    t.gemm_ms = ms_since(t0);

    // Hidden states, padded to Lp tokens per sequence and Hp channels per branch where needed.
    Tensor hs;
    if (Lp == L && Hp == H && dt == DType::F32) {
        hs = hidden.reshape({N, hc * H});
    } else {
        Tensor padded({B, Lp, hc, Hp}, DType::F32);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t h = 0; h < hc; ++h)
                    std::memcpy(padded.data<float>() + ((b * Lp + l) * hc + h) * Hp,
                                hidden.data<float>() + ((b * L + l) * hc + h) * H, static_cast<size_t>(H) * sizeof(float));
        hs = (dt == DType::F32 ? padded : padded.to(dt)).reshape({N, hc * Hp});
    }

    t0 = std::chrono::steady_clock::now();
    GatingInputs gi;
    gi.kv = &kv;
    gi.hidden = &hs;
    gi.key_query_weight = key_query_weight_;
    gi.branches = static_cast<int>(hc);
    gi.hidden_size = static_cast<int>(Hp);
    gi.norm_size = static_cast<int>(H);
    gi.eps = kFloat32Eps;
    gi.conv_norm_eps = kConvNormEps;
    Tensor gated = Tensor::empty({N, hc * Hp}, dt);
    std::vector<Tensor> gate_cols, conv_inverse_rms;
    for (int64_t h = 0; h < hc; ++h) {
        if (o.keep_stages) gate_cols.push_back(Tensor::empty({N, 1}));
        conv_inverse_rms.push_back(Tensor::empty({N, 1}));
    }
    gating_kernel(gi, gated, conv_inverse_rms, o.keep_stages ? &gate_cols : nullptr, exec);
    t.gating_ms = ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    ConvInputs ci;
    ci.gated = &gated;
    ci.inverse_rms = conv_inverse_rms;
    ci.batch = static_cast<int>(B);
    ci.seq_tiles = static_cast<int>(Lp / ttl::kTileDim);
    ci.taps = conv_taps_;
    ci.branches = static_cast<int>(hc);
    ci.hidden_size = static_cast<int>(Hp);
    ci.dilation = config_.max_ngram_size;
    ci.nodes_per_sequence = o.conv_nodes_per_sequence;
    Tensor output = Tensor::empty({N, hc * Hp}, dt);
    Tensor conv = o.keep_stages ? Tensor::empty({N, hc * Hp}, dt) : Tensor();
    conv_kernel(ci, output, o.keep_stages ? &conv : nullptr, exec);
    t.conv_ms = ms_since(t0);

    // Back to [B, L, blocks, H] f32, dropping the padding: x is [B * Lp, blocks * Hp].
    auto unpad = [&](const Tensor& x, int64_t blocks, int64_t h_in, int64_t h_out) {
        Tensor f = x.dtype() == DType::F32 ? x : x.to(DType::F32);
        if (Lp == L && h_in == h_out) return f.reshape({B, L, blocks, h_out});
        Tensor out({B, L, blocks, h_out});
        for (int64_t b = 0; b < B; ++b)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t k = 0; k < blocks; ++k)
                    std::memcpy(out.data<float>() + ((b * L + l) * blocks + k) * h_out,
                                f.data<float>() + ((b * Lp + l) * blocks + k) * h_in, static_cast<size_t>(h_out) * sizeof(float));
        return out;
    };
    s.embeddings = unpad(s.embeddings, 1, E, E).reshape({B, L, E});
    s.output = unpad(output, hc, Hp, H);
    s.gated = unpad(gated, hc, Hp, H);
    if (o.keep_stages) {
        s.conv = unpad(conv, hc, Hp, H);
        s.value = unpad(ops::slice(kv.reshape({N, hc + 1, Hp}), 1, hc, hc + 1).reshape({N, Hp}), 1, Hp, H).reshape({B, L, H});
        Tensor g({B, L, hc, 1});
        for (int64_t b = 0; b < B; ++b)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t h = 0; h < hc; ++h)
                    g.data<float>()[(b * L + l) * hc + h] = gate_cols[static_cast<size_t>(h)].data<float>()[b * Lp + l];
        s.gates = g;
    }
}

}  // namespace ttlm::engram
