// The example kernels against plain loops, in fast mode, validate mode and seeded random order.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "examples/ttl/kernels.hpp"

namespace {

using ttl::Tensor;

Tensor random_tensor(ttl::Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t(std::move(shape));
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.span<float>()) v = u(rng);
    return t;
}

ttl::ExecOptions fast() { return {}; }
ttl::ExecOptions validate(uint64_t seed = 0) {
    ttl::ExecOptions o;
    o.mode = ttl::Mode::Validate;
    o.seed = seed;
    return o;
}

// The three runs of a kernel that must agree bit for bit.
std::vector<ttl::ExecOptions> all_modes() { return {fast(), validate(0), validate(12345)}; }

void expect_equal(const Tensor& a, const Tensor& b) {
    ASSERT_EQ(a.shape(), b.shape());
    auto x = a.span<float>();
    auto y = b.span<float>();
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], y[i]) << "element " << i;
}

struct AddCase {
    int block_rows, block_cols, grid_x, grid_y;
};

class EltwiseAdd : public ::testing::TestWithParam<AddCase> {};

TEST_P(EltwiseAdd, MatchesLoopInEveryMode) {
    const AddCase p = GetParam();
    Tensor a = random_tensor({128, 256}, 1), b = random_tensor({128, 256}, 2);
    Tensor first;
    for (const auto& mode : all_modes()) {
        Tensor out({128, 256});
        auto report = ttl::examples::eltwise_add(a, b, out, {p.block_rows, p.block_cols}, ttl::Grid{p.grid_x, p.grid_y}, mode);
        EXPECT_EQ(report.nodes, p.grid_x * p.grid_y);
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(out.data<float>()[i], a.data<float>()[i] + b.data<float>()[i]);
        if (!first.shape().empty()) expect_equal(out, first);
        first = out;
    }
}

INSTANTIATE_TEST_SUITE_P(BlocksAndGrids, EltwiseAdd,
                         ::testing::Values(AddCase{1, 1, 1, 1}, AddCase{2, 2, 1, 1}, AddCase{1, 1, 4, 4},
                                           AddCase{2, 2, 4, 4}, AddCase{4, 2, 2, 3}));

TEST(EltwiseAdd, AutoGridAndBf16) {
    Tensor a = random_tensor({64, 96}, 3).to(ttl::DType::BF16), b = random_tensor({64, 96}, 4).to(ttl::DType::BF16);
    Tensor out({64, 96}, ttl::DType::BF16);
    ttl::examples::eltwise_add(a, b, out, {1, 1}, ttl::Grid::Auto);
    for (int64_t i = 0; i < a.numel(); ++i) {
        float expect = ttl::round_to_bf16(ttl::bf16_bits_to_float(a.data<ttl::bf16>()[i].bits) +
                                          ttl::bf16_bits_to_float(b.data<ttl::bf16>()[i].bits));
        ASSERT_EQ(ttl::bf16_bits_to_float(out.data<ttl::bf16>()[i].bits), expect) << i;
    }
}

TEST(EltwiseAdd, PartialEdgeTiles) {
    // 40 x 50 elements: edge tiles are partial; padding reads as zero, writes stay inside.
    Tensor a = random_tensor({40, 50}, 5), b = random_tensor({40, 50}, 6);
    for (const auto& mode : all_modes()) {
        Tensor out({40, 50});
        ttl::examples::eltwise_add(a, b, out, {1, 1}, ttl::Grid{2, 1}, mode);
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(out.data<float>()[i], a.data<float>()[i] + b.data<float>()[i]);
    }
}

class Broadcast : public ::testing::TestWithParam<ttl::BcastDim> {};

TEST_P(Broadcast, MatchesLoop) {
    const ttl::BcastDim dim = GetParam();
    const int64_t R = 96, C = 128;
    Tensor a = random_tensor({R, C}, 7);
    ttl::Shape vshape = dim == ttl::BcastDim::Col ? ttl::Shape{R, 1} : dim == ttl::BcastDim::Row ? ttl::Shape{1, C} : ttl::Shape{1, 1};
    Tensor v = random_tensor(vshape, 8);
    Tensor first;
    for (const auto& mode : all_modes()) {
        Tensor out({R, C});
        ttl::examples::broadcast_mul(a, v, dim, out, ttl::Grid{3, 1}, mode);
        for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < C; ++c) {
                float s = dim == ttl::BcastDim::Col ? v.data<float>()[r] : dim == ttl::BcastDim::Row ? v.data<float>()[c] : v.data<float>()[0];
                ASSERT_EQ(out.data<float>()[r * C + c], a.data<float>()[r * C + c] * s) << r << "," << c;
            }
        if (!first.shape().empty()) expect_equal(out, first);
        first = out;
    }
}

