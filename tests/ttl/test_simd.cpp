// The vector kernels behind block math against plain loops (fp64 where accuracy matters).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <hwy/targets.h>

#include "ttl/dtype.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/simd/tile_ops.hpp"

namespace {

using namespace ttl::simd;

std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

TEST(Simd, UnaryMathIsAccurate) {
    auto x = random_floats(1000 + 7, 1, -20.0f, 20.0f);  // an odd length exercises the tail
    std::vector<float> y(x.size());
    struct Case {
        Unary op;
        double (*ref)(double);
    };
    const Case cases[] = {
        {Unary::Exp, [](double v) { return std::exp(v); }},
        {Unary::Sigmoid, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
        {Unary::Silu, [](double v) { return v / (1.0 + std::exp(-v)); }},
        {Unary::Tanh, [](double v) { return std::tanh(v); }},
        {Unary::Rsqrt, [](double v) { return 1.0 / std::sqrt(std::abs(v) + 1.0); }},
    };
    for (const auto& c : cases) {
        std::vector<float> in = x;
        if (c.op == Unary::Rsqrt)
            for (float& v : in) v = std::abs(v) + 1.0f;
        unary(c.op, in.data(), y.data(), in.size());
        for (size_t i = 0; i < in.size(); ++i) {
            double want = c.op == Unary::Rsqrt ? 1.0 / std::sqrt(double(in[i])) : c.ref(in[i]);
            ASSERT_NEAR(y[i], want, 2e-6 * std::abs(want) + 1e-30) << "op " << int(c.op) << " at x=" << in[i];
        }
    }
    std::vector<float> logs(x.size());
    for (float& v : x) v = std::abs(v) + 1e-3f;
    unary(Unary::Log, x.data(), logs.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(logs[i], std::log(double(x[i])), 2e-6 * std::abs(std::log(double(x[i]))) + 1e-7);
}

// Far outside the exp's range sigmoid saturates to 1 / ~0 and silu to x / ~0; NaN stays NaN (the
// poison of validate mode must reach the output).
TEST(Simd, SigmoidAndSiluSaturateAndKeepNaN) {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> x = {-inf, -1e30f, -100.0f, -87.5f, 87.5f, 100.0f, 1e30f, inf, nan, -nan, 0.0f};
    std::vector<float> s(x.size()), silu(x.size());
    unary(Unary::Sigmoid, x.data(), s.data(), x.size());
    unary(Unary::Silu, x.data(), silu.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i])) {
            EXPECT_TRUE(std::isnan(s[i]) && std::isnan(silu[i])) << i;
            continue;
        }
        const double want = 1.0 / (1.0 + std::exp(-double(x[i])));
        EXPECT_NEAR(s[i], want, 2e-6 * want + 1e-37) << "sigmoid at " << x[i];
        if (std::isfinite(x[i])) {
            EXPECT_NEAR(silu[i], x[i] * want, 2e-6 * std::abs(x[i] * want) + 1e-30) << "silu at " << x[i];
        }
    }
    EXPECT_EQ(silu[7], inf);            // inf * 1
    EXPECT_TRUE(std::isnan(silu[0]));  // -inf * 0, as PyTorch's x * sigmoid(x)
}

// SiLU holds its input only from above (its hot path: the Engram conv), so the whole float range
// must be right, and sigmoid's too (the same exp): every 509th bit pattern (8.4 million, every
// exponent), against double, on every SIMD target this CPU runs (AVX-512 scales by 2^n in one
// instruction, the others through the exponent bits).
TEST(Simd, SigmoidAndSiluAreAccurateOverTheWholeFloatRange) {
    std::vector<float> x, y;
    for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 509) {
        const uint32_t b = static_cast<uint32_t>(bits);
        float v;
        std::memcpy(&v, &b, sizeof v);
        if (std::isfinite(v)) x.push_back(v);
    }
    y.resize(x.size());
    for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
        hwy::SetSupportedTargetsForTest(target);
        for (Unary op : {Unary::Sigmoid, Unary::Silu}) {
            const char* name = op == Unary::Silu ? "silu" : "sigmoid";
            unary(op, x.data(), y.data(), x.size());
            double worst = 0;
            for (size_t i = 0; i < x.size(); ++i) {
                const double s = 1.0 / (1.0 + std::exp(-double(x[i]))), want = op == Unary::Silu ? x[i] * s : s;
                if (std::abs(want) < 1e-36) {  // a zero (or the denormal it rounds to) is right
                    ASSERT_LE(std::abs(y[i]), 1e-36) << hwy::TargetName(target) << ": " << name << " at " << x[i];
                    continue;
                }
                const double rel = std::abs(y[i] - want) / std::abs(want);
                ASSERT_LE(rel, 1e-6) << hwy::TargetName(target) << ": " << name << " at " << x[i] << " is " << y[i]
                                     << ", want " << want;
                worst = std::max(worst, rel);
            }
            EXPECT_LT(worst, 4e-7) << hwy::TargetName(target) << ": " << name;  // 2 ulp: degree-5 exp, one division
        }
    }
    hwy::SetSupportedTargetsForTest(0);
}

