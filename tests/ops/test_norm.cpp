#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<double> reference_rms_norm(const std::vector<double>& x, const std::vector<double>& w, int64_t cols,
                                       double eps) {
    std::vector<double> y(x.size());
    for (size_t row = 0; row < x.size() / cols; ++row) {
        double mean_square = 0;
        for (int64_t j = 0; j < cols; ++j) mean_square += x[row * cols + j] * x[row * cols + j];
        mean_square /= cols;
        for (int64_t j = 0; j < cols; ++j)
            y[row * cols + j] = x[row * cols + j] / std::sqrt(mean_square + eps) * (w.empty() ? 1.0 : w[j]);
    }
    return y;
}

TEST(RmsNorm, MatchesFp64WithAndWithoutWeight) {
    for (const Shape& shape : {Shape{2, 5, 33}, Shape{7, 1}, Shape{45}, Shape{3, 1, 1000}}) {
        SCOPED_TRACE(ttl::shape_str(shape));
        const int64_t cols = shape.back();
        const Tensor x = random_tensor(shape, 1, -3.0f, 3.0f), w = random_tensor({cols}, 2, 0.5f, 1.5f);
        for (float eps : {1e-6f, 0.5f}) {
            EXPECT_LE(max_relative_error(rms_norm(x, w, eps), reference_rms_norm(values(x), values(w), cols, eps)),
                      1e-6);
            EXPECT_LE(max_relative_error(rms_norm(x, Tensor(), eps), reference_rms_norm(values(x), {}, cols, eps)),
                      1e-6);
        }
    }
}

TEST(RmsNorm, ZeroRowStaysZeroAndBf16RoundsOnce) {
    const Tensor zeros({2, 8});
    for (double v : values(rms_norm(zeros, Tensor(), 1e-6f))) EXPECT_EQ(v, 0.0f);

    const Tensor x = random_tensor({4, 37}, 3, -2.0f, 2.0f, DType::BF16);
    const Tensor w = random_tensor({37}, 4, 0.5f, 1.5f, DType::BF16);
    const Tensor y = rms_norm(x, w, 1e-5f);
    EXPECT_EQ(y.dtype(), DType::BF16);
    // Exact bf16 inputs: only the final rounding to bf16, at most 2^-8 relative.
    EXPECT_LE(max_relative_error(y, reference_rms_norm(values(x), values(w), 37, 1e-5)), std::ldexp(1.0, -8));
}

std::vector<double> reference_softmax(const std::vector<double>& x, int64_t cols, bool log) {
    std::vector<double> y(x.size());
    for (size_t row = 0; row < x.size() / cols; ++row) {
        const double* r = x.data() + row * cols;
        double m = -INFINITY;
        for (int64_t j = 0; j < cols; ++j) m = std::max(m, r[j]);
        double sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += std::exp(r[j] - m);
        for (int64_t j = 0; j < cols; ++j)
            y[row * cols + j] = log ? r[j] - m - std::log(sum) : std::exp(r[j] - m) / sum;
    }
    return y;
}

TEST(Softmax, MatchesFp64OnWideRangesAndMaskedEntries) {
    Tensor x = random_tensor({3, 7, 45}, 5, -30.0f, 30.0f);
    float* p = x.data<float>();
    p[3] = p[10] = -kInf;  // masked positions in the first row
    p[45 * 4] = 80.0f;     // one dominant entry
    const std::vector<double> v = values(x);
    EXPECT_LE(max_relative_error(softmax(x), reference_softmax(v, 45, false)), 1e-5);
    EXPECT_LE(max_relative_error(log_softmax(x), reference_softmax(v, 45, true)), 1e-5);
    EXPECT_LE(max_relative_error(softmax(x, 2), reference_softmax(v, 45, false)), 1e-5);

    const Tensor single = random_tensor({5, 1}, 6);
    for (double e : values(softmax(single))) EXPECT_EQ(e, 1.0f);
    for (double e : values(log_softmax(single))) EXPECT_EQ(e, 0.0f);
}

TEST(Softmax, RowsWithNaNOrInfinityOrOnlyMaskedAreNaN) {
    const Tensor x = Tensor::from_vector({1.0f, kNaN, 2.0f,  //
                                          1.0f, kInf, 2.0f,  //
                                          -kInf, -kInf, -kInf, 0.0f, 1.0f, 2.0f},
                                         {4, 3});
    for (const Tensor& y : {softmax(x), log_softmax(x)}) {
        for (int i = 0; i < 9; ++i) EXPECT_TRUE(std::isnan(y.data<float>()[i])) << i;
        for (int i = 9; i < 12; ++i) EXPECT_TRUE(std::isfinite(y.data<float>()[i])) << i;
    }
}

TEST(Softmax, InPlaceMatchesOutOfPlace) {
    Tensor x = random_tensor({9, 130}, 7, -5.0f, 5.0f);
    const Tensor expected = softmax(x), expected_log = log_softmax(x);
    Tensor y = x.clone();
    softmax_into(y, y);
    EXPECT_TRUE(same_bytes(y, expected));
    log_softmax_into(x, x);
    EXPECT_TRUE(same_bytes(x, expected_log));
}

TEST(Norms, ErrorsNameOpArgumentAndShapes) {
    const Tensor x({3, 7, 45});
    EXPECT_INVALID_ARGUMENT(
        softmax(x, 1), "softmax: only the last dimension is supported (dim -1 or 2 for x f32[3, 7, 45]), got dim 1");
    EXPECT_INVALID_ARGUMENT(log_softmax(x, 3),
                            "log_softmax: dim 3 is out of range for f32[3, 7, 45] (expected -3 to 2)");
    EXPECT_INVALID_ARGUMENT(rms_norm(x, Tensor({4}), 1e-6f),
                            "rms_norm: weight f32[4] does not match the last dimension 45 of x f32[3, 7, 45]");
    EXPECT_INVALID_ARGUMENT(rms_norm(x, Tensor(), -1.0f), "rms_norm: eps -1 must be finite and >= 0");
    EXPECT_INVALID_ARGUMENT(rms_norm(Tensor({3}, DType::I64), Tensor(), 1e-6f),
                            "rms_norm: x i64[3] has dtype i64; expected f32 or bf16");
    Tensor out({3, 7});
    EXPECT_INVALID_ARGUMENT(softmax_into(out, x),
                            "softmax_into: out f32[3, 7] does not match the result shape [3, 7, 45]");
}

TEST(Norms, SameBitsOnOneAndTwoThreads) {
    const Tensor x = random_tensor({300, 517}, 8, -4.0f, 4.0f), w = random_tensor({517}, 9);
    auto [one, two] = on_one_and_two_threads([&] { return rms_norm(x, w, 1e-6f); });
    EXPECT_TRUE(same_bytes(one, two));
    auto [one_s, two_s] = on_one_and_two_threads([&] { return softmax(x); });
    EXPECT_TRUE(same_bytes(one_s, two_s));
    auto [one_l, two_l] = on_one_and_two_threads([&] { return log_softmax(x); });
    EXPECT_TRUE(same_bytes(one_l, two_l));
}

}  // namespace
}  // namespace ttlm::ops::test
