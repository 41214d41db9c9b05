// Helpers for the op tests: seeded random tensors, fp64 views, error measures, thread checks.
// The references in the tests are plain fp64 loops written there, independent of the op code.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/thread_pool.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::ops::test {

// Uniform values in [lo, hi), f32 (or rounded to bf16 when dtype is BF16).
inline ttl::Tensor random_tensor(const ttl::Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f,
                                 ttl::DType dtype = ttl::DType::F32) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    ttl::Tensor t(shape, ttl::DType::F32);
    for (float& v : t.span<float>()) v = dist(rng);
    return dtype == ttl::DType::F32 ? t : t.to(dtype);
}

// The tensor's values as doubles (f32, bf16, i32 or i64).
inline std::vector<double> values(const ttl::Tensor& t) {
    const ttl::Tensor f = t.dtype() == ttl::DType::F32 ? t : t.to(ttl::DType::F32);
    std::vector<double> out(f.numel());
    const float* p = f.data<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
    return out;
}

// max_i |got_i - want_i| / max(|want_i|, scale_i); scale defaults to the smallest normal float, so
// this is the plain relative error unless an accumulation's magnitude sum(|terms|) is passed.
inline double max_relative_error(const ttl::Tensor& got, const std::vector<double>& want,
                                 const std::vector<double>& scale = {}) {
    const std::vector<double> g = values(got);
    EXPECT_EQ(g.size(), want.size());
    double worst = 0.0;
    for (size_t i = 0; i < std::min(g.size(), want.size()); ++i) {
        const double floor = scale.empty() ? 1.1754943508222875e-38 : scale[i];
        if (std::isnan(want[i]) || std::isinf(want[i])) {
            if (!(std::isnan(want[i]) ? std::isnan(g[i]) : g[i] == want[i])) return INFINITY;
            continue;
        }
        worst = std::max(worst, std::abs(g[i] - want[i]) / std::max(std::abs(want[i]), floor));
    }
    return worst;
}

inline bool same_bytes(const ttl::Tensor& a, const ttl::Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Runs `op` on 1 and on 2 runtime threads and returns both results.
inline std::pair<ttl::Tensor, ttl::Tensor> on_one_and_two_threads(const std::function<ttl::Tensor()>& op) {
    const int saved = runtime::num_threads();
    runtime::set_num_threads(1);
    ttl::Tensor one = op();
    runtime::set_num_threads(2);
    ttl::Tensor two = op();
    runtime::set_num_threads(saved);
    return {one, two};
}

// Expects `statement` to throw std::invalid_argument whose message contains every piece of `parts`.
#define EXPECT_INVALID_ARGUMENT(statement, ...)                                       \
    do {                                                                              \
        try {                                                                         \
            statement;                                                                \
            ADD_FAILURE() << "expected std::invalid_argument from " #statement;       \
        } catch (const std::invalid_argument& error) {                                \
            for (const std::string& part : std::vector<std::string>{__VA_ARGS__})     \
                EXPECT_NE(std::string(error.what()).find(part), std::string::npos)    \
                    << "message \"" << error.what() << "\" lacks \"" << part << "\""; \
        }                                                                             \
    } while (0)

}  // namespace ttlm::ops::test