INSTANTIATE_TEST_SUITE_P(Dims, Broadcast, ::testing::Values(ttl::BcastDim::Col, ttl::BcastDim::Row, ttl::BcastDim::Scalar));

void rms_norm_reference(const Tensor& x, const Tensor& w, float eps, std::vector<double>& out) {
    const int64_t R = x.rows(), D = x.cols();
    out.resize(static_cast<size_t>(R * D));
    for (int64_t r = 0; r < R; ++r) {
        double ss = 0;
        for (int64_t c = 0; c < D; ++c) ss += double(x.data<float>()[r * D + c]) * x.data<float>()[r * D + c];
        double inv = 1.0 / std::sqrt(ss / double(D) + eps);
        for (int64_t c = 0; c < D; ++c) out[static_cast<size_t>(r * D + c)] = x.data<float>()[r * D + c] * inv * w.data<float>()[c];
    }
}

TEST(RmsNorm, ReduceThenBroadcastMatchesFp64) {
    const int64_t R = 100, D = 1024;
    Tensor x = random_tensor({R, D}, 9, -3, 3), w = random_tensor({1, D}, 10, 0.5, 1.5);
    std::vector<double> ref;
    rms_norm_reference(x, w, 1e-6f, ref);
    Tensor first;
    for (const auto& mode : all_modes()) {
        Tensor out({R, D});
        ttl::examples::rms_norm(x, w, 1e-6f, out, ttl::Grid::Auto, mode);
        for (int64_t i = 0; i < R * D; ++i)
            ASSERT_NEAR(out.data<float>()[i], ref[static_cast<size_t>(i)], 1e-5 * std::abs(ref[static_cast<size_t>(i)]) + 1e-6) << i;
        if (!first.shape().empty()) expect_equal(out, first);
        first = out;
    }
}

TEST(RmsNorm, WrongBroadcastIsNaNInValidateMode) {
    // On the chip, a reduce leaves garbage outside column 0: broadcasting row 0 reads it. Validate
    // mode fills those positions with NaN, so the bug shows in the output.
    const int64_t R = 64, D = 256;
    Tensor x = random_tensor({R, D}, 11), w = random_tensor({1, D}, 12);
    Tensor out({R, D});
    ttl::examples::rms_norm(x, w, 1e-6f, out, ttl::Grid{2, 1}, validate(), /*forget_broadcast=*/true);
    int nans = 0;
    for (float v : out.span<float>()) nans += std::isnan(v);
    EXPECT_GT(nans, R * D / 2);
    Tensor good({R, D});
    ttl::examples::rms_norm(x, w, 1e-6f, good, ttl::Grid{2, 1}, validate());
    for (float v : good.span<float>()) ASSERT_FALSE(std::isnan(v));
}

struct MatmulCase {
    int64_t M, K, N;
    int bm, bk, bn, grid_x;
};

class Matmul : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(Matmul, AccumulatesOverKLikeFp64) {
    const MatmulCase p = GetParam();
    Tensor a = random_tensor({p.M, p.K}, 13), b = random_tensor({p.K, p.N}, 14);
    std::vector<double> ref(static_cast<size_t>(p.M * p.N));
    for (int64_t i = 0; i < p.M; ++i)
        for (int64_t j = 0; j < p.N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < p.K; ++k) s += double(a.data<float>()[i * p.K + k]) * b.data<float>()[k * p.N + j];
            ref[static_cast<size_t>(i * p.N + j)] = s;
        }
    Tensor first;
    for (const auto& mode : all_modes()) {
        Tensor c({p.M, p.N});
        auto report = ttl::examples::matmul(a, b, c, {p.bm, p.bk}, p.bn, ttl::Grid{p.grid_x, 1}, mode);
        EXPECT_NEAR(report.kernels[1].flops, 2.0 * p.M * p.N * p.K, 1);
        for (int64_t i = 0; i < p.M * p.N; ++i)
            ASSERT_NEAR(c.data<float>()[i], ref[static_cast<size_t>(i)], 1e-5 * std::sqrt(double(p.K))) << i;
        if (!first.shape().empty()) expect_equal(c, first);
        first = c;
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Matmul,
                         ::testing::Values(MatmulCase{32, 32, 32, 1, 1, 1, 1},      // one tile, one node
                                           MatmulCase{64, 128, 96, 1, 1, 1, 1},     // K accumulation, 1x1 tiles
                                           MatmulCase{128, 256, 64, 2, 4, 1, 1},    // non-square blocks
                                           MatmulCase{128, 256, 192, 2, 2, 3, 4},   // multi-node
                                           MatmulCase{96, 64, 160, 3, 1, 5, 2}));   // odd block shapes

