// TT-Lang (examples/eltwise_add.py, tutorial multicore form):
//
//   @ttl.operation(grid="auto")
//   def eltwise_add(a, b, out):
//       a_dfb = ttl.make_dataflow_buffer_like(a, shape=(R, C), block_count=2)
//       ...
//       @ttl.compute()
//       def add():
//           for _ in range(my_blocks):
//               with a_dfb.wait() as av, b_dfb.wait() as bv, out_dfb.reserve() as o:
//                   o.store(av + bv)
//       @ttl.datamovement()
//       def read():
//           for r, c in my_blocks:
//               with a_dfb.reserve() as ab, b_dfb.reserve() as bb:
//                   ta = ttl.copy(a[r*R:(r+1)*R, c*C:(c+1)*C], ab); tb = ttl.copy(b[...], bb)
//                   ta.wait(); tb.wait()
//       @ttl.datamovement()
//       def write():
//           for r, c in my_blocks:
//               with out_dfb.wait() as ob:
//                   ttl.copy(ob, out[r*R:(r+1)*R, c*C:(c+1)*C]).wait()
#include "examples/ttl/kernels.hpp"

namespace ttl::examples {

RunReport eltwise_add(const Tensor& a, const Tensor& b, Tensor& out, TileShape block, Grid grid,
                      const ExecOptions& options) {
    Operation op("eltwise_add", grid);
    auto a_dfb = make_dataflow_buffer_like(op, a, block, 2, "a");
    auto b_dfb = make_dataflow_buffer_like(op, b, block, 2, "b");
    auto out_dfb = make_dataflow_buffer_like(op, out, block, 2, "out");

    const int64_t block_rows = a.tile_rows() / block.rows, block_cols = a.tile_cols() / block.cols;
    auto tiles = [&](int64_t i) {  // the tile rectangle of block i
        const int64_t r = i / block_cols, c = i % block_cols;
        return std::pair{slice(r * block.rows, (r + 1) * block.rows), slice(c * block.cols, (c + 1) * block.cols)};
    };

    op.compute([&] {
        auto [begin, end] = node_work(block_rows * block_cols);
        for (int64_t i = begin; i < end; ++i) {
            auto av = a_dfb.wait();
            auto bv = b_dfb.wait();
            auto o = out_dfb.reserve();
            o.store(av + bv);
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = node_work(block_rows * block_cols);
        for (int64_t i = begin; i < end; ++i) {
            auto [rows, cols] = tiles(i);
            auto ab = a_dfb.reserve();
            auto bb = b_dfb.reserve();
            auto ta = copy(a(rows, cols), ab);
            auto tb = copy(b(rows, cols), bb);
            ta.wait();
            tb.wait();
        }
    });
    op.datamovement([&] {  // writer
        auto [begin, end] = node_work(block_rows * block_cols);
        for (int64_t i = begin; i < end; ++i) {
            auto [rows, cols] = tiles(i);
            auto ob = out_dfb.wait();
            copy(ob, out(rows, cols)).wait();
        }
    });
    return op.run(options);
}

}  // namespace ttl::examples
