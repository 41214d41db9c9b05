// Background writes (ttl/simd/prefetch.hpp, ttl/copy.cpp): in fast mode a writer's copy of a block
// into a tensor that streams to DRAM is done later, a few lines at a time, by the compute loops
// that follow. The tensor must end up exactly as with immediate copies: when the block's slot is
// reserved again before its write is done, when one block is written twice, and when the node
// reads back what it wrote.
#include <gtest/gtest.h>

#include "transfer_test_util.hpp"
#include "ttl/ttl.hpp"

namespace {

using namespace ttl_test;
using ttl::BcastDim;
using ttl::Tensor;
namespace math = ttl::math;

// 512 x 4096 f32: 8 MiB, the size from which writes stream (copy.cpp).
constexpr int64_t kRows = 512, kCols = 4096;
const ttl::TileShape kBlock{1, 4};

ttl::ExecOptions fast(bool background_writes) {
    ttl::ExecOptions o;
    o.background_writes = background_writes;
    return o;
}

// out = 2 x + 1 (form 0: no loop that issues background work, so writes wait for their slot's
// next reserve or the node's end) or x + silu(x w + shift(x) w) (form 1: a product chain, whose rows
// issue them), or the chain every fourth block (form 2); with `copy`, each block goes there too.
void stream(const Tensor& x, const Tensor& w, int form, Tensor& out, Tensor* copy, const ttl::ExecOptions& mode) {
    ttl::Operation op("stream", ttl::Grid{2, 1});
    auto x_dfb = ttl::make_dataflow_buffer_like(op, x, kBlock, 2, "x");
    auto w_dfb = ttl::make_dataflow_buffer_like(op, w, kBlock, 2, "w");
    auto out_dfb = ttl::make_dataflow_buffer_like(op, out, kBlock, 2, "out");
    const int64_t col_blocks = x.tile_cols() / kBlock.cols;
    auto blocks = [&] {
        auto [nx, ny] = ttl::node();
        const int64_t per_node = x.tile_rows() / 2;
        return std::pair<int64_t, int64_t>{nx * per_node, (nx + 1) * per_node};
    };
    auto cols = [&](int64_t c) { return ttl::slice(c * kBlock.cols, (c + 1) * kBlock.cols); };
    auto chain = [&](int64_t c) { return form == 1 || (form == 2 && c % 4 == 2); };
    op.compute([&] {
        auto [r0, r1] = blocks();
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = 0; c < col_blocks; ++c) {
                auto xb = x_dfb.wait();
                auto o = out_dfb.reserve();
                if (!chain(c)) {
                    o.store(xb * 2.0f + 1.0f);
                } else {
                    auto wb = w_dfb.wait();
                    o.store(xb + math::silu(xb * math::broadcast(wb, BcastDim::Row, kBlock) +
                                            math::row_shift(xb, xb, 1) * math::broadcast(wb, BcastDim::Row, kBlock)));
                }
            }
    });
    op.datamovement([&] {
        auto [r0, r1] = blocks();
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = 0; c < col_blocks; ++c) {
                auto xb = x_dfb.reserve();
                ttl::copy(x(r, cols(c)), xb).wait();
                if (chain(c)) {
                    auto wb = w_dfb.reserve();
                    ttl::copy(w(0, cols(c)), wb).wait();
                }
            }
    });
    op.datamovement([&] {
        auto [r0, r1] = blocks();
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = 0; c < col_blocks; ++c) {
                auto o = out_dfb.wait();
                ttl::copy(o, out(r, cols(c))).wait();
                if (copy) ttl::copy(o, (*copy)(r, cols(c))).wait();
            }
    });
    op.run(mode);
}

TEST(BackgroundWrites, OutputIsThatOfImmediateCopies) {
    const Tensor x = random_tensor({kRows, kCols}, 1), w = random_tensor({1, kCols}, 2);
    for (int form : {0, 1}) {
        Tensor queued({kRows, kCols}), immediate({kRows, kCols}), checked({kRows, kCols});
        stream(x, w, form, queued, nullptr, fast(true));
        stream(x, w, form, immediate, nullptr, fast(false));
        stream(x, w, form, checked, nullptr, validate());
        expect_equal(queued, immediate, form == 0 ? "2x + 1" : "x + silu(chain)");
        expect_equal(queued, checked, form == 0 ? "2x + 1, validate" : "x + silu(chain), validate");
        if (form == 0) {
            for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(queued.data<float>()[i], x.data<float>()[i] * 2.0f + 1.0f) << i;
        }
    }
}

TEST(BackgroundWrites, OneBlockWrittenTwice) {
    // Two queued writes read each slot. The writer takes two blocks at a time; then the chain of
    // block 4k + 2 finishes the first write of block 4k + 1 and the second is left: block 4k + 3
    // gets that slot only after it.
    const Tensor x = random_tensor({kRows, kCols}, 3), w = random_tensor({1, kCols}, 4);
    Tensor out({kRows, kCols}), copy({kRows, kCols}), want({kRows, kCols});
    stream(x, w, 2, out, &copy, fast(true));
    stream(x, w, 2, want, nullptr, fast(false));
    expect_equal(out, want, "first write");
    expect_equal(copy, want, "second write");
}

TEST(BackgroundWrites, ANodeReadsBackWhatItWrote) {
    // The writer writes a block into `scratch`, then tells the reader so through a token buffer;
    // the reader reads the block back and the node writes it to `out`. The read must see the
    // write, which nothing else has finished by then.
    const Tensor x = random_tensor({kRows, kCols}, 5), token_in = random_tensor({32, 32}, 6);
    for (const ttl::ExecOptions& mode : {fast(true), validate()}) {
        Tensor scratch({kRows, kCols}), out({kRows, kCols}), token_out({32, 32});
        ttl::Operation op("read_back", ttl::Grid{1, 1});
        auto x_dfb = ttl::make_dataflow_buffer_like(op, x, kBlock, 2, "x");
        auto out_dfb = ttl::make_dataflow_buffer_like(op, x, kBlock, 2, "out");
        auto token_dfb = ttl::make_dataflow_buffer_like(op, token_in, {1, 1}, 1, "token");
        const auto cols = ttl::slice(0, kBlock.cols);
        op.compute([&] {
            for (int i = 0; i < 2; ++i) {  // x into scratch, then scratch into out
                auto xb = x_dfb.wait();
                auto o = out_dfb.reserve();
                o.store(xb * 1.0f);
            }
        });
        op.datamovement([&] {  // reader
            {
                auto xb = x_dfb.reserve();
                ttl::copy(x(0, cols), xb).wait();
            }
            {
                auto t = token_dfb.wait();
                ttl::copy(t, token_out(0, 0)).wait();
            }
            auto xb = x_dfb.reserve();
            ttl::copy(scratch(0, cols), xb).wait();
        });
        op.datamovement([&] {  // writer
            {
                auto o = out_dfb.wait();
                ttl::copy(o, scratch(0, cols)).wait();
            }
            {
                auto t = token_dfb.reserve();
                ttl::copy(token_in(0, 0), t).wait();
            }
            auto o = out_dfb.wait();
            ttl::copy(o, out(0, cols)).wait();
        });
        op.run(mode);
        for (int64_t r = 0; r < 32; ++r)
            for (int64_t c = 0; c < kBlock.cols * 32; ++c)
                ASSERT_EQ(out.data<float>()[r * kCols + c], x.data<float>()[r * kCols + c]) << r << ", " << c;
    }
}

}  // namespace
