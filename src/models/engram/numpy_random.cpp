#include "models/engram/numpy_random.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace ttlm::engram {

namespace {

// SeedSequence's hash constants (bit_generator.pyx).
constexpr uint32_t kInitA = 0x43b0d7e5;
constexpr uint32_t kMultA = 0x931e8875;
constexpr uint32_t kInitB = 0x8b51f9dd;
constexpr uint32_t kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd;
constexpr uint32_t kMixMultR = 0x4973f715;
constexpr int kXShift = 16;

uint32_t hashmix(uint32_t value, uint32_t& hash_const) {
    value ^= hash_const;
    hash_const *= kMultA;
    value *= hash_const;
    value ^= value >> kXShift;
    return value;
}

uint32_t mix(uint32_t x, uint32_t y) {
    uint32_t result = kMixMultL * x - kMixMultR * y;
    result ^= result >> kXShift;
    return result;
}

std::vector<uint32_t> seed_words(uint64_t seed) {
    std::vector<uint32_t> words{static_cast<uint32_t>(seed)};
    if (seed >> 32) words.push_back(static_cast<uint32_t>(seed >> 32));
    return words;
}

constexpr unsigned __int128 uint128(uint64_t high, uint64_t low) {
    return (static_cast<unsigned __int128>(high) << 64) | low;
}

constexpr unsigned __int128 kPcgMultiplier = uint128(2549297995355413924ULL, 4865540595714422341ULL);

// Lemire's nearly-divisionless bounded draw in [0, range]; range < 0xFFFFFFFF
// (buffered_bounded_lemire_uint32 in distributions.c).
uint32_t bounded_lemire_uint32(Pcg64& bits, uint32_t range) {
    const uint32_t range_excl = range + 1;
    uint64_t m = static_cast<uint64_t>(bits.next_uint32()) * range_excl;
    uint32_t leftover = static_cast<uint32_t>(m);
    if (leftover < range_excl) {
        const uint32_t threshold = (UINT32_MAX - range) % range_excl;
        while (leftover < threshold) {
            m = static_cast<uint64_t>(bits.next_uint32()) * range_excl;
            leftover = static_cast<uint32_t>(m);
        }
    }
    return static_cast<uint32_t>(m >> 32);
}

// The same in 64 bits; range < 0xFFFFFFFFFFFFFFFF (bounded_lemire_uint64).
uint64_t bounded_lemire_uint64(Pcg64& bits, uint64_t range) {
    const uint64_t range_excl = range + 1;
    unsigned __int128 m = static_cast<unsigned __int128>(bits.next_uint64()) * range_excl;
    uint64_t leftover = static_cast<uint64_t>(m);
    if (leftover < range_excl) {
        const uint64_t threshold = (UINT64_MAX - range) % range_excl;
        while (leftover < threshold) {
            m = static_cast<unsigned __int128>(bits.next_uint64()) * range_excl;
            leftover = static_cast<uint64_t>(m);
        }
    }
    return static_cast<uint64_t>(m >> 64);
}

}  // namespace

SeedSequence::SeedSequence(uint64_t seed) : SeedSequence(seed_words(seed)) {}

SeedSequence::SeedSequence(std::span<const uint32_t> entropy) {
    // mix_entropy: hash the entropy into the pool, then mix every pool word into every other one
    // so late words affect early ones, then fold in any entropy beyond the pool size.
    uint32_t hash_const = kInitA;
    for (size_t i = 0; i < pool_.size(); ++i) pool_[i] = hashmix(i < entropy.size() ? entropy[i] : 0, hash_const);
    for (size_t src = 0; src < pool_.size(); ++src)
        for (size_t dst = 0; dst < pool_.size(); ++dst)
            if (src != dst) pool_[dst] = mix(pool_[dst], hashmix(pool_[src], hash_const));
    for (size_t src = pool_.size(); src < entropy.size(); ++src)
        for (size_t dst = 0; dst < pool_.size(); ++dst) pool_[dst] = mix(pool_[dst], hashmix(entropy[src], hash_const));
}

