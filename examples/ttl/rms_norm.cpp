// RMSNorm as Engram's gating kernel computes it: square, reduce across the row (valid data in
// column 0), scale by 1/D, add eps, rsqrt, broadcast column 0 back across the row, multiply by
// x and by the weight row (broadcast down the rows). One block is a whole row of tiles, so a
// single reduce_sum covers the hidden dimension.
//
// TT-Lang (Engram, per tile):
//   with sq_dfb.wait() as s, red_dfb.reserve() as r: r.store(ttl.math.reduce_sum(s, scaler, dims=[0]))
//   ... bc.store(ttl.math.broadcast(total, dims=[1]))     # "reduce leaves garbage"
#include "examples/ttl/kernels.hpp"

namespace ttl::examples {

RunReport rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out, Grid grid, const ExecOptions& options,
                   bool forget_broadcast) {
    Operation op("rms_norm", grid);
    const int cols = static_cast<int>(x.tile_cols());
    const TileShape row{1, cols};
    auto x_dfb = make_dataflow_buffer_like(op, x, row, 2, "x");
    auto w_dfb = make_dataflow_buffer_like(op, w, row, 1, "w");
    auto out_dfb = make_dataflow_buffer_like(op, out, row, 2, "out");
    const int64_t rows = x.tile_rows();
    const float inv_d = 1.0f / static_cast<float>(x.cols());

    op.compute([&] {
        auto [begin, end] = node_work(rows);
        if (begin == end) return;
        auto wv = w_dfb.wait();  // held for the whole node's work
        for (int64_t r = begin; r < end; ++r) {
            auto xv = x_dfb.wait();
            auto o = out_dfb.reserve();
            auto sum_sq = math::reduce_sum(xv * xv, ReduceDim::Row);  // (1, 1) tile, valid in column 0
            auto inv_rms = math::rsqrt(sum_sq * inv_d + eps);
            // Column 0 holds the per-row values: broadcast it across the columns (Col). Broadcasting
            // row 0 instead (Row) reads positions the reduce never wrote.
            const BcastDim dim = forget_broadcast ? BcastDim::Row : BcastDim::Col;
            o.store(xv * math::broadcast(inv_rms, dim, row) * math::broadcast(wv, BcastDim::Row, row));
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(rows);
        if (begin == end) return;
        {
            auto wb = w_dfb.reserve();
            copy(w(0, slice(0, cols)), wb).wait();
        }
        for (int64_t r = begin; r < end; ++r) {
            auto xb = x_dfb.reserve();
            copy(x(r, slice(0, cols)), xb).wait();
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
