#include "models/engram/ngram_hash.hpp"

#include <fstream>
#include <limits>
#include <stdexcept>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/engram/compressed_tokenizer.hpp"
#include "models/engram/numpy_random.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::engram {

namespace {

// The reference's PRIME_1: layer l draws its multipliers from default_rng(seed + 10007 * l).
constexpr uint64_t kLayerSeedStride = 10007;
// Keeps the prime search and the embedding-table offsets far from int64 overflow (2^48 rows of a
// 64-wide fp32 table would already be 64 PB).
constexpr int64_t kMaxEngramVocabSize = int64_t{1} << 48;

uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t n) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % n);
}

uint64_t pow_mod(uint64_t base, uint64_t exponent, uint64_t n) {
    uint64_t result = 1;
    base %= n;
    for (; exponent; exponent >>= 1) {
        if (exponent & 1) result = mul_mod(result, base, n);
        base = mul_mod(base, base, n);
    }
    return result;
}

// x mod p as numpy computes it for int64 (the sign of the divisor), with a Barrett reduction for the
// non-negative values hashing produces: a 64x64 multiply instead of a division.
class Modulus {
   public:
    explicit Modulus(int64_t p) : p_(static_cast<uint64_t>(p)), reciprocal_(UINT64_MAX / p_) {}

    int64_t floor_mod(int64_t x) const {
        if (x < 0) {
            const int64_t r = x % static_cast<int64_t>(p_);
            return r < 0 ? r + static_cast<int64_t>(p_) : r;
        }
        const uint64_t ux = static_cast<uint64_t>(x);
        // reciprocal = floor((2^64-1)/p) > 2^64/p - 1 - 1/p, so the estimated quotient is at most two
        // below the true one: two conditional subtractions, branch-free (their outcome is random).
        const uint64_t q = static_cast<uint64_t>((static_cast<unsigned __int128>(ux) * reciprocal_) >> 64);
        uint64_t r = ux - q * p_;
        r = r >= p_ ? r - p_ : r;
        r = r >= p_ ? r - p_ : r;
        return static_cast<int64_t>(r);
    }

   private:
    uint64_t p_;
    uint64_t reciprocal_;
};

// int64 multiply that wraps on overflow as numpy's does (only reachable with ids far outside the
// vocabulary, which hash_ids rejects; kept well-defined anyway).
int64_t wrapping_mul(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

void check_config(const EngramConfig& config, int64_t tokenizer_vocab_size, int64_t compressed_pad_id) {
    config.validate();
    for (size_t i = 0; i < config.engram_vocab_size.size(); ++i)
        if (config.engram_vocab_size[i] > kMaxEngramVocabSize)
            throw std::invalid_argument(
                fmt::format("engram config: engram_vocab_size[{}] = {} is too large (at most 2^48)", i,
                            config.engram_vocab_size[i]));
    std::unordered_set<int> layers;
    for (int id : config.layer_ids)
        if (!layers.insert(id).second)
            throw std::invalid_argument(fmt::format("engram config: layer_ids lists layer {} twice", id));
    if (tokenizer_vocab_size <= 0)
        throw std::invalid_argument(
            fmt::format("ngram hashing: tokenizer_vocab_size must be positive, got {}", tokenizer_vocab_size));
    if (compressed_pad_id < 0 || compressed_pad_id >= tokenizer_vocab_size)
        throw std::invalid_argument(fmt::format("ngram hashing: compressed_pad_id {} is outside [0, {})",
                                                compressed_pad_id, tokenizer_vocab_size));
}

std::vector<int64_t> draw_multipliers(const EngramConfig& config, int layer_id, int64_t tokenizer_vocab_size) {
    const int64_t max_multiplier = std::numeric_limits<int64_t>::max() / tokenizer_vocab_size;
    const int64_t half_bound = std::max<int64_t>(1, max_multiplier / 2);
    const uint64_t layer_offset = kLayerSeedStride * static_cast<uint64_t>(layer_id);
    if (config.seed > UINT64_MAX - layer_offset)
        throw std::invalid_argument(
            fmt::format("engram config: seed {} + 10007 * layer id {} does not fit in 64 bits", config.seed, layer_id));
    std::vector<int64_t> multipliers =
        default_rng(config.seed + layer_offset).integers(0, half_bound, static_cast<size_t>(config.max_ngram_size));
    for (auto& m : multipliers) m = 2 * m + 1;
    return multipliers;
}

}  // namespace

bool is_prime(uint64_t n) {
    if (n < 2) return false;
    static constexpr uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (uint64_t p : kBases)
        if (n % p == 0) return n == p;
    uint64_t d = n - 1;
    int s = 0;
    for (; (d & 1) == 0; d >>= 1) ++s;
    // These twelve bases decide primality for every n < 3.3e24.
    for (uint64_t a : kBases) {
        uint64_t x = pow_mod(a, d, n);
        if (x == 1 || x == n - 1) continue;
        bool composite = true;
        for (int r = 1; r < s && composite; ++r) {
            x = mul_mod(x, x, n);
            composite = x != n - 1;
        }
        if (composite) return false;
    }
    return true;
}

