// Example ttl kernels, each a port of a TT-Lang example or tutorial kernel. They are tests
// (tests/ttl), benchmarks (ttlm bench ttl) and the place to start reading.
#pragma once

#include "ttl/ttl.hpp"

namespace ttl::examples {

// out = a + b, tile by tile in blocks of `block` tiles, over `grid`.
RunReport eltwise_add(const Tensor& a, const Tensor& b, Tensor& out, TileShape block, Grid grid,
                      const ExecOptions& options = default_options());

// out = a * broadcast(v): v is a column vector [rows, 1] (BcastDim::Col), a row vector [1, cols]
// (BcastDim::Row) or a scalar [1, 1] (BcastDim::Scalar).
RunReport broadcast_mul(const Tensor& a, const Tensor& v, BcastDim dim, Tensor& out, Grid grid,
                        const ExecOptions& options = default_options());

// out = x * rsqrt(mean(x^2, last dim) + eps) * w. One block is a whole row of tiles, so the
// row sum is one reduce_sum (Row) followed by a column broadcast. With `forget_broadcast`, the
// kernel broadcasts row 0 of the reduced tile instead of column 0 — the classic bug (reduce
// leaves garbage outside column 0) that validate mode exposes as NaN.
RunReport rms_norm(const Tensor& x, const Tensor& w, float eps, Tensor& out, Grid grid,
                   const ExecOptions& options = default_options(), bool forget_broadcast = false);

// c = a @ b with blocks a:(bm, bk), b:(bk, bn), c:(bm, bn) tiles; output blocks are shared out
// over the nodes and each accumulates over K with `c += matmul(a, b)`.
RunReport matmul(const Tensor& a, const Tensor& b, Tensor& c, TileShape a_block, int bn, Grid grid,
                 const ExecOptions& options = default_options());

// out = a * b + c, where c (one tile) is read once by node (0, 0) and multicast over a PipeNet
// to the other nodes of the grid's first column (TT-Lang's eltwise_pipe example).
RunReport eltwise_pipe(const Tensor& a, const Tensor& b, const Tensor& c, Tensor& out, int nodes,
                       const ExecOptions& options = default_options());

// out tile row i = in tile row i - 1 (mod n): each node forwards its tile row to the next node
// over a ring of pipes (TT-Lang's ring-forward pattern).
RunReport ring_forward(const Tensor& in, Tensor& out, const ExecOptions& options = default_options());

}  // namespace ttl::examples
