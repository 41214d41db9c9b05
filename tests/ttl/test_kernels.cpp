// The example kernels against plain loops, in fast mode, validate mode and seeded random order.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>

#include "examples/ttl/kernels.hpp"
#include "ttl/simd/prefetch.hpp"

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

// A reader that walks a tensor's blocks in row-major order has the block a buffer's depth ahead
// queued as a background read once its order is confirmed (the second read on); one that jumps
// has nothing queued for the jump. Either way the values are the tensor's.
TEST(Copy, RowMajorReadsQueueTheBlockADepthAhead) {
    Tensor x = random_tensor({4 * 32, 3 * 32}, 32);
    const int depth = 3;
    auto block_at = [&](int r, int c) { return reinterpret_cast<const char*>(x.data<float>() + (r * 32) * x.cols() + c * 32); };
    Tensor out({4 * 32, 3 * 32});
    std::vector<std::pair<int, int>> order;
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 3; ++c) order.emplace_back(r, c);
    std::swap(order[7], order[8]);  // a jump: (2, 2) read before (2, 1)
    std::vector<bool> queued_ahead;
    ttl::Operation op("read_ahead", ttl::Grid{1, 1});
    auto in = ttl::make_dataflow_buffer_like(op, x, {1, 1}, depth, "in");
    auto res = ttl::make_dataflow_buffer_like(op, out, {1, 1}, 2, "res");
    op.compute([&] {
        for (size_t i = 0; i < order.size(); ++i) {
            auto b = in.wait();
            auto o = res.reserve();
            o.store(b);
        }
    });
    op.datamovement([&] {
        for (size_t i = 0; i < order.size(); ++i) {
            auto b = in.reserve();
            ttl::copy(x(order[i].first, order[i].second), b).wait();
            const size_t ahead = i + depth;  // in row-major order, which `order` follows but at 7 and 8
            queued_ahead.push_back(ahead < 12 && ttl::simd::background_reads.queued(block_at(int(ahead / 3), int(ahead % 3))));
        }
    });
    op.datamovement([&] {
        for (size_t i = 0; i < order.size(); ++i) {
            auto r = res.wait();
            ttl::copy(r, out(order[i].first, order[i].second)).wait();
        }
    });
    op.run(fast());
    const std::vector<bool> want = {false, true, true, true, true, true, true, false, false, false, false, false};
    EXPECT_EQ(queued_ahead, want);
    expect_equal(out, x);
}

// Readers that repeat their reads at a fixed offset have the read a buffer's depth ahead queued
// once their last 8 reads showed the period: the same four of five column blocks in every tile
// row (Engram's key reads: period 4), and a column of blocks (its value reads: period 1, which a
// row-major walk never predicts).
TEST(Copy, PeriodicReadsQueueTheReadADepthAhead) {
    const int tile_rows = 12, tile_cols = 5;
    Tensor x = random_tensor({tile_rows * 32, tile_cols * 32}, 33);
    auto block_at = [&](std::pair<int, int> rc) {
        return reinterpret_cast<const char*>(x.data<float>() + (rc.first * 32) * x.cols() + rc.second * 32);
    };
    std::vector<std::pair<int, int>> keys, values;
    for (int r = 0; r < tile_rows; ++r) {
        for (int c = 0; c < 4; ++c) keys.emplace_back(r, c);
        values.emplace_back(r, 4);
    }
    const int key_depth = 3, value_depth = 2;
    std::vector<bool> key_queued, value_queued;
    Tensor out({tile_rows * 32, tile_cols * 32});
    ttl::Operation op("periodic_reads", ttl::Grid{1, 1});
    auto k_dfb = ttl::make_dataflow_buffer_like(op, x, {1, 1}, key_depth, "keys");
    auto v_dfb = ttl::make_dataflow_buffer_like(op, x, {1, 1}, value_depth, "values");
    auto res = ttl::make_dataflow_buffer_like(op, out, {1, 1}, 2, "res");
    op.compute([&] {
        for (size_t i = 0; i < keys.size() + values.size(); ++i) {
            auto b = i < keys.size() ? k_dfb.wait() : v_dfb.wait();
            auto o = res.reserve();
            o.store(b);
        }
    });
    op.datamovement([&] {
        for (size_t i = 0; i < keys.size(); ++i) {
            auto b = k_dfb.reserve();
            ttl::copy(x(keys[i].first, keys[i].second), b).wait();
            key_queued.push_back(i + key_depth < keys.size() && ttl::simd::background_reads.queued(block_at(keys[i + key_depth])));
        }
        for (size_t i = 0; i < values.size(); ++i) {
            auto b = v_dfb.reserve();
            ttl::copy(x(values[i].first, values[i].second), b).wait();
            value_queued.push_back(i + value_depth < values.size() &&
                                   ttl::simd::background_reads.queued(block_at(values[i + value_depth])));
        }
    });
    op.datamovement([&] {
        for (const auto& walk : {keys, values})
            for (auto [r, c] : walk) {
                auto o = res.wait();
                ttl::copy(o, out(r, c)).wait();
            }
    });
    op.run(fast());
    for (size_t i = 11; i + key_depth < keys.size(); ++i) EXPECT_TRUE(key_queued[i]) << "key read " << i;  // 8 + period 4
    for (size_t i = 0; i < values.size(); ++i)
        EXPECT_EQ(value_queued[i], i >= 8 && i + value_depth < values.size()) << "value read " << i;  // 8 + period 1
    expect_equal(out, x);
}