NgramHashMapping::NgramHashMapping(const EngramConfig& config, int64_t tokenizer_vocab_size, int64_t compressed_pad_id)
    : config_(config), tokenizer_vocab_size_(tokenizer_vocab_size), compressed_pad_id_(compressed_pad_id) {
    check_config(config_, tokenizer_vocab_size_, compressed_pad_id_);
    // Head sizes: the smallest primes above each order's vocabulary size, never reused across
    // heads, orders or layers (one `seen` set in layer_ids order).
    std::unordered_set<int64_t> seen;
    for (int layer_id : config_.layer_ids) {
        LayerHashing layer;
        layer.layer_id = layer_id;
        layer.multipliers = draw_multipliers(config_, layer_id, tokenizer_vocab_size_);
        int64_t offset = 0;
        for (int n = 2; n <= config_.max_ngram_size; ++n) {
            int64_t start = config_.engram_vocab_size[n - 2] - 1;
            for (int head = 0; head < config_.n_head_per_ngram; ++head) {
                int64_t candidate = start + 1;
                while (!is_prime(static_cast<uint64_t>(candidate)) || seen.count(candidate)) ++candidate;
                seen.insert(candidate);
                layer.head_sizes.push_back(candidate);
                layer.head_offsets.push_back(offset);
                offset += candidate;
                start = candidate;
            }
        }
        layers_.push_back(std::move(layer));
    }
}

NgramHashMapping::NgramHashMapping(const EngramConfig& config, const CompressedTokenizer& tokenizer)
    : NgramHashMapping(config, tokenizer.size(), tokenizer.compress(config.pad_id)) {}

const LayerHashing& NgramHashMapping::layer(int layer_id) const {
    for (const auto& layer : layers_)
        if (layer.layer_id == layer_id) return layer;
    throw std::invalid_argument(fmt::format("ngram hashing: layer {} is not one of the config's layer_ids [{}]",
                                            layer_id, fmt::join(config_.layer_ids, ", ")));
}

ttl::Tensor NgramHashMapping::hash_ids(const ttl::Tensor& compressed_ids, int layer_id) const {
    const LayerHashing& hashing = layer(layer_id);
    if (compressed_ids.dtype() != ttl::DType::I64 || compressed_ids.ndim() != 2)
        throw std::invalid_argument(
            fmt::format("hash_ids: compressed_ids must be i64[B, T], got {}", compressed_ids.describe()));
    const int64_t batch = compressed_ids.dim(0);
    const int64_t length = compressed_ids.dim(1);
    const int64_t* ids = compressed_ids.data<int64_t>();
    for (int64_t i = 0; i < batch * length; ++i)
        if (ids[i] >= tokenizer_vocab_size_)
            throw std::invalid_argument(
                fmt::format("hash_ids: compressed id {} at [{}, {}] is not below the compressed vocabulary size {} "
                            "(were the ids compressed with CompressedTokenizer::compress?)",
                            ids[i], i / length, i % length, tokenizer_vocab_size_));

    const int max_ngram = config_.max_ngram_size;
    const int heads_per_ngram = config_.n_head_per_ngram;
    const int64_t heads = config_.hash_heads();
    std::vector<Modulus> moduli(hashing.head_sizes.begin(), hashing.head_sizes.end());

    ttl::Tensor out = ttl::Tensor::empty({batch, length, heads}, ttl::DType::I64);
    int64_t* hashes = out.data<int64_t>();
    runtime::parallel_for(
        batch * length,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const int64_t t = i % length;
                int64_t* token_hashes = hashes + i * heads;
                int64_t mix = wrapping_mul(ids[i], hashing.multipliers[0]);
                for (int k = 1; k < max_ngram; ++k) {
                    // s_k: the token k positions back, or the pad id before the sequence starts.
                    const int64_t shifted = t >= k ? ids[i - k] : compressed_pad_id_;
                    mix ^= wrapping_mul(shifted, hashing.multipliers[k]);
                    const int first_head = (k - 1) * heads_per_ngram;  // the (k+1)-gram's heads
                    for (int j = 0; j < heads_per_ngram; ++j)
                        token_hashes[first_head + j] = moduli[first_head + j].floor_mod(mix);
                }
            }
        },
        /*grain=*/4096);
    return out;
}

nlohmann::json NgramHashMapping::hash_config_json() const {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& layer : layers_) {
        nlohmann::json primes = nlohmann::json::array();
        for (int n = 0; n + 1 < config_.max_ngram_size; ++n) {
            auto first = layer.head_sizes.begin() + static_cast<int64_t>(n) * config_.n_head_per_ngram;
            primes.push_back(std::vector<int64_t>(first, first + config_.n_head_per_ngram));
        }
        layers.push_back({{"layer_id", layer.layer_id},
                          {"multipliers", layer.multipliers},
                          {"primes", primes},
                          {"offsets", layer.head_offsets}});
    }
    return {{"format", "ttlm.engram.hash_config"},
            {"version", 1},
            {"tokenizer_vocab_size", tokenizer_vocab_size_},
            {"pad_id", config_.pad_id},
            {"compressed_pad_id", compressed_pad_id_},
            {"seed", config_.seed},
            {"max_ngram_size", config_.max_ngram_size},
            {"n_head_per_ngram", config_.n_head_per_ngram},
            {"engram_vocab_size", config_.engram_vocab_size},
            {"layers", layers}};
}

void NgramHashMapping::write_hash_config_json(const std::string& path) const {
    std::ofstream out(path);
    if (!out) throw std::runtime_error(fmt::format("{}: cannot open for writing", path));
    out << hash_config_json().dump(1) << '\n';
    if (!out) throw std::runtime_error(fmt::format("{}: write failed", path));
}

}  // namespace ttlm::engram
