// TT-Lang (examples/multicore_matmul.py; metal_examples/multicore_reuse_matmul):
//
//   @ttl.compute()
//   def mm():
//       for _ in my_out_blocks:
//           with c_dfb.reserve() as c_blk:
//               for _ in range(k_blocks):
//                   with a_dfb.wait() as a_blk, b_dfb.wait() as b_blk:
//                       c_blk += a_blk @ b_blk
//
// Blocks are non-square and larger than one tile on purpose: ttl has none of TT-Lang's
// non-square matmul limits (#383, #365).
#include "examples/ttl/kernels.hpp"

namespace ttl::examples {

RunReport matmul(const Tensor& a, const Tensor& b, Tensor& c, TileShape a_block, int bn, Grid grid,
                 const ExecOptions& options) {
    const int bm = a_block.rows, bk = a_block.cols;
    Operation op("matmul", grid);
    auto a_dfb = make_dataflow_buffer_like(op, a, {bm, bk}, 2, "a");
    auto b_dfb = make_dataflow_buffer_like(op, b, {bk, bn}, 2, "b");
    auto c_dfb = make_dataflow_buffer_like(op, c, {bm, bn}, 2, "c");
    const int64_t m_blocks = a.tile_rows() / bm, n_blocks = b.tile_cols() / bn, k_blocks = a.tile_cols() / bk;

    op.compute([&] {
        auto [begin, end] = node_work(m_blocks * n_blocks);
        for (int64_t i = begin; i < end; ++i) {
            auto c_blk = c_dfb.reserve();
            for (int64_t k = 0; k < k_blocks; ++k) {
                auto a_blk = a_dfb.wait();
                auto b_blk = b_dfb.wait();
                c_blk += math::matmul(a_blk, b_blk);
            }
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(m_blocks * n_blocks);
        for (int64_t i = begin; i < end; ++i) {
            const int64_t m = i / n_blocks, n = i % n_blocks;
            for (int64_t k = 0; k < k_blocks; ++k) {
                auto a_blk = a_dfb.reserve();
                auto b_blk = b_dfb.reserve();
                auto ta = copy(a(slice(m * bm, (m + 1) * bm), slice(k * bk, (k + 1) * bk)), a_blk);
                auto tb = copy(b(slice(k * bk, (k + 1) * bk), slice(n * bn, (n + 1) * bn)), b_blk);
                ta.wait();
                tb.wait();
            }
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(m_blocks * n_blocks);
        for (int64_t i = begin; i < end; ++i) {
            const int64_t m = i / n_blocks, n = i % n_blocks;
            auto c_blk = c_dfb.wait();
            copy(c_blk, c(slice(m * bm, (m + 1) * bm), slice(n * bn, (n + 1) * bn))).wait();
        }
    });
    return op.run(options);
}

}  // namespace ttl::examples