TEST(Simd, FusedKernelsMatchLoops) {
    const size_t rows = 37, cols = 67;
    auto a = random_floats(rows * cols, 2), b = random_floats(rows * cols, 3), c = random_floats(rows * cols, 4);
    auto per_col = random_floats(cols, 5), per_row = random_floats(rows, 6);
    std::vector<float> out(rows * cols), dots(rows);
    multiply_add(a.data(), b.data(), c.data(), out.data(), out.size());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], std::fma(b[i], c[i], a[i]));
    multiply_add_per_col(a.data(), b.data(), per_col.data(), out.data(), rows, cols);
    for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols; ++k) ASSERT_EQ(out[r * cols + k], std::fma(b[r * cols + k], per_col[k], a[r * cols + k]));
    // a read at a row stride of its own (a deferred read's view of a tensor): its first cols - 5 columns
    binary_per_row(Binary::Sub, a.data(), cols, per_row.data(), out.data(), rows, cols - 5);
    for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols - 5; ++k) ASSERT_EQ(out[r * (cols - 5) + k], a[r * cols + k] - per_row[r]);
    scale_rows_cols(a.data(), cols, per_row.data(), per_col.data(), out.data(), rows, cols);
    for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols; ++k) ASSERT_EQ(out[r * cols + k], a[r * cols + k] * per_row[r] * per_col[k]);
    scale_rows_cols(a.data(), cols, per_row.data(), per_col.data(), out.data(), rows, cols - 3);  // x at a stride
    for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols - 3; ++k) ASSERT_EQ(out[r * (cols - 3) + k], a[r * cols + k] * per_row[r] * per_col[k]);
    row_dot(a.data(), cols, b.data(), cols, rows, cols, dots.data());
    for (size_t r = 0; r < rows; ++r) {
        double s = 0, mag = 0;
        for (size_t k = 0; k < cols; ++k) s += double(a[r * cols + k]) * b[r * cols + k], mag += std::abs(double(a[r * cols + k]) * b[r * cols + k]);
        ASSERT_NEAR(dots[r], s, 1e-6 * mag);
    }
}

TEST(Simd, MatmulWithRemaindersMatchesFp64) {
    for (auto [m, n, k] : {std::tuple<size_t, size_t, size_t>{1, 1, 1}, {7, 9, 300}, {32, 32, 32}, {37, 100, 129}, {64, 96, 257}}) {
        auto a = random_floats(m * k, 7), b = random_floats(k * n, 8), c0 = random_floats(m * n, 9);
        for (bool acc : {false, true}) {
            std::vector<float> c = c0;
            matmul(a.data(), k, b.data(), n, c.data(), n, m, n, k, acc);
            for (size_t i = 0; i < m; ++i)
                for (size_t j = 0; j < n; ++j) {
                    double s = acc ? c0[i * n + j] : 0.0, mag = std::abs(s);
                    for (size_t p = 0; p < k; ++p) s += double(a[i * k + p]) * b[p * n + j], mag += std::abs(double(a[i * k + p]) * b[p * n + j]);
                    ASSERT_NEAR(c[i * n + j], s, 1e-6 * mag + 1e-7) << m << "x" << n << "x" << k << " at " << i << "," << j;
                }
        }
    }
}

TEST(Simd, StreamCopyRowsAnyAlignmentLengthAndStride) {
    std::vector<unsigned char> src(300000), dst(300000 + 64);
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 31 + 7);
    for (size_t offset : {0, 1, 13, 32, 63})
        for (size_t len : {0, 5, 64, 4096 + 3, 200000}) {  // one row
            std::fill(dst.begin(), dst.end(), 0xAA);
            stream_copy_rows(dst.data() + offset, len, src.data() + 3, len, len, 1);
            ASSERT_EQ(std::memcmp(dst.data() + offset, src.data() + 3, len), 0) << offset << " " << len;
            ASSERT_EQ(dst[offset + len], 0xAA) << "wrote past the end";
            if (offset) {
                ASSERT_EQ(dst[offset - 1], 0xAA) << "wrote before the start";
            }
        }
    // 7 rows of 1000 bytes, source stride 1100, destination stride 1500: the gaps stay untouched.
    std::fill(dst.begin(), dst.end(), 0xAA);
    stream_copy_rows(dst.data() + 5, 1500, src.data() + 1, 1100, 1000, 7);
    for (size_t r = 0; r < 7; ++r) {
        ASSERT_EQ(std::memcmp(dst.data() + 5 + r * 1500, src.data() + 1 + r * 1100, 1000), 0) << r;
        ASSERT_TRUE(std::all_of(dst.data() + 5 + r * 1500 + 1000, dst.data() + 5 + (r + 1) * 1500,
                                [](unsigned char v) { return v == 0xAA; }))
            << "gap after row " << r;
    }
}

