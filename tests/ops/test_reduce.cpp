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

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// fp64 reductions of x over dimension d, one output per index of the other dimensions, in order.
struct Reduced {
    std::vector<double> sum, magnitude, mean, max;
    std::vector<int64_t> argmax;
};

Reduced reference_reduce(const std::vector<double>& x, const Shape& shape, int d) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= shape[i];
    for (size_t i = d + 1; i < shape.size(); ++i) inner *= shape[i];
    const int64_t length = shape[d];
    Reduced r;
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < inner; ++c) {
            double sum = 0, magnitude = 0, best = -INFINITY;
            int64_t best_at = 0;
            for (int64_t l = 0; l < length; ++l) {
                const double v = x[(o * length + l) * inner + c];
                sum += v;
                magnitude += std::abs(v);
                if (v > best) {
                    best = v;
                    best_at = l;
                }
            }
            r.sum.push_back(sum);
            r.magnitude.push_back(magnitude);
            r.mean.push_back(sum / length);
            r.max.push_back(best);
            r.argmax.push_back(best_at);
        }
    }
    return r;
}

TEST(Reduce, EveryDimensionMatchesFp64) {
    const Shape shape{3, 37, 45};
    const Tensor x = random_tensor(shape, 1, -2.0f, 2.0f);
    for (int dim : {0, 1, 2, -1}) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        const int d = dim < 0 ? dim + 3 : dim;
        const Reduced want = reference_reduce(values(x), shape, d);
        Shape reduced = shape, kept = shape;
        reduced.erase(reduced.begin() + d);
        kept[d] = 1;
        std::vector<double> mean_magnitude = want.magnitude;
        for (double& m : mean_magnitude) m /= shape[d];
        // Summed in fp64: what remains is the final rounding to f32.
        EXPECT_LE(max_relative_error(sum(x, dim), want.sum, want.magnitude), 1e-7);
        EXPECT_LE(max_relative_error(mean(x, dim), want.mean, mean_magnitude), 1e-7);
        EXPECT_EQ(max_relative_error(max(x, dim), want.max), 0.0);
        const Tensor index = argmax(x, dim);
        ASSERT_EQ(index.dtype(), DType::I64);
        EXPECT_EQ(std::vector<int64_t>(index.span<int64_t>().begin(), index.span<int64_t>().end()), want.argmax);
        EXPECT_EQ(sum(x, dim).shape(), reduced);
        EXPECT_EQ(sum(x, dim, true).shape(), kept);
        EXPECT_EQ(argmax(x, dim, true).shape(), kept);
    }
}

TEST(Reduce, NaNTiesAndEmptyDimensions) {
    const Tensor x = Tensor::from_vector({1.0f, kNaN, 3.0f, kNaN,  //
                                          2.0f, 5.0f, 5.0f, 1.0f},
                                         {2, 4});
    const Tensor m = max(x), a = argmax(x);
    EXPECT_TRUE(std::isnan(m.data<float>()[0]));
    EXPECT_EQ(m.data<float>()[1], 5.0f);
    EXPECT_EQ(a.data<int64_t>()[0], 1);  // the first NaN, as torch.argmax
    EXPECT_EQ(a.data<int64_t>()[1], 1);  // the first of tied maxima
    const Tensor columns = argmax(x, 0);
    EXPECT_EQ(columns.data<int64_t>()[1], 0);  // NaN in the first row wins
    EXPECT_TRUE(std::isnan(max(x, 0).data<float>()[3]));

    const Tensor empty({3, 0});
    for (double v : values(sum(empty))) EXPECT_EQ(v, 0.0f);
    for (double v : values(mean(empty))) EXPECT_TRUE(std::isnan(v));
    EXPECT_INVALID_ARGUMENT(max(empty), "max: cannot reduce dimension -1 of x f32[3, 0]: it is empty");
    EXPECT_INVALID_ARGUMENT(argmax(empty), "argmax: cannot reduce dimension -1 of x f32[3, 0]: it is empty");
}

TEST(Reduce, Bf16KeepsItsDtype) {
    const Tensor x = random_tensor({5, 29}, 2, 0.0f, 1.0f, DType::BF16);
    const Tensor s = sum(x);
    EXPECT_EQ(s.dtype(), DType::BF16);
    EXPECT_LE(max_relative_error(s, reference_reduce(values(x), x.shape(), 1).sum), std::ldexp(1.0, -8));
}

TEST(Reduce, ErrorsNameOpArgumentAndShapes) {
    EXPECT_INVALID_ARGUMENT(sum(Tensor({3, 37, 45}), 3),
                            "sum: dim 3 is out of range for f32[3, 37, 45] (expected -3 to 2)");
    EXPECT_INVALID_ARGUMENT(mean(Tensor({3}, DType::I32)), "mean: x i32[3] has dtype i32; expected f32 or bf16");
}

TEST(Reduce, SameBitsOnOneAndTwoThreads) {
    const Tensor x = random_tensor({300, 517}, 3);
    for (int dim : {0, 1}) {
        auto [one, two] = on_one_and_two_threads([&] { return sum(x, dim); });
        EXPECT_TRUE(same_bytes(one, two));
        auto [one_a, two_a] = on_one_and_two_threads([&] { return argmax(x, dim); });
        EXPECT_TRUE(same_bytes(one_a, two_a));
        auto [one_m, two_m] = on_one_and_two_threads([&] { return mean(x, dim); });
        EXPECT_TRUE(same_bytes(one_m, two_m));
        auto [one_x, two_x] = on_one_and_two_threads([&] { return max(x, dim); });
        EXPECT_TRUE(same_bytes(one_x, two_x));
    }
}

}  // namespace
}  // namespace ttlm::ops::test
