// Pending row dots (ttl/detail/pending_row_dots.hpp): in fast mode reduce_sum's row dots wait to
// run together, a row of each at a time. The values must be those of validate mode, which runs
// each at once, bit for bit; and giving the block they read back to be filled again must not
// change them.
#include <gtest/gtest.h>

#include <optional>

#include "transfer_test_util.hpp"
#include "ttl/ttl.hpp"

namespace {

using namespace ttl_test;
using ttl::BcastDim;
using ttl::BlockExpr;
using ttl::ReduceDim;
using ttl::Tensor;
namespace math = ttl::math;

constexpr int64_t kTileRows = 4, kCols = 256;
const ttl::TileShape kBlock{1, kCols / 32}, kOne{1, 1};

ttl::ExecOptions fast(bool deferred_reads) {
    ttl::ExecOptions o;
    o.deferred_reads = deferred_reads;
    return o;
}

// Per tile row: out = sum a*a + 2 sum b*b + 3 sum a*w*b (the gating kernel's three sums), in
// column 0 of a one-tile block.
Tensor three_sums(const Tensor& a, const Tensor& b, const Tensor& w, const ttl::ExecOptions& mode) {
    Tensor out({kTileRows * 32, 32});
    ttl::Operation op("three_sums", ttl::Grid{2, 1});
    auto a_dfb = ttl::make_dataflow_buffer_like(op, a, kBlock, 2, "a");
    auto b_dfb = ttl::make_dataflow_buffer_like(op, b, kBlock, 2, "b");
    auto w_dfb = ttl::make_dataflow_buffer_like(op, w, kBlock, 2, "w");
    auto out_dfb = ttl::make_dataflow_buffer_like(op, out, kOne, 2, "out");
    auto rows = [] {
        const int64_t nx = ttl::node().x;
        return std::pair<int64_t, int64_t>{nx * kTileRows / 2, (nx + 1) * kTileRows / 2};
    };
    op.compute([&] {
        auto [r0, r1] = rows();
        for (int64_t r = r0; r < r1; ++r) {
            std::optional<BlockExpr> aa, bb, awb;
            {
                auto ab = a_dfb.wait();
                auto bb_ = b_dfb.wait();
                auto wb = w_dfb.wait();
                aa = math::reduce_sum(ab * ab, ReduceDim::Row);
                bb = math::reduce_sum(bb_ * bb_, ReduceDim::Row);
                awb = math::reduce_sum(ab * math::broadcast(wb, BcastDim::Row, kBlock) * bb_, ReduceDim::Row);
            }  // popped: the sums must be settled by now
            auto o = out_dfb.reserve();
            o.store(*aa + *bb * 2.0f + *awb * 3.0f);
        }
    });
    op.datamovement([&] {
        auto [r0, r1] = rows();
        for (int64_t r = r0; r < r1; ++r) {
            auto ab = a_dfb.reserve();
            auto bb = b_dfb.reserve();
            auto wb = w_dfb.reserve();
            ttl::copy(a(r, ttl::slice(0, kBlock.cols)), ab).wait();
            ttl::copy(b(r, ttl::slice(0, kBlock.cols)), bb).wait();
            ttl::copy(w(0, ttl::slice(0, kBlock.cols)), wb).wait();
        }
    });
    op.datamovement([&] {
        auto [r0, r1] = rows();
        for (int64_t r = r0; r < r1; ++r) {
            auto o = out_dfb.wait();
            ttl::copy(o, out(r, 0)).wait();
        }
    });
    op.run(mode);
    return out;
}

// Column 0 of each: the values a row reduction defines (elsewhere garbage, NaN in validate mode).
void expect_column0_equal(const Tensor& got, const Tensor& want, const char* what) {
    for (int64_t i = 0; i < got.dim(0); ++i)
        ASSERT_EQ(got.data<float>()[i * 32], want.data<float>()[i * 32]) << what << ", row " << i;
}

TEST(PendingRowDots, SumsAreThoseOfValidateMode) {
    const Tensor a = random_tensor({kTileRows * 32, kCols}, 1), b = random_tensor({kTileRows * 32, kCols}, 2),
                 w = random_tensor({1, kCols}, 3);
    const Tensor want = three_sums(a, b, w, validate());
    expect_column0_equal(three_sums(a, b, w, fast(true)), want, "deferred reads");
    expect_column0_equal(three_sums(a, b, w, fast(false)), want, "copied blocks");
    for (int64_t i = 0; i < want.dim(0); ++i) {  // and the sums themselves, in double
        double aa = 0, bb = 0, awb = 0;
        for (int64_t c = 0; c < kCols; ++c) {
            const double x = a.data<float>()[i * kCols + c], y = b.data<float>()[i * kCols + c], v = w.data<float>()[c];
            aa += x * x, bb += y * y, awb += x * v * y;
        }
        const double sum = aa + 2 * bb + 3 * awb;
        ASSERT_NEAR(want.data<float>()[i * 32], sum, 1e-4 * (aa + 2 * bb + 3 * std::abs(awb))) << "row " << i;
    }
}

// A block the compute kernel fills and reads itself, one slot deep: the sum of its square is
// taken, the block popped, the slot filled with 2x and read. Then the sum is used: it must be
// that of x (settled at the pop or the reserve), not of 2x.
TEST(PendingRowDots, SettledBeforeTheirBlockChanges) {
    const Tensor x = random_tensor({kTileRows * 32, kCols}, 4);
    for (const ttl::ExecOptions& mode : {fast(true), fast(false), validate()}) {
        Tensor out({kTileRows * 32, 32});
        ttl::Operation op("settle", ttl::Grid{1, 1});
        auto x_dfb = ttl::make_dataflow_buffer_like(op, x, kBlock, 2, "x");
        auto h_dfb = ttl::make_dataflow_buffer_like(op, x, kBlock, 1, "h");
        auto out_dfb = ttl::make_dataflow_buffer_like(op, out, kOne, 2, "out");
        op.compute([&] {
            for (int64_t r = 0; r < kTileRows; ++r) {
                auto xb = x_dfb.wait();
                {
                    auto h = h_dfb.reserve();
                    h.store(xb);
                }
                std::optional<BlockExpr> s;
                {
                    auto h = h_dfb.wait();
                    s = math::reduce_sum(h * h, ReduceDim::Row);
                }
                {
                    auto h = h_dfb.reserve();
                    h.store(xb * 2.0f);
                }
                auto h = h_dfb.wait();
                auto o = out_dfb.reserve();
                o.store(*s + math::reduce_sum(h * h, ReduceDim::Row));  // sum x^2 + 4 sum x^2
            }
        });
        op.datamovement([&] {
            for (int64_t r = 0; r < kTileRows; ++r) {
                auto xb = x_dfb.reserve();
                ttl::copy(x(r, ttl::slice(0, kBlock.cols)), xb).wait();
            }
        });
        op.datamovement([&] {
            for (int64_t r = 0; r < kTileRows; ++r) {
                auto o = out_dfb.wait();
                ttl::copy(o, out(r, 0)).wait();
            }
        });
        op.run(mode);
        for (int64_t i = 0; i < out.dim(0); ++i) {
            double xx = 0;
            for (int64_t c = 0; c < kCols; ++c) xx += double(x.data<float>()[i * kCols + c]) * x.data<float>()[i * kCols + c];
            ASSERT_NEAR(out.data<float>()[i * 32], 5 * xx, 1e-4 * xx) << "row " << i << (mode.mode == ttl::Mode::Fast ? ", fast" : ", validate");
        }
    }
}

}  // namespace
