#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

// fp64 product of row-major [batch, m, k] and [batch, k, n] (b_batch_stride 0: one b for every batch),
// with the magnitude sum(|a b|) of every dot product, which bounds its rounding error.
struct Product {
    std::vector<double> value, magnitude;
};

Product reference_product(const std::vector<double>& a, const std::vector<double>& b, int64_t batch, int64_t m,
                          int64_t k, int64_t n, bool b_shared, bool b_transposed = false) {
    Product p{std::vector<double>(batch * m * n), std::vector<double>(batch * m * n)};
    for (int64_t s = 0; s < batch; ++s)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double sum = 0, magnitude = 0;
                for (int64_t l = 0; l < k; ++l) {
                    const double x = a[(s * m + i) * k + l];
                    const int64_t b_base = b_shared ? 0 : s * k * n;
                    const double y = b_transposed ? b[b_base + j * k + l] : b[b_base + l * n + j];
                    sum += x * y;
                    magnitude += std::abs(x * y);
                }
                p.value[(s * m + i) * n + j] = sum;
                p.magnitude[(s * m + i) * n + j] = magnitude;
            }
    return p;
}

TEST(Matmul, FoldsLeadingDimensionsOfA) {
    for (const Shape& a_shape : {Shape{37, 45}, Shape{2, 3, 37, 45}, Shape{1, 1, 45}, Shape{5, 1, 45}}) {
        for (int64_t n : {29, 1}) {
            SCOPED_TRACE(ttl::shape_str(a_shape) + " n=" + std::to_string(n));
            const Tensor a = random_tensor(a_shape, 1), b = random_tensor({45, n}, 2);
            const Tensor y = matmul(a, b);
            Shape want_shape = a_shape;
            want_shape.back() = n;
            ASSERT_EQ(y.shape(), want_shape);
            const Product p = reference_product(values(a), values(b), 1, a.rows(), 45, n, true);
            EXPECT_LE(max_relative_error(y, p.value, p.magnitude), 1e-5);
        }
    }
}

TEST(Matmul, BatchedOverEqualLeadingDimensions) {
    for (const Shape& batch : {Shape{3}, Shape{2, 3}, Shape{1}}) {
        SCOPED_TRACE(ttl::shape_str(batch));
        Shape a_shape = batch, b_shape = batch;
        a_shape.insert(a_shape.end(), {17, 45});
        b_shape.insert(b_shape.end(), {45, 29});
        const Tensor a = random_tensor(a_shape, 3), b = random_tensor(b_shape, 4);
        const Tensor y = matmul(a, b);
        int64_t count = 1;
        for (int64_t d : batch) count *= d;
        const Product p = reference_product(values(a), values(b), count, 17, 45, 29, false);
        EXPECT_LE(max_relative_error(y, p.value, p.magnitude), 1e-5);
    }
}

TEST(Matmul, LinearWithAndWithoutBias) {
    const Tensor x = random_tensor({2, 7, 45}, 5), w = random_tensor({29, 45}, 6), bias = random_tensor({29}, 7);
    const Product p = reference_product(values(x), values(w), 1, 14, 45, 29, true, true);
    const Tensor y = linear(x, w);
    ASSERT_EQ(y.shape(), (Shape{2, 7, 29}));
    EXPECT_LE(max_relative_error(y, p.value, p.magnitude), 1e-5);

    std::vector<double> with_bias = p.value, magnitude = p.magnitude;
    const std::vector<double> bv = values(bias);
    for (size_t i = 0; i < with_bias.size(); ++i) {
        with_bias[i] += bv[i % 29];
        magnitude[i] += std::abs(bv[i % 29]);
    }
    EXPECT_LE(max_relative_error(linear(x, w, bias), with_bias, magnitude), 1e-5);

    Tensor out({2, 7, 29});
    linear_into(out, x, w, bias);
    EXPECT_LE(max_relative_error(out, with_bias, magnitude), 1e-5);
}

