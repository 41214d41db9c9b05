// Deferred reads (ttl/copy.cpp): in fast mode a copy of f32 tiles into an f32 block notes where
// they lie and the compute kernel reads them in the tensor. Values must be exactly those of a
// real copy: in every expression form, for blocks narrower than their tensor (rows far apart),
// and when the tensor is overwritten after the copy by the node itself or, ordered through a
// pipe, by another node.
#include <gtest/gtest.h>

#include "transfer_test_util.hpp"
#include "ttl/ttl.hpp"

namespace {

using namespace ttl_test;
using ttl::BcastDim;
using ttl::ReduceDim;
using ttl::Tensor;
namespace math = ttl::math;

ttl::ExecOptions fast(bool deferred) {
    ttl::ExecOptions o;
    o.deferred_reads = deferred;
    return o;
}

// Every form an expression reads a block in: plain, in a row dot or weighted row dot, scaled by a
// column vector, as a product chain's term and its epilogue's operand, broadcast, transposed,
// row-shifted, reduced along columns, in a matmul, in the RMSNorm form, as a max, accumulated.
constexpr int kForms = 14;

Tensor every_form(const Tensor& a, const Tensor& b, const Tensor& w, const Tensor& m, const ttl::ExecOptions& mode) {
    const ttl::TileShape blk{2, 1};
    const int64_t col_blocks = a.tile_cols();
    Tensor out({a.rows(), a.cols() * kForms});
    ttl::Operation op("every_form", ttl::Grid{1, 1});
    auto a_dfb = ttl::make_dataflow_buffer_like(op, a, blk, 2, "a");
    auto b_dfb = ttl::make_dataflow_buffer_like(op, b, blk, 2, "b");
    auto w_dfb = ttl::make_dataflow_buffer_like(op, w, {1, 1}, 2, "w");
    auto m_dfb = ttl::make_dataflow_buffer_like(op, m, {1, 1}, 2, "m");
    auto out_dfb = ttl::make_dataflow_buffer_like(op, out, blk, 2, "out");
    op.compute([&] {
        for (int64_t c = 0; c < col_blocks; ++c) {
            auto ab = a_dfb.wait();
            auto bb = b_dfb.wait();
            auto wb = w_dfb.wait();
            auto mb = m_dfb.wait();
            const ttl::BlockExpr wr = math::broadcast(wb, BcastDim::Row, blk);
            const ttl::BlockExpr row_sums = math::broadcast(math::reduce_sum(bb, ReduceDim::Row), BcastDim::Col, blk);
            for (int f = 0; f < kForms; ++f) {
                auto o = out_dfb.reserve();
                switch (f) {
                    case 0: o.store(ab); break;
                    case 1: o.store(ab + bb); break;
                    case 2: o.store(ab * row_sums); break;
                    case 3: o.store(math::broadcast(math::reduce_sum(ab * bb, ReduceDim::Row), BcastDim::Col, blk)); break;
                    case 4: o.store(math::broadcast(math::reduce_sum(ab * wr * bb, ReduceDim::Row), BcastDim::Col, blk)); break;
                    case 5: o.store(bb + math::silu(ab * wr + bb * math::broadcast(mb, BcastDim::Row, blk))); break;
                    case 6: o.store(math::broadcast(ab, BcastDim::Row, blk) - math::broadcast(bb, BcastDim::Col, blk)); break;
                    case 7: o.store(math::transpose(math::transpose(ab))); break;
                    case 8: o.store(math::row_shift(bb, ab, 3) * wr + ab); break;
                    case 9: o.store(math::broadcast(math::reduce_sum(ab, ReduceDim::Col), BcastDim::Row, blk)); break;
                    case 10: o.store(math::matmul(ab, mb)); break;
                    case 11: o.store(ab * row_sums * wr); break;
                    case 12: o.store(math::broadcast(math::reduce_max(ab, ReduceDim::Row), BcastDim::Col, blk)); break;
                    case 13: o.store(ab); o += bb * ab; break;
                }
            }
        }
    });
    op.datamovement([&] {
        for (int64_t c = 0; c < col_blocks; ++c) {
            { auto x = a_dfb.reserve(); ttl::copy(a(ttl::slice(0, 2), c), x).wait(); }
            { auto x = b_dfb.reserve(); ttl::copy(b(ttl::slice(0, 2), c), x).wait(); }
            { auto x = w_dfb.reserve(); ttl::copy(w(0, c), x).wait(); }
            { auto x = m_dfb.reserve(); ttl::copy(m(0, c), x).wait(); }
        }
    });
    op.datamovement([&] {
        for (int64_t c = 0; c < col_blocks; ++c)
            for (int f = 0; f < kForms; ++f) {
                auto o = out_dfb.wait();
                ttl::copy(o, out(ttl::slice(0, 2), f * col_blocks + c)).wait();
            }
    });
    op.run(mode);
    return out;
}

// Blocks one tile wide of tensors three tiles wide: each block row lies 96 floats from the next.
TEST(DeferredReads, EveryExpressionFormReadsWhatACopyReads) {
    const Tensor a = random_tensor({64, 96}, 1), b = random_tensor({64, 96}, 2), w = random_tensor({32, 96}, 3),
                 m = random_tensor({32, 96}, 4);
    const Tensor copied = every_form(a, b, w, m, fast(false));
    expect_equal(every_form(a, b, w, m, fast(true)), copied, "deferred reads");
    expect_equal(every_form(a, b, w, m, validate()), copied, "validate mode");
    // and the copies are what they claim: form 1 is a + b
    for (int64_t r = 0; r < 64; ++r)
        for (int64_t c = 0; c < 96; ++c)
            ASSERT_EQ(copied.data<float>()[r * 96 * kForms + 96 + c], a.data<float>()[r * 96 + c] + b.data<float>()[r * 96 + c]);
}

// The compute kernel holds a block copied from x, unread, while its node's writer overwrites x
// (ordered after the copy through the node's buffers); the block must still hold x as it was.
TEST(DeferredReads, ABlockKeepsItsValuesWhenItsNodeOverwritesTheTensor) {
    const Tensor x0 = random_tensor({32, 64}, 5);
    for (const auto& mode : {fast(true), fast(false), validate()}) {
        Tensor x = x0.clone(), y({64, 32});
        ttl::Operation op("overwrite_after_copy", ttl::Grid{1, 1});
        auto in = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "in");
        auto out = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "out");
        auto ack = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "ack");
        auto res = ttl::make_dataflow_buffer_like(op, y, {1, 1}, 1, "res");
        op.compute([&] {
            auto held = in.wait();
            { auto o = out.reserve(); o.store(math::fill(7.0f, {1, 1})); }
            { auto k = ack.wait(); auto r = res.reserve(); r.store(k); }  // x has been overwritten now
            { auto r = res.reserve(); r.store(held); }
        });
        op.datamovement([&] { auto b = in.reserve(); ttl::copy(x(0, 1), b).wait(); });
        op.datamovement([&] {
            { auto o = out.wait(); ttl::copy(o, x(0, 1)).wait(); }
            { auto k = ack.reserve(); ttl::copy(x(0, 1), k).wait(); }
            for (int i = 0; i < 2; ++i) { auto r = res.wait(); ttl::copy(r, y(i, 0)).wait(); }
        });
        op.run(mode);
        for (int64_t r = 0; r < 32; ++r)
            for (int64_t c = 0; c < 32; ++c) {
                ASSERT_EQ(y.data<float>()[r * 32 + c], 7.0f);                                  // the new x
                ASSERT_EQ(y.data<float>()[(32 + r) * 32 + c], x0.data<float>()[r * 64 + 32 + c]);  // the copy: the old x
            }
    }
}