std::vector<uint32_t> SeedSequence::generate_state_u32(size_t n_words) const {
    std::vector<uint32_t> state(n_words);
    uint32_t hash_const = kInitB;
    for (size_t i = 0; i < n_words; ++i) {
        uint32_t value = pool_[i % pool_.size()];
        value ^= hash_const;
        hash_const *= kMultB;
        value *= hash_const;
        value ^= value >> kXShift;
        state[i] = value;
    }
    return state;
}

std::vector<uint64_t> SeedSequence::generate_state_u64(size_t n_words) const {
    // numpy views the uint32 words as little-endian uint64 pairs.
    std::vector<uint32_t> words = generate_state_u32(2 * n_words);
    std::vector<uint64_t> state(n_words);
    for (size_t i = 0; i < n_words; ++i) state[i] = words[2 * i] | (static_cast<uint64_t>(words[2 * i + 1]) << 32);
    return state;
}

Pcg64::Pcg64(const SeedSequence& seed_sequence) {
    // PCG64.__init__: generate_state(4, uint64) gives (seed high, seed low, increment high, increment
    // low), then pcg64_srandom_r: state = 0, inc = 2*initseq + 1, step, state += initstate, step.
    const std::vector<uint64_t> words = seed_sequence.generate_state_u64(4);
    const unsigned __int128 initial_state = uint128(words[0], words[1]);
    const unsigned __int128 sequence = uint128(words[2], words[3]);
    increment_ = (sequence << 1) | 1;
    state_ = 0;
    state_ = state_ * kPcgMultiplier + increment_;
    state_ += initial_state;
    state_ = state_ * kPcgMultiplier + increment_;
}

uint64_t Pcg64::next_uint64() {
    state_ = state_ * kPcgMultiplier + increment_;
    // XSL-RR: xor the halves, rotate right by the top 6 bits.
    const uint64_t xored = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
    const unsigned rotation = static_cast<unsigned>(state_ >> 122);
    return (xored >> rotation) | (xored << ((64 - rotation) & 63));
}

uint32_t Pcg64::next_uint32() {
    if (has_buffered_uint32_) {
        has_buffered_uint32_ = false;
        return buffered_uint32_;
    }
    const uint64_t next = next_uint64();
    has_buffered_uint32_ = true;
    buffered_uint32_ = static_cast<uint32_t>(next >> 32);
    return static_cast<uint32_t>(next);
}

std::vector<int64_t> NumpyGenerator::integers(int64_t low, int64_t high, size_t size, bool endpoint) {
    // _rand_int64 works on the closed interval [low, high].
    if (!endpoint) {
        if (high <= low)
            throw std::invalid_argument(fmt::format("integers: high ({}) must be greater than low ({})", high, low));
        --high;
    } else if (high < low) {
        throw std::invalid_argument(
            fmt::format("integers: high ({}) must be at least low ({}) with endpoint", high, low));
    }
    const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
    const uint64_t offset = static_cast<uint64_t>(low);
    std::vector<int64_t> out(size);
    // random_bounded_uint64_fill: the draws consumed depend on the range, exactly as below.
    auto fill = [&](auto draw) {
        for (auto& v : out) v = static_cast<int64_t>(offset + draw());
    };
    if (range == 0) {
        fill([] { return uint64_t{0}; });
    } else if (range == 0xFFFFFFFFULL) {
        fill([&] { return uint64_t{bit_generator_.next_uint32()}; });
    } else if (range < 0xFFFFFFFFULL) {
        fill([&] { return uint64_t{bounded_lemire_uint32(bit_generator_, static_cast<uint32_t>(range))}; });
    } else if (range == UINT64_MAX) {
        fill([&] { return bit_generator_.next_uint64(); });
    } else {
        fill([&] { return bounded_lemire_uint64(bit_generator_, range); });
    }
    return out;
}

}  // namespace ttlm::engram