// A causal FIR filter over a stream of row blocks, written as TT-Lang block math: the executor
// fuses the chain of products into one pass (with a residual add of its SiLU in the same pass, as
// the Engram conv writes it); a chain with a base expression, one broken by a full-block factor, and
// one longer than the fused kernel takes, take the general path for part of it. All against a
// double loop, in every mode.
TEST(BlockMath, SumsOfRowShiftedProductsMatchLoop) {
    const int cols = 64, blocks = 3, rows = blocks * 32, max_taps = 10, dilation = 3;
    Tensor x = random_tensor({rows, cols}, 40), w = random_tensor({max_taps, cols}, 41), z = random_tensor({rows, cols}, 42);
    std::vector<Tensor> w_rows;
    for (int k = 0; k < max_taps; ++k) w_rows.push_back(Tensor::from_vector(
        std::vector<float>(w.data<float>() + k * cols, w.data<float>() + (k + 1) * cols), {1, cols}));
    auto at = [&](const Tensor& t, int r, int c) { return r < 0 ? 0.0 : static_cast<double>(t.data<float>()[r * cols + c]); };
    for (int variant = 0; variant < 5; ++variant) {
        // 0: y = sum_k x[t - s_k] w_k;  1: z + y;  2: the k = 1 term's factor is z * w_1, a full
        // block;  3: z + silu(y);  4: y with 10 taps.
        const int taps = variant == 4 ? max_taps : 4;
        const bool uses_z = variant >= 1 && variant <= 3;
        Tensor want({rows, cols});
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) {
                double y = variant == 1 ? at(z, r, c) : 0.0;
                for (int k = 0; k < taps; ++k) {
                    const double f = (variant == 2 && k == 1 ? at(z, r, c) : 1.0) * at(w, k, c);
                    y += at(x, r - (taps - 1 - k) * dilation, c) * f;
                }
                if (variant == 3) y = at(z, r, c) + y / (1.0 + std::exp(-y));
                want.data<float>()[r * cols + c] = static_cast<float>(y);
            }
        for (const auto& mode : all_modes()) {
            Tensor out({rows, cols});
            ttl::Operation op("fir", ttl::Grid{1, 1});
            const ttl::TileShape blk{1, cols / 32};
            auto x_dfb = ttl::make_dataflow_buffer_like(op, x, blk, 2, "x");
            auto z_dfb = ttl::make_dataflow_buffer_like(op, z, blk, 2, "z");
            auto hist = ttl::make_dataflow_buffer_like(op, x, blk, 2, "history");
            std::vector<ttl::DataflowBuffer> w_dfb;
            for (int k = 0; k < taps; ++k) w_dfb.push_back(ttl::make_dataflow_buffer_like(op, w_rows[0], blk, 1, "w"));
            auto out_dfb = ttl::make_dataflow_buffer_like(op, out, blk, 2, "out");
            op.compute([&] {
                std::vector<ttl::Block> ws;
                for (int k = 0; k < taps; ++k) ws.push_back(w_dfb[static_cast<size_t>(k)].wait());
                std::optional<ttl::Block> prev;
                for (int b = 0; b < blocks; ++b) {
                    auto xb = x_dfb.wait();
                    std::optional<ttl::Block> zb;
                    if (uses_z) zb.emplace(z_dfb.wait());
                    ttl::BlockExpr p = prev ? ttl::BlockExpr(*prev) : ttl::math::fill(0.0f, blk);
                    auto term = [&](int k) {
                        ttl::BlockExpr f = ttl::math::broadcast(ws[static_cast<size_t>(k)], ttl::BcastDim::Row, blk);
                        if (variant == 2 && k == 1) f = *zb * f;
                        return ttl::math::row_shift(p, xb, (taps - 1 - k) * dilation) * f;
                    };
                    ttl::BlockExpr y = variant == 1 ? *zb + term(0) : term(0);
                    for (int k = 1; k < taps; ++k) y = y + term(k);
                    auto o = out_dfb.reserve();
                    o.store(variant == 3 ? *zb + ttl::math::silu(y) : y);
                    prev.reset();
                    if (b + 1 == blocks) break;
                    auto h = hist.reserve();  // this block is the next one's past
                    h.store(xb);
                    h.push();
                    prev.emplace(hist.wait());
                }
            });
            op.datamovement([&] {
                for (int k = 0; k < taps; ++k) {
                    auto b = w_dfb[static_cast<size_t>(k)].reserve();
                    ttl::copy(w_rows[static_cast<size_t>(k)](0, ttl::slice(0, cols / 32)), b).wait();
                }
                for (int b = 0; b < blocks; ++b) {
                    auto xb = x_dfb.reserve();
                    ttl::copy(x(b, ttl::slice(0, cols / 32)), xb).wait();
                    if (!uses_z) continue;
                    auto zb = z_dfb.reserve();
                    ttl::copy(z(b, ttl::slice(0, cols / 32)), zb).wait();
                }
            });
            op.datamovement([&] {
                for (int b = 0; b < blocks; ++b) {
                    auto o = out_dfb.wait();
                    ttl::copy(o, out(b, ttl::slice(0, cols / 32))).wait();
                }
            });
            op.run(mode);
            for (int i = 0; i < rows * cols; ++i)
                ASSERT_NEAR(out.data<float>()[i], want.data<float>()[i], 1e-5) << "variant " << variant << " element " << i;
        }
    }
}