// Node 0 holds a block copied from x, unread, and then sends on a pipe; node 1 overwrites x after
// receiving, then sends back; only then does node 0 read its block, which must hold the old x. The
// blocks sent are themselves copies from tensors (a deferred read sent on).
TEST(DeferredReads, ABlockKeepsItsValuesWhenAnotherNodeOverwritesTheTensorAfterASend) {
    const Tensor x0 = random_tensor({32, 32}, 6), token = random_tensor({32, 32}, 7);
    for (const auto& mode : {fast(true), fast(false), validate()}) {
        Tensor x = x0.clone(), y({4 * 32, 32});
        ttl::Operation op("overwrite_across_nodes", ttl::Grid{2, 1});
        auto in = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "in");
        auto tok = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "token");
        auto out = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "out");
        auto back = ttl::make_dataflow_buffer_like(op, x, {1, 1}, 1, "back");
        auto res = ttl::make_dataflow_buffer_like(op, y, {1, 1}, 1, "res");
        ttl::PipeNet there(op, {ttl::Pipe{{0, 0}, ttl::Coord{1, 0}}}, "there");
        ttl::PipeNet home(op, {ttl::Pipe{{1, 0}, ttl::Coord{0, 0}}}, "home");
        op.compute([&] {
            if (ttl::node().x == 0) {
                auto held = in.wait();
                { auto t = tok.wait(); auto r = res.reserve(); r.store(t); }
                { auto b = back.wait(); auto r = res.reserve(); r.store(b); }  // x has been overwritten now
                { auto r = res.reserve(); r.store(held); }
            } else {
                { auto t = tok.wait(); auto o = out.reserve(); o.store(t * 0.0f + 7.0f); }
                { auto b = back.wait(); auto r = res.reserve(); r.store(b); }
            }
        });
        op.datamovement([&] {  // reader
            if (ttl::node().x == 0) {
                { auto b = in.reserve(); ttl::copy(x(0, 0), b).wait(); }
                {
                    auto t = tok.reserve();
                    ttl::copy(token(0, 0), t).wait();
                    there.if_src([&](const ttl::SrcPipe& p) { ttl::copy(t, p).wait(); });
                }
                { auto b = back.reserve(); home.if_dst([&](const ttl::DstPipe& p) { ttl::copy(p, b).wait(); }); }
            } else {
                auto t = tok.reserve();
                there.if_dst([&](const ttl::DstPipe& p) { ttl::copy(p, t).wait(); });
            }
        });
        op.datamovement([&] {  // writer
            if (ttl::node().x == 0) {
                for (int i = 0; i < 3; ++i) { auto r = res.wait(); ttl::copy(r, y(i, 0)).wait(); }
            } else {
                { auto o = out.wait(); ttl::copy(o, x(0, 0)).wait(); }
                {
                    auto b = back.reserve();
                    ttl::copy(x(0, 0), b).wait();
                    home.if_src([&](const ttl::SrcPipe& p) { ttl::copy(b, p).wait(); });
                }
                auto r = res.wait();
                ttl::copy(r, y(3, 0)).wait();
            }
        });
        op.run(mode);
        for (int64_t i = 0; i < 32 * 32; ++i) {
            ASSERT_EQ(y.data<float>()[i], token.data<float>()[i]);
            ASSERT_EQ(y.data<float>()[32 * 32 + i], 7.0f);
            ASSERT_EQ(y.data<float>()[2 * 32 * 32 + i], x0.data<float>()[i]);
            ASSERT_EQ(y.data<float>()[3 * 32 * 32 + i], 7.0f);
        }
    }
}

}  // namespace