TEST(Matmul, Bf16OperandsAccumulateInF32) {
    // Exact bf16 operands: the products are exact in f32, so only the f32 accumulation errs.
    const Tensor x = random_tensor({3, 11, 70}, 8, -1.0f, 1.0f, DType::BF16);
    const Tensor w = random_tensor({29, 70}, 9, -1.0f, 1.0f, DType::BF16);
    const Tensor y = linear(x, w);
    EXPECT_EQ(y.dtype(), DType::F32);
    const Product p = reference_product(values(x), values(w), 1, 33, 70, 29, true, true);
    EXPECT_LE(max_relative_error(y, p.value, p.magnitude), 1e-5);
    const Tensor bias = random_tensor({29}, 21, -1.0f, 1.0f, DType::BF16);
    const std::vector<double> bias_values = values(bias);
    std::vector<double> with_bias = p.value, magnitude = p.magnitude;
    for (size_t i = 0; i < with_bias.size(); ++i) {
        with_bias[i] += bias_values[i % 29];
        magnitude[i] += std::abs(bias_values[i % 29]);
    }
    EXPECT_LE(max_relative_error(linear(x, w, bias), with_bias, magnitude), 1e-5);

    // f32 data rounded to bf16 first: rounding to bf16 (8 significant bits, to nearest) errs by at most
    // 2^-8 relative per element, so each product is off by at most 2^-7 + 2^-16 relative and the
    // result lies within that times sum(|a b|) of the f32 data's exact product.
    const Tensor a32 = random_tensor({19, 70}, 10), b32 = random_tensor({70, 23}, 11);
    const Tensor y16 = matmul(to_bf16(a32), to_bf16(b32));
    const Product exact = reference_product(values(a32), values(b32), 1, 19, 70, 23, true);
    EXPECT_LE(max_relative_error(y16, exact.value, exact.magnitude), std::ldexp(1.0, -7) + std::ldexp(1.0, -16) + 1e-5);

    // ... and stored as bf16 on request: one more rounding, of at most 2^-8 relative.
    Tensor out16({19, 23}, DType::BF16);
    matmul_into(out16, to_bf16(a32), to_bf16(b32));
    const Product exact16 = reference_product(values(to_bf16(a32)), values(to_bf16(b32)), 1, 19, 70, 23, true);
    const std::vector<double> got = values(out16);
    int64_t outside = 0;
    for (size_t i = 0; i < got.size(); ++i)
        outside += std::abs(got[i] - exact16.value[i]) >
                   std::ldexp(1.0, -8) * std::abs(exact16.value[i]) + 1e-5 * exact16.magnitude[i];
    EXPECT_EQ(outside, 0);
}

TEST(Matmul, EmptyInnerDimensionGivesZerosPlusBias) {
    const Tensor x({4, 0}), w({3, 0});
    const Tensor bias = Tensor::from_vector({1.0f, -2.0f, 0.5f}, {3});
    const Tensor y = linear(x, w, bias);
    ASSERT_EQ(y.shape(), (Shape{4, 3}));
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(y.data<float>()[i * 3 + j], bias.data<float>()[j]);
    EXPECT_EQ(matmul(Tensor({0, 5}), Tensor({5, 2})).shape(), (Shape{0, 2}));
}

TEST(Matmul, PrimitivesAreCachedPerShape) {
    // On one thread a product is one primitive (more threads split it into parts of their own shapes).
    const int saved = runtime::num_threads();
    runtime::set_num_threads(1);
    const Tensor a = random_tensor({13, 21}, 12), b = random_tensor({21, 9}, 13);
    matmul(a, b);
    const size_t cached = matmul_cache_size();
    const Tensor first = matmul(a, b);
    EXPECT_EQ(matmul_cache_size(), cached);
    EXPECT_TRUE(same_bytes(first, matmul(a, b)));
    matmul(random_tensor({14, 21}, 14), b);
    EXPECT_EQ(matmul_cache_size(), cached + 1);
    runtime::set_num_threads(saved);
}

TEST(Matmul, SgemmAllTransposesWithAlphaBetaAndPadding) {
    const int64_t M = 13, N = 17, K = 23, pad = 3;
    for (bool trans_a : {false, true}) {
        for (bool trans_b : {false, true}) {
            SCOPED_TRACE(fmt::format("trans_a={} trans_b={}", trans_a, trans_b));
            const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
            const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
            const Tensor A = random_tensor({a_rows, a_cols + pad}, 15), B = random_tensor({b_rows, b_cols + pad}, 16);
            Tensor C = random_tensor({M, N + pad}, 17);
            const std::vector<double> a = values(A), b = values(B), c0 = values(C);
            sgemm(trans_a, trans_b, M, N, K, 0.5f, A.data<float>(), a_cols + pad, B.data<float>(), b_cols + pad, 2.0f,
                  C.data<float>(), N + pad);
            std::vector<double> want = c0, scale(c0.size(), 1e-30);
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    double sum = 0, magnitude = 0;
                    for (int64_t l = 0; l < K; ++l) {
                        const double x = trans_a ? a[l * (M + pad) + i] : a[i * (K + pad) + l];
                        const double y = trans_b ? b[j * (K + pad) + l] : b[l * (N + pad) + j];
                        sum += x * y;
                        magnitude += std::abs(x * y);
                    }
                    const int64_t at = i * (N + pad) + j;
                    want[at] = 0.5 * sum + 2.0 * c0[at];
                    scale[at] = 0.5 * magnitude + 2.0 * std::abs(c0[at]);
                }
            // The padding columns of C are left alone (their scale is tiny: any change fails).
            EXPECT_LE(max_relative_error(C, want, scale), 1e-5);
        }
    }
}