// Values stored into the block they read, row-shifted (a FIR filter) or broadcast: every element
// sees the input, not elements the store has already overwritten.
TEST(BlockMath, StoresIntoTheBlockTheyReadSeeTheInput) {
    const int cols = 1024, rows = 32;  // a block wide enough to be evaluated in two strips
    Tensor x = random_tensor({rows, cols}, 50), w = random_tensor({2, cols}, 51);
    Tensor w0 = Tensor::from_vector(std::vector<float>(w.data<float>(), w.data<float>() + cols), {1, cols});
    Tensor w1 = Tensor::from_vector(std::vector<float>(w.data<float>() + cols, w.data<float>() + 2 * cols), {1, cols});
    const float* xv = x.data<float>();
    const ttl::TileShape blk{1, cols / 32};
    for (int variant = 0; variant < 3; ++variant) {
        // 0: y = shift(y, 1) * w0 + y * w1 (the fused chain);  1: y = shift(y, 1) + y;  2: y = y * y[0, :]
        for (const auto& mode : all_modes()) {
            Tensor out({rows, cols});
            ttl::Operation op("in_place", ttl::Grid{1, 1});
            auto x_dfb = ttl::make_dataflow_buffer_like(op, x, blk, 1, "x");
            auto w0_dfb = ttl::make_dataflow_buffer_like(op, w0, blk, 1, "w0");
            auto w1_dfb = ttl::make_dataflow_buffer_like(op, w1, blk, 1, "w1");
            auto out_dfb = ttl::make_dataflow_buffer_like(op, out, blk, 1, "out");
            op.compute([&] {
                auto xb = x_dfb.wait();
                auto a = w0_dfb.wait();
                auto b = w1_dfb.wait();
                auto o = out_dfb.reserve();
                if (variant == 0) {
                    o.store(xb);
                } else {  // the weights are not needed: read them into nothing
                    o.store(xb + ttl::math::fill(0.0f, blk) * (a + b));
                }
                const ttl::BlockExpr shifted = ttl::math::row_shift(ttl::math::fill(0.0f, blk), o, 1);
                if (variant == 0)
                    o.store(shifted * ttl::math::broadcast(a, ttl::BcastDim::Row, blk) + o * ttl::math::broadcast(b, ttl::BcastDim::Row, blk));
                else if (variant == 1)
                    o.store(shifted + o);
                else
                    o.store(o * ttl::math::broadcast(o, ttl::BcastDim::Row, blk));
            });
            op.datamovement([&] {
                { auto b = x_dfb.reserve(); ttl::copy(x(0, ttl::slice(0, cols / 32)), b).wait(); }
                { auto b = w0_dfb.reserve(); ttl::copy(w0(0, ttl::slice(0, cols / 32)), b).wait(); }
                { auto b = w1_dfb.reserve(); ttl::copy(w1(0, ttl::slice(0, cols / 32)), b).wait(); }
            });
            op.datamovement([&] {
                auto o = out_dfb.wait();
                ttl::copy(o, out(0, ttl::slice(0, cols / 32))).wait();
            });
            op.run(mode);
            for (int r = 0; r < rows; ++r)
                for (int c = 0; c < cols; ++c) {
                    const float here = xv[r * cols + c], above = r ? xv[(r - 1) * cols + c] : 0.0f;
                    const float want = variant == 0   ? std::fma(here, w1.data<float>()[c], above * w0.data<float>()[c])
                                       : variant == 1 ? above + here
                                                      : here * xv[c];
                    ASSERT_NEAR(out.data<float>()[r * cols + c], want, 1e-6f) << "variant " << variant << " at " << r << " " << c;
                }
        }
    }
}