// The fused a op f(b) is the two-pass unary-then-binary for every pair it accepts: equal, or within
// one rounding of the terms where the compiler contracts silu's product and the add into one FMA.
TEST(Simd, BinaryActivationEqualsUnaryThenBinary) {
    const std::vector<float> a = random_floats(1003, 20, -4.0f, 4.0f), b = random_floats(1003, 21, -30.0f, 30.0f);
    std::vector<float> fused(a.size()), f(a.size()), two_pass(a.size());
    int fusable = 0;
    for (Unary u : {Unary::Neg, Unary::Abs, Unary::Exp, Unary::Log, Unary::Sqrt, Unary::Rsqrt, Unary::Recip,
                    Unary::Square, Unary::Sigmoid, Unary::Silu, Unary::Relu, Unary::Tanh, Unary::Clamp, Unary::Copy,
                    Unary::Sign, Unary::Gelu}) {
        if (!fusable_activation(u)) continue;
        ++fusable;
        unary(u, b.data(), f.data(), b.size());
        for (Binary op : {Binary::Add, Binary::Sub, Binary::Mul, Binary::Div, Binary::Max, Binary::Min}) {
            binary_activation(op, a.data(), u, b.data(), fused.data(), a.size());
            binary(op, a.data(), f.data(), two_pass.data(), a.size());
            for (size_t i = 0; i < a.size(); ++i)
                ASSERT_TRUE(fused[i] == two_pass[i] || (std::isnan(fused[i]) && std::isnan(two_pass[i])) ||
                            std::abs(fused[i] - two_pass[i]) <= 0x1p-23f * (std::abs(a[i]) + std::abs(f[i])))
                    << fused[i] << " vs " << two_pass[i] << ", "
                    << "unary " << static_cast<int>(u) << " binary " << static_cast<int>(op) << " at " << i;
        }
    }
    EXPECT_EQ(fusable, 5);  // exp, sigmoid, silu, relu, tanh
}

// The fused a op f(base + sum x_t w_t) is the sum of products followed by binary_activation, for
// every term count it takes, with and without a base, rows read through their own pointers and
// a's rows at a stride of their own.
TEST(Simd, SumOfProductsActivationEqualsTwoPasses) {
    const size_t rows = 5, cols = 64, lda = cols + 48;
    std::vector<float> a_wide = random_floats(rows * lda, 30, -4.0f, 4.0f), a(rows * cols);
    for (size_t r = 0; r < rows; ++r) std::copy_n(a_wide.data() + r * lda, cols, a.data() + r * cols);
    const std::vector<float> base = random_floats(rows * cols, 31),
                             x = random_floats((rows + 8) * cols, 32, -3.0f, 3.0f), w = random_floats(8 * cols, 33);
    std::vector<float> fused(rows * cols), sum(rows * cols), two_pass(rows * cols);
    for (size_t terms = 1; terms <= kMaxProductTerms; ++terms) {
        std::vector<const float*> x_rows(terms * rows), w_rows(terms);
        for (size_t t = 0; t < terms; ++t) {
            w_rows[t] = w.data() + t * cols;
            for (size_t r = 0; r < rows; ++r) x_rows[t * rows + r] = x.data() + (r + t) * cols;  // term t: rows shifted by t
        }
        for (const float* b : {static_cast<const float*>(nullptr), base.data()})
            for (Unary u : {Unary::Exp, Unary::Sigmoid, Unary::Silu, Unary::Relu, Unary::Tanh})
                for (Binary op : {Binary::Add, Binary::Mul, Binary::Max}) {
                    sum_of_products_activation(op, a_wide.data(), lda, u, b, x_rows.data(), w_rows.data(), terms, fused.data(), rows, cols);
                    sum_of_products_per_col(b, x_rows.data(), w_rows.data(), terms, sum.data(), rows, cols);
                    binary_activation(op, a.data(), u, sum.data(), two_pass.data(), sum.size());
                    for (size_t i = 0; i < sum.size(); ++i)
                        ASSERT_TRUE(fused[i] == two_pass[i] || (std::isnan(fused[i]) && std::isnan(two_pass[i])))
                            << fused[i] << " vs " << two_pass[i] << ": " << terms << " terms, base " << (b != nullptr)
                            << ", unary " << static_cast<int>(u) << " binary " << static_cast<int>(op) << " at " << i;
                }
        // and the sum itself against a double loop
        sum_of_products_per_col(base.data(), x_rows.data(), w_rows.data(), terms, sum.data(), rows, cols);
        for (size_t r = 0; r < rows; ++r)
            for (size_t c = 0; c < cols; ++c) {
                double want = base[r * cols + c], mag = std::abs(want);
                for (size_t t = 0; t < terms; ++t) {
                    want += double(x[(r + t) * cols + c]) * w[t * cols + c];
                    mag += std::abs(double(x[(r + t) * cols + c]) * w[t * cols + c]);
                }
                ASSERT_NEAR(sum[r * cols + c], want, 1e-6 * mag) << terms << " terms at " << r << "," << c;
            }
    }
}