TEST(Pipes, MulticastFromOneReader) {
    Tensor a = random_tensor({128, 128}, 15), b = random_tensor({128, 128}, 16), c = random_tensor({32, 32}, 17);
    Tensor first;
    for (const auto& mode : all_modes()) {
        Tensor out({128, 128});
        ttl::examples::eltwise_pipe(a, b, c, out, 4, mode);
        for (int64_t i = 0; i < out.numel(); ++i) {
            int64_t r = i / 128, col = i % 128;
            // ttl contracts a * b + c into one fused multiply-add (a single rounding).
            float expect = std::fma(a.data<float>()[i], b.data<float>()[i], c.data<float>()[(r % 32) * 32 + col % 32]);
            ASSERT_EQ(out.data<float>()[i], expect) << i;
        }
        if (!first.shape().empty()) expect_equal(out, first);
        first = out;
    }
}

TEST(Pipes, RingForwardToNextNode) {
    const int n = 5;
    Tensor in = random_tensor({32 * n, 64}, 18);
    for (const auto& mode : all_modes()) {
        Tensor out({32 * n, 64});
        ttl::examples::ring_forward(in, out, mode);
        for (int i = 0; i < n; ++i) {
            int from = (i + n - 1) % n;
            for (int64_t e = 0; e < 32 * 64; ++e)
                ASSERT_EQ(out.data<float>()[i * 32 * 64 + e], in.data<float>()[from * 32 * 64 + e]);
        }
    }
}

}  // namespace

namespace {

TEST(Report, CountsPushesTilesBytesAndFlops) {
    Tensor a = random_tensor({128, 256}, 20), b = random_tensor({128, 256}, 21), out({128, 256});
    auto r = ttl::examples::eltwise_add(a, b, out, {1, 1}, ttl::Grid{2, 1});
    ASSERT_EQ(r.buffers.size(), 3u);
    for (const auto& buf : r.buffers) {
        EXPECT_EQ(buf.pushes, 32) << buf.name;  // 4 x 8 tiles
        EXPECT_GE(buf.peak_blocks, 1);
        EXPECT_LE(buf.peak_blocks, 2);          // block_count
    }
    EXPECT_EQ(r.kernels[0].name, "reader");
    EXPECT_EQ(r.kernels[0].tiles_moved, 64);
    EXPECT_EQ(r.kernels[0].bytes_moved, 64 * 4096);
    EXPECT_EQ(r.kernels[2].tiles_moved, 32);
    EXPECT_GT(r.seconds, 0.0);
    EXPECT_NE(r.to_string().find("buffer a"), std::string::npos);
}

}  // namespace

namespace {

TEST(Copy, PaddingRowsReadAsZeroAfterTheSlotHeldData) {
    // One slot receives a full tile, then a one-row tensor: rows 1..31 must read as zero again.
    Tensor full = random_tensor({32, 32}, 30), row = random_tensor({1, 32}, 31);
    for (const auto& mode : all_modes()) {
        Tensor out({96, 32});
        ttl::Operation op("padding", ttl::Grid{1, 1});
        auto in = ttl::make_dataflow_buffer_like(op, full, {1, 1}, 1, "in");
        auto res = ttl::make_dataflow_buffer_like(op, out, {1, 1}, 1, "res");
        op.compute([&] {
            for (int i = 0; i < 3; ++i) {
                auto x = in.wait();
                auto o = res.reserve();
                o.store(x);
            }
        });
        op.datamovement([&] {
            const ttl::Tensor* sources[] = {&full, &row, &row};
            for (const ttl::Tensor* t : sources) {
                auto b = in.reserve();
                ttl::copy((*t)(0, 0), b).wait();
            }
        });
        op.datamovement([&] {
            for (int i = 0; i < 3; ++i) {
                auto r = res.wait();
                ttl::copy(r, out(i, 0)).wait();
            }
        });
        op.run(mode);
        for (int tile = 1; tile < 3; ++tile)
            for (int r = 0; r < 32; ++r)
                for (int c = 0; c < 32; ++c)
                    ASSERT_EQ(out.data<float>()[(tile * 32 + r) * 32 + c], r == 0 ? row.data<float>()[c] : 0.0f)
                        << tile << " " << r << " " << c;
    }
}

}  // namespace