// Row sums of products: a plain dot, and a dot weighted by a row vector (either factor order, the
// weight on either side), which the executor evaluates without storing the products. Against
// a double loop, in every mode.
TEST(BlockMath, RowSumsOfWeightedProductsMatchLoop) {
    const int rows = 64, cols = 96;
    Tensor a = random_tensor({rows, cols}, 60), b = random_tensor({rows, cols}, 61), w = random_tensor({1, cols}, 62);
    for (int variant = 0; variant < 4; ++variant) {
        // 0: sum a*b;  1: sum (a*w)*b;  2: sum b*(w*a);  3: sum a*a
        Tensor want({rows, 1});
        for (int r = 0; r < rows; ++r) {
            double sum = 0;
            for (int c = 0; c < cols; ++c) {
                const double x = a.data<float>()[r * cols + c], y = variant == 3 ? x : b.data<float>()[r * cols + c];
                sum += x * y * (variant == 1 || variant == 2 ? w.data<float>()[c] : 1.0);
            }
            want.data<float>()[r] = static_cast<float>(sum);
        }
        for (const auto& mode : all_modes()) {
            Tensor out({rows, 1});
            ttl::Operation op("row_dots", ttl::Grid{1, 1});
            const ttl::TileShape blk{1, cols / 32};
            auto a_dfb = ttl::make_dataflow_buffer_like(op, a, blk, 2, "a");
            auto b_dfb = ttl::make_dataflow_buffer_like(op, b, blk, 2, "b");
            auto w_dfb = ttl::make_dataflow_buffer_like(op, w, blk, 1, "w");
            auto out_dfb = ttl::make_dataflow_buffer_like(op, out, {1, 1}, 2, "out");
            op.compute([&] {
                auto wb = w_dfb.wait();
                for (int r = 0; r < rows / 32; ++r) {
                    auto ab = a_dfb.wait();
                    auto bb = b_dfb.wait();
                    const ttl::BlockExpr wr = ttl::math::broadcast(wb, ttl::BcastDim::Row, blk);
                    ttl::BlockExpr x = variant == 0 ? ab * bb : variant == 1 ? ab * wr * bb : variant == 2 ? bb * (wr * ab) : ab * ab;
                    if (variant == 3) x = x + bb * ttl::math::fill(0.0f, blk);  // b is read in every variant
                    auto o = out_dfb.reserve();
                    o.store(ttl::math::reduce_sum(x, ttl::ReduceDim::Row));
                }
            });
            op.datamovement([&] {
                { auto wb = w_dfb.reserve(); ttl::copy(w(0, ttl::slice(0, cols / 32)), wb).wait(); }
                for (int r = 0; r < rows / 32; ++r) {
                    auto ab = a_dfb.reserve();
                    ttl::copy(a(r, ttl::slice(0, cols / 32)), ab).wait();
                    auto bb = b_dfb.reserve();
                    ttl::copy(b(r, ttl::slice(0, cols / 32)), bb).wait();
                }
            });
            op.datamovement([&] {
                for (int r = 0; r < rows / 32; ++r) {
                    auto o = out_dfb.wait();
                    ttl::copy(o, out(r, 0)).wait();
                }
            });
            op.run(mode);
            for (int r = 0; r < rows; ++r)
                ASSERT_NEAR(out.data<float>()[r], want.data<float>()[r], 2e-5) << "variant " << variant << " row " << r;
        }
    }
}

}  // namespace