TEST(Matmul, ErrorsNameOpArgumentAndShapes) {
    EXPECT_INVALID_ARGUMENT(linear(Tensor({2, 7, 768}), Tensor({512, 1024})),
                            "linear: weight f32[512, 1024] does not match input features 768 of x f32[2, 7, 768]");
    EXPECT_INVALID_ARGUMENT(linear(Tensor({2, 8}), Tensor({3, 8}), Tensor({4})),
                            "linear: bias f32[4] does not match out_features 3 of weight f32[3, 8]");
    EXPECT_INVALID_ARGUMENT(linear(Tensor({2, 8}), Tensor({3, 8}, DType::BF16)),
                            "linear: x f32[2, 8] and weight bf16[3, 8] have different dtypes");
    EXPECT_INVALID_ARGUMENT(matmul(Tensor({4, 5}), Tensor({6, 3})),
                            "matmul: b f32[6, 3] does not match a f32[4, 5]: expected 5 rows in b");
    EXPECT_INVALID_ARGUMENT(matmul(Tensor({2, 4, 5}), Tensor({3, 5, 3})),
                            "matmul: batch dimensions of a f32[2, 4, 5] and b f32[3, 5, 3] differ");
    EXPECT_INVALID_ARGUMENT(matmul(Tensor({5}), Tensor({5, 3})), "matmul: a f32[5] needs at least 2 dimension(s)");
    EXPECT_INVALID_ARGUMENT(matmul(Tensor({4, 5}, DType::I32), Tensor({5, 3})),
                            "matmul: a i32[4, 5] has dtype i32; expected f32 or bf16");
    Tensor out({4, 3}, DType::BF16);
    EXPECT_INVALID_ARGUMENT(matmul_into(out, Tensor({4, 5}), Tensor({5, 3})),
                            "matmul_into: out bf16[4, 3] has dtype bf16; expected f32");
    Tensor wrong({4, 4});
    EXPECT_INVALID_ARGUMENT(matmul_into(wrong, Tensor({4, 5}), Tensor({5, 3})),
                            "matmul_into: out f32[4, 4] does not match the result shape [4, 3]");
    float buffer[16] = {};
    EXPECT_INVALID_ARGUMENT(sgemm(false, false, 2, 2, 4, 1.0f, buffer, 3, buffer, 2, 0.0f, buffer, 2),
                            "sgemm: lda 3 is smaller than A's row length 4");
}

// oneDNN may pick a different kernel for the part of a product each worker computes, so results on 1
// and 2 threads agree to f32 rounding (not always bitwise): within 1e-5 of sum(|a b|) of each other.
TEST(Matmul, SameResultOnOneAndTwoThreads) {
    const Tensor x = random_tensor({256, 200}, 18), w = random_tensor({192, 200}, 19), b = random_tensor({200, 96}, 20);
    const Tensor gemv = random_tensor({1, 200}, 21), batch_a = random_tensor({4, 9, 200}, 22),
                 batch_b = random_tensor({4, 200, 33}, 23);
    auto expect_agree = [](const std::pair<Tensor, Tensor>& results, const Product& exact) {
        EXPECT_LE(max_relative_error(results.second, values(results.first), exact.magnitude), 1e-5);
        EXPECT_LE(max_relative_error(results.first, exact.value, exact.magnitude), 1e-5);
    };
    const Product linear_exact = reference_product(values(x), values(w), 1, 256, 200, 192, true, true);
    expect_agree(on_one_and_two_threads([&] { return linear(x, w); }), linear_exact);  // split by rows
    expect_agree(on_one_and_two_threads([&] { return matmul(x, b); }),
                 reference_product(values(x), values(b), 1, 256, 200, 96, true));
    expect_agree(on_one_and_two_threads([&] { return linear(gemv, w); }),  // split by columns
                 reference_product(values(gemv), values(w), 1, 1, 200, 192, true, true));
    expect_agree(on_one_and_two_threads([&] { return matmul(batch_a, batch_b); }),  // split by batch
                 reference_product(values(batch_a), values(batch_b), 4, 9, 200, 33, false));
    expect_agree(on_one_and_two_threads([&] { return linear(to_bf16(x), to_bf16(w)); }),
                 reference_product(values(to_bf16(x)), values(to_bf16(w)), 1, 256, 200, 192, true, true));
    expect_agree(on_one_and_two_threads([&] {
                     Tensor c({256, 192});
                     sgemm(false, true, 256, 192, 200, 1.0f, x.data<float>(), 200, w.data<float>(), 200, 0.0f,
                           c.data<float>(), 192);
                     return c;
                 }),
                 linear_exact);
}

}  // namespace
}  // namespace ttlm::ops::test
