// TT-Lang (examples/broadcast.py, general_broadcast.py): o.store(a * ttl.math.broadcast(v, dims=...))
// with a column vector (dims=[1]: column 0 across the columns), a row vector (dims=[0]: row 0
// down the rows) or a scalar (dims=[0, 1]). One block is one tile row of `a`.
#include "examples/ttl/kernels.hpp"

namespace ttl::examples {

RunReport broadcast_mul(const Tensor& a, const Tensor& v, BcastDim dim, Tensor& out, Grid grid,
                        const ExecOptions& options) {
    Operation op("broadcast_mul", grid);
    const int cols = static_cast<int>(a.tile_cols());
    const TileShape row_block{1, cols};
    const TileShape v_block = dim == BcastDim::Col ? TileShape{1, 1} : dim == BcastDim::Row ? TileShape{1, cols} : TileShape{1, 1};
    auto a_dfb = make_dataflow_buffer_like(op, a, row_block, 2, "a");
    auto v_dfb = make_dataflow_buffer_like(op, v, v_block, 2, "v");
    auto out_dfb = make_dataflow_buffer_like(op, out, row_block, 2, "out");
    const int64_t rows = a.tile_rows();

    op.compute([&] {
        auto [begin, end] = node_work(rows);
        for (int64_t r = begin; r < end; ++r) {
            auto av = a_dfb.wait();
            auto vv = v_dfb.wait();
            auto o = out_dfb.reserve();
            o.store(av * math::broadcast(vv, dim, row_block));
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(rows);
        for (int64_t r = begin; r < end; ++r) {
            auto ab = a_dfb.reserve();
            copy(a(r, slice(0, cols)), ab).wait();
            auto vb = v_dfb.reserve();
            // A column vector has one tile per tile row; a row vector and a scalar have one tile row.
            if (dim == BcastDim::Col)
                copy(v(r, 0), vb).wait();
            else if (dim == BcastDim::Row)
                copy(v(0, slice(0, cols)), vb).wait();
            else
                copy(v(0, 0), vb).wait();
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(rows);
        for (int64_t r = begin; r < end; ++r) {
            auto ob = out_dfb.wait();
            copy(ob, out(r, slice(0, cols))).wait();
        }
    });
    return op.run(options);
}

}  // namespace ttl::examples