// The weighted row dot is the row dot of the stored product a * w with b, bit for bit (a tail of
// columns past the last whole vector included), each operand at its own row stride.
TEST(Simd, RowDotWeightedEqualsDotOfStoredProduct) {
    const size_t rows = 3, cols = 45, lda = 50, ldb = 61;
    const std::vector<float> a = random_floats(rows * lda, 40), b = random_floats(rows * ldb, 41), w = random_floats(cols, 42);
    std::vector<float> aw(rows * lda), fused(rows), two_pass(rows);
    for (size_t r = 0; r < rows; ++r) binary_per_col(Binary::Mul, a.data() + r * lda, w.data(), aw.data() + r * lda, 1, cols);
    row_dot_weighted(a.data(), lda, w.data(), b.data(), ldb, rows, cols, fused.data());
    row_dot(aw.data(), lda, b.data(), ldb, rows, cols, two_pass.data());
    for (size_t r = 0; r < rows; ++r) {
        EXPECT_EQ(fused[r], two_pass[r]) << r;
        double want = 0;
        for (size_t c = 0; c < cols; ++c) want += double(a[r * lda + c]) * w[c] * b[r * ldb + c];
        EXPECT_NEAR(fused[r], want, 1e-5) << r;
    }
}

TEST(Simd, Bf16RoundTripRoundsToNearestEven) {
    std::vector<float> x = random_floats(1001, 10, -1e3f, 1e3f);
    std::vector<uint16_t> h(x.size());
    std::vector<float> back(x.size());
    f32_to_bf16(x.data(), h.data(), x.size());
    bf16_to_f32(h.data(), back.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(h[i], ttl::float_to_bf16_bits(x[i]));
        ASSERT_EQ(back[i], ttl::bf16_bits_to_float(h[i]));
    }
}

// The background read queue: lines go out oldest read first, a finished read leaves the queue, a
// read that starts takes itself and everything queued before it off, and a full queue drops its
// oldest read.
TEST(BackgroundReads, IssuesOldestFirstAndForgetsStartedReads) {
    static char memory[64 * 64];
    ttl::simd::BackgroundReads q;
    const char* a = memory;
    const char* b = memory + 1024;
    const char* c = memory + 2048;
    q.expect({a, 256, 128, 2});  // 2 rows of 2 lines
    q.expect({b, 256, 128, 2});
    q.expect({c, 256, 128, 2});
    q.issue(3);
    EXPECT_TRUE(q.queued(a));  // one line of a left
    q.issue(1);
    EXPECT_FALSE(q.queued(a));
    EXPECT_TRUE(q.queued(b));
    q.started(b);
    EXPECT_FALSE(q.queued(b));
    EXPECT_TRUE(q.queued(c));
    q.started(a);  // not queued: nothing changes
    EXPECT_TRUE(q.queued(c));
    q.clear();
    EXPECT_FALSE(q.queued(c));
    q.expect({a, 256, 0, 2});  // empty reads are not queued
    q.expect({b, 256, 128, 0});
    EXPECT_FALSE(q.queued(a));
    EXPECT_FALSE(q.queued(b));
    for (int i = 0; i <= ttl::simd::BackgroundReads::kCapacity; ++i) q.expect({memory + 64 * i, 64, 64, 1});
    EXPECT_FALSE(q.queued(memory));
    EXPECT_TRUE(q.queued(memory + 64));
    EXPECT_TRUE(q.queued(memory + 64 * ttl::simd::BackgroundReads::kCapacity));
}

}  // namespace
