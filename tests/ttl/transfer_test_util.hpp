// Helpers shared by the tests of fast mode's deferred transfers (test_deferred_reads.cpp,
// test_background_writes.cpp): random inputs, validate-mode options, bit-exact comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ttl/ttl.hpp"

namespace ttl_test {

inline ttl::Tensor random_tensor(ttl::Shape shape, uint64_t seed) {
    ttl::Tensor t(std::move(shape));
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : t.span<float>()) v = u(rng);
    return t;
}

inline ttl::ExecOptions validate() {
    ttl::ExecOptions o;
    o.mode = ttl::Mode::Validate;
    return o;
}

// Bit-identical values (NaN matching NaN).
inline void expect_equal(const ttl::Tensor& got, const ttl::Tensor& want, const char* what) {
    ASSERT_EQ(got.shape(), want.shape());
    auto x = got.span<float>();
    auto y = want.span<float>();
    for (size_t i = 0; i < x.size(); ++i)
        ASSERT_TRUE(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))) << what << ": element " << i << ": " << x[i] << " vs " << y[i];
}

}  // namespace ttl_test
