// Seeded random numbers that are the same on every platform and thread count: splitmix64 for a
// stream, and a counter-based form (hash of seed and counters) for per-atom noise in parallel loops.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace ttlm::md {

inline uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Uniform in (0, 1): never 0, so log() is safe.
inline double uniform_open01(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }

class Rng {
   public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() { return splitmix64(state_++ * 0x9E3779B97F4A7C15ull ^ 0xD1B54A32D192ED03ull); }
    double uniform() { return uniform_open01(next()); }               // (0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int64_t below(int64_t n) { return static_cast<int64_t>(uniform() * static_cast<double>(n)) % n; }  // [0, n)
    double normal() {  // Box-Muller, one value per call (the other is dropped: simple and reproducible)
        double u1 = uniform(), u2 = uniform();
        return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
    }

   private:
    uint64_t state_;
};

// A standard normal value determined by (seed, a, b, c) alone.
inline double counter_normal(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = splitmix64(seed ^ splitmix64(a ^ splitmix64(b ^ splitmix64(c))));
    double u1 = uniform_open01(h), u2 = uniform_open01(splitmix64(h));
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

}  // namespace ttlm::md
