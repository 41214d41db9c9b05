// numpy's random number generation, bit for bit: SeedSequence, PCG64 and Generator.integers for
// int64, as numpy 1.24 implements them. Engram draws its hash multipliers with
// `numpy.random.default_rng(seed + 10007 * layer_id).integers(0, half_bound, size=n, dtype=int64)`,
// and a port must reproduce those numbers to hash like the reference.
//
// Sources followed: numpy/random/bit_generator.pyx (SeedSequence), _pcg64.pyx and
// src/pcg64/pcg64.{h,c} (seeding, XSL-RR output, buffered 32-bit halves), _bounded_integers.pyx
// (_rand_int64) and src/distributions/distributions.c (random_bounded_uint64_fill, Lemire's
// method, use_masked=False as Generator uses it).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ttlm::engram {

// numpy.random.SeedSequence(entropy) with pool_size 4 and no spawn key.
class SeedSequence {
   public:
    // The entropy of an integer seed is its 32-bit words, least significant first (0 -> one zero word).
    explicit SeedSequence(uint64_t seed);
    explicit SeedSequence(std::span<const uint32_t> entropy);

    const std::array<uint32_t, 4>& pool() const { return pool_; }
    // generate_state(n_words, np.uint32) and generate_state(n_words, np.uint64).
    std::vector<uint32_t> generate_state_u32(size_t n_words) const;
    std::vector<uint64_t> generate_state_u64(size_t n_words) const;

   private:
    std::array<uint32_t, 4> pool_{};
};

// numpy.random.PCG64: 128-bit LCG with the XSL-RR output function.
class Pcg64 {
   public:
    explicit Pcg64(const SeedSequence& seed_sequence);
    explicit Pcg64(uint64_t seed) : Pcg64(SeedSequence(seed)) {}

    // One step of the generator (bit_generator.random_raw()).
    uint64_t next_uint64();
    // numpy hands out each 64-bit output as two 32-bit halves, low half first; the high half waits
    // in a buffer that next_uint64() leaves alone.
    uint32_t next_uint32();

   private:
    unsigned __int128 state_ = 0;
    unsigned __int128 increment_ = 0;
    bool has_buffered_uint32_ = false;
    uint32_t buffered_uint32_ = 0;
};

// numpy.random.Generator(PCG64(seed)), i.e. numpy.random.default_rng(seed).
class NumpyGenerator {
   public:
    explicit NumpyGenerator(uint64_t seed) : bit_generator_(seed) {}

    // integers(low, high, size, dtype=np.int64, endpoint): values in [low, high), or [low, high]
    // when `endpoint`. Throws std::invalid_argument when the interval is empty.
    std::vector<int64_t> integers(int64_t low, int64_t high, size_t size, bool endpoint = false);

    Pcg64& bit_generator() { return bit_generator_; }

   private:
    Pcg64 bit_generator_;
};

inline NumpyGenerator default_rng(uint64_t seed) { return NumpyGenerator(seed); }

}  // namespace ttlm::engram
