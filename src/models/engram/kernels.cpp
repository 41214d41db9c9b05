#include "models/engram/kernels.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/thread_pool.hpp"

namespace ttlm::engram {

using namespace ttl;

namespace {

// The widest column chunk (in tiles) dividing `tiles` whose buffers fit the node's L1.
int chunk_tiles(int tiles, DType dtype, int fixed_tiles, int tiles_per_chunk_tile) {
    const size_t budget = arch_limits(default_options().arch).l1_bytes;
    for (int cw = std::min(tiles, 32); cw >= 1; --cw) {
        if (tiles % cw) continue;
        size_t need = (static_cast<size_t>(fixed_tiles) + static_cast<size_t>(tiles_per_chunk_tile) * cw) * tile_bytes(dtype);
        if (need <= budget) return cw;
    }
    return 1;
}

// acc += term, the first term taking the place of a zero tile (one tile op fewer per sum).
void accumulate(std::optional<BlockExpr>& acc, BlockExpr term) { acc = acc ? *acc + term : std::move(term); }

}  // namespace

RunReport gating_kernel(const GatingInputs& in, Tensor& gated, std::vector<Tensor>& conv_inverse_rms,
                        std::vector<Tensor>* gates, const ExecOptions& options) {
    const int hc = in.branches, H = in.hidden_size;
    if (H % kTileDim) throw std::invalid_argument(fmt::format("gating_kernel: hidden size {} is not a multiple of 32", H));
    const Tensor& kv = *in.kv;
    const Tensor& hs = *in.hidden;
    const int ht = H / kTileDim;
    const DType dt = gated.dtype();
    // Buffers: k, q, w, v, out double-buffered, chunk wide; gates and inverse RMS one tile.
    const int cw = chunk_tiles(ht, dt, 4, 10);
    const int chunks = ht / cw;
    const TileShape chunk{1, cw};
    const int64_t token_tiles = kv.tile_rows();
    const float n = static_cast<float>(in.norm_size > 0 ? in.norm_size : H);
    const float inv_h = 1.0f / n, inv_sqrt_h = 1.0f / std::sqrt(n), eps = in.eps, conv_eps = in.conv_norm_eps;
    auto cols = [&](int block, int c) { return slice(int64_t(block) * ht + int64_t(c) * cw, int64_t(block) * ht + int64_t(c + 1) * cw); };

    Operation op("engram_gating", Grid::Auto);
    auto k_dfb = make_dataflow_buffer_like(op, kv, chunk, 2, "key");
    auto q_dfb = make_dataflow_buffer_like(op, hs, chunk, 2, "query");
    auto w_dfb = make_dataflow_buffer_like(op, in.key_query_weight[0], chunk, 2, "norm_weights");
    auto v_dfb = make_dataflow_buffer_like(op, kv, chunk, 2, "value");
    auto out_dfb = make_dataflow_buffer_like(op, gated, chunk, 2, "gated");
    auto g_dfb = make_dataflow_buffer_like(op, gated, {1, 1}, 2, "gate", DType::F32);
    auto rms_dfb = make_dataflow_buffer_like(op, gated, {1, 1}, 2, "conv_inverse_rms", DType::F32);

    op.compute([&] {
        auto [begin, end] = node_work(token_tiles);
        for (int64_t r = begin; r < end; ++r) {
            std::vector<BlockExpr> gate;
            for (int h = 0; h < hc; ++h) {
                std::optional<BlockExpr> ssk, ssq, dot;
                for (int c = 0; c < chunks; ++c) {
                    auto k = k_dfb.wait();
                    auto q = q_dfb.wait();
                    auto w = w_dfb.wait();
                    accumulate(ssk, math::reduce_sum(k * k, ReduceDim::Row));
                    accumulate(ssq, math::reduce_sum(q * q, ReduceDim::Row));
                    // (k * w) * q: the weighted key once, then a fused row dot with q
                    accumulate(dot, math::reduce_sum(k * math::broadcast(w, BcastDim::Row, chunk) * q, ReduceDim::Row));
                }
                // Valid data in column 0: one value per token.
                auto d = *dot * math::rsqrt(*ssk * inv_h + eps) * math::rsqrt(*ssq * inv_h + eps) * inv_sqrt_h;
                auto g = math::sigmoid(math::sign(d) * math::sqrt(math::clamp(math::abs(d), 1e-6f, INFINITY)));
                if (gates) {
                    auto gb = g_dfb.reserve();
                    gb.store(g);
                }
                gate.push_back(g);
            }
            std::optional<BlockExpr> ssv;
            for (int c = 0; c < chunks; ++c) {
                auto v = v_dfb.wait();
                accumulate(ssv, math::reduce_sum(v * v, ReduceDim::Row));
                for (int h = 0; h < hc; ++h) {
                    auto o = out_dfb.reserve();
                    o.store(v * math::broadcast(gate[static_cast<size_t>(h)], BcastDim::Col, chunk));
                }
            }
            // The conv's RMSNorm of gate * value: mean((g v)^2) = g^2 mean(v^2), one value per token.
            for (int h = 0; h < hc; ++h) {
                const BlockExpr& g = gate[static_cast<size_t>(h)];
                auto rb = rms_dfb.reserve();
                rb.store(math::rsqrt(g * g * *ssv * inv_h + conv_eps));
            }
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = node_work(token_tiles);
        for (int64_t r = begin; r < end; ++r) {
            for (int h = 0; h < hc; ++h)
                for (int c = 0; c < chunks; ++c) {
                    auto k = k_dfb.reserve();
                    auto q = q_dfb.reserve();
                    auto w = w_dfb.reserve();
                    auto tk = copy(kv(r, cols(h, c)), k);
                    auto tq = copy(hs(r, cols(h, c)), q);
                    auto tw = copy(in.key_query_weight[static_cast<size_t>(h)](0, cols(0, c)), w);
                    tk.wait();
                    tq.wait();
                    tw.wait();
                }
            for (int c = 0; c < chunks; ++c) {
                auto v = v_dfb.reserve();
                copy(kv(r, cols(hc, c)), v).wait();
            }
        }
    });
    op.datamovement([&] {  // writer
        auto [begin, end] = node_work(token_tiles);
        for (int64_t r = begin; r < end; ++r) {
            if (gates)
                for (int h = 0; h < hc; ++h) {
                    auto gb = g_dfb.wait();
                    copy(gb, (*gates)[static_cast<size_t>(h)](r, 0)).wait();
                }
            for (int c = 0; c < chunks; ++c)
                for (int h = 0; h < hc; ++h) {
                    auto o = out_dfb.wait();
                    copy(o, gated(r, cols(h, c))).wait();
                }
            for (int h = 0; h < hc; ++h) {
                auto rb = rms_dfb.wait();
                copy(rb, conv_inverse_rms[static_cast<size_t>(h)](r, 0)).wait();
            }
        }
    });
    return op.run(options);
}

RunReport conv_kernel(const ConvInputs& in, Tensor& output, Tensor* conv, const ExecOptions& options) {
    const int hc = in.branches, H = in.hidden_size, K = static_cast<int>(in.taps.size()), dil = in.dilation;
    if (H % kTileDim) throw std::invalid_argument(fmt::format("conv_kernel: hidden size {} is not a multiple of 32", H));
    if ((K - 1) * dil > kTileDim)
        throw std::invalid_argument(fmt::format("conv_kernel: the receptive field (kernel_size - 1) * dilation = {} exceeds "
                                                "one tile row (32 tokens)",
                                                (K - 1) * dil));
    const Tensor& x = *in.gated;
    const int ht = H / kTileDim;
    const DType dt = output.dtype();
    // Per chunk tile: x, history, boundary_in, boundary_out, output and conv (2 each), taps (1
    // each: held for a whole column walk); and two tiles of inverse RMS.
    int cw = 1;
    for (int c = std::min(ht, 32); c >= 1; --c) {
        const size_t tiles = static_cast<size_t>(c) * ((conv ? 12 : 10) + K) + 2;
        if (ht % c == 0 && tiles * tile_bytes(dt) <= arch_limits(default_options().arch).l1_bytes) {
            cw = c;
            break;
        }
    }
    const int chunks = ht / cw;
    const TileShape chunk{1, cw};
    const int seq_tiles = in.seq_tiles;
    const int workers = std::max(1, ttlm::runtime::num_threads());
    // Nodes per sequence: by default enough for every worker to have a node, each with at least 4
    // tile rows so the tile row a node normalises twice (its first) stays a small part of its work.
    const int per_seq = in.nodes_per_sequence > 0
                            ? std::min(in.nodes_per_sequence, seq_tiles)
                            : std::max(1, std::min(seq_tiles / 4, workers / std::max(1, in.batch)));
    auto cols = [&](int h, int c) { return slice(int64_t(h) * ht + int64_t(c) * cw, int64_t(h) * ht + int64_t(c + 1) * cw); };
    // This node's tile rows of its sequence: [r0, r1), as global tile-row indices.
    struct Range {
        int64_t r0, r1;
        bool has_prev, has_next;
    };
    auto my_range = [&]() {
        auto [nx, b] = node();
        int64_t base = int64_t(b) * seq_tiles;
        return Range{base + int64_t(seq_tiles) * nx / per_seq, base + int64_t(seq_tiles) * (nx + 1) / per_seq, nx > 0,
                     nx + 1 < per_seq};
    };

    Operation op("engram_conv", Grid{per_seq, in.batch});
    auto x_dfb = make_dataflow_buffer_like(op, x, chunk, 2, "x");
    auto inv_dfb = make_dataflow_buffer_like(op, in.inverse_rms[0], {1, 1}, 2, "inverse_rms");
    std::vector<DataflowBuffer> tap_dfb;
    for (int k = 0; k < K; ++k) tap_dfb.push_back(make_dataflow_buffer_like(op, in.taps[0], chunk, 1, fmt::format("tap{}", k)));
    auto hist_dfb = make_dataflow_buffer_like(op, x, chunk, 2, "history", DType::F32);
    auto bnd_in = make_dataflow_buffer_like(op, x, chunk, 2, "boundary_in", DType::F32);
    auto bnd_out = make_dataflow_buffer_like(op, x, chunk, 2, "boundary_out", DType::F32);
    auto out_dfb = make_dataflow_buffer_like(op, output, chunk, 2, "output");
    std::optional<DataflowBuffer> conv_dfb;
    if (conv) conv_dfb = make_dataflow_buffer_like(op, output, chunk, 2, "conv");
    std::vector<Pipe> pipes;
    for (int b = 0; b < in.batch; ++b)
        for (int nx = 0; nx + 1 < per_seq; ++nx) pipes.push_back(Pipe{{nx, b}, Coord{nx + 1, b}});
    PipeNet boundary(op, pipes, "boundary");

    // Every node walks its tile rows r0+1 .. r1-1 down one column chunk at a time, the taps held
    // for the whole walk and each tile row's normalised input carried to the next in `history`.
    // The chunk's last tile row, normalised, is its boundary for the next node; the node's own
    // first tile row r0 comes after the walk, with the previous node's boundary, which that node
    // sent as it finished the same walk. "Normalised" is x / rms(x): the RMSNorm's weight is
    // folded into the taps.
    op.compute([&] {
        const Range my = my_range();
        const int64_t rows = my.r1 - my.r0;
        if (rows == 0) return;
        std::vector<Block> taps;
        std::vector<BlockExpr> tap_rows;  // each tap broadcast down the chunk: built once per walk
        taps.reserve(static_cast<size_t>(K));
        auto normalise_into = [&](DataflowBuffer& to) {
            auto inv = inv_dfb.wait();  // valid in column 0
            auto xv = x_dfb.wait();
            auto b = to.reserve();
            b.store(xv * math::broadcast(inv, BcastDim::Col, chunk));
        };
        // One block of output; `prev` is the previous tile row's normalised block (zeros before
        // the sequence), `keep_history` stores this one's for the next tile row.
        auto convolve = [&](const BlockExpr& prev, bool keep_history) {
            auto inv = inv_dfb.wait();  // valid in column 0
            auto xv = x_dfb.wait();
            BlockExpr xn = xv * math::broadcast(inv, BcastDim::Col, chunk);
            std::optional<Block> next;  // written once, read from cache
            if (keep_history) {
                next.emplace(hist_dfb.reserve());
                next->store(xn);
                xn = BlockExpr(*next);
            }
            // y[t] = sum_k w_k * xn[t - (K-1-k) * dilation]
            BlockExpr y = xn * tap_rows[static_cast<size_t>(K - 1)];
            for (int k = 0; k + 1 < K; ++k)
                y = y + math::row_shift(prev, xn, (K - 1 - k) * dil) * tap_rows[static_cast<size_t>(k)];
            BlockExpr s = math::silu(y);
            if (conv) {
                auto cb = conv_dfb->reserve();
                cb.store(s);
            }
            auto o = out_dfb.reserve();
            o.store(xv + s);
        };
        for (int h = 0; h < hc; ++h)
            for (int c = 0; c < chunks; ++c) {
                for (int k = 0; k < K; ++k) {
                    taps.push_back(tap_dfb[static_cast<size_t>(k)].wait());
                    tap_rows.push_back(math::broadcast(taps.back(), BcastDim::Row, chunk));
                }
                if (rows > 1) {
                    normalise_into(hist_dfb);  // tile row r0, the history of r0 + 1
                } else if (my.has_next) {
                    normalise_into(bnd_out);  // tile row r0 is also the last
                }
                for (int64_t r = my.r0 + 1; r < my.r1; ++r) {
                    auto prev = hist_dfb.wait();
                    convolve(BlockExpr(prev), r + 1 < my.r1 || my.has_next);
                }
                if (my.has_next && rows > 1) {  // the boundary: the last tile row, normalised
                    auto hb = hist_dfb.wait();
                    auto b = bnd_out.reserve();
                    b.store(hb);
                }
                std::optional<Block> boundary_in;
                if (my.has_prev) boundary_in.emplace(bnd_in.wait());
                convolve(boundary_in ? BlockExpr(*boundary_in) : math::fill(0.0f, chunk), false);
                tap_rows.clear();
                taps.clear();  // popped
            }
    });
    op.datamovement([&] {  // reader: the same order of blocks as the compute kernel takes them
        const Range my = my_range();
        const int64_t rows = my.r1 - my.r0;
        if (rows == 0) return;
        auto read_row = [&](int64_t r, int h, int c) {
            auto ib = inv_dfb.reserve();
            copy(in.inverse_rms[static_cast<size_t>(h)](r, 0), ib).wait();
            auto xb = x_dfb.reserve();
            copy(x(r, cols(h, c)), xb).wait();
        };
        for (int h = 0; h < hc; ++h)
            for (int c = 0; c < chunks; ++c) {
                // The previous node's boundary of this chunk: the receive is posted before the
                // walk, so that the sender does not wait for it, and waited for after.
                std::optional<Block> boundary_in;
                Transfer received;
                if (my.has_prev) {
                    boundary_in.emplace(bnd_in.reserve());
                    boundary.if_dst([&](const DstPipe& p) { received = copy(p, *boundary_in); });
                }
                for (int k = 0; k < K; ++k) {
                    auto tb = tap_dfb[static_cast<size_t>(k)].reserve();
                    copy(in.taps[static_cast<size_t>(k)](0, cols(h, c)), tb).wait();
                }
                if (rows > 1 || my.has_next) read_row(my.r0, h, c);  // normalised into history or boundary
                for (int64_t r = my.r0 + 1; r < my.r1; ++r) read_row(r, h, c);
                if (my.has_prev) {
                    received.wait();
                    boundary_in.reset();  // pushed
                }
                read_row(my.r0, h, c);
            }
    });
    op.datamovement([&] {  // writer
        const Range my = my_range();
        if (my.r1 == my.r0) return;
        auto write_block = [&](int64_t r, int h, int c) {
            if (conv) {
                auto cb = conv_dfb->wait();
                copy(cb, (*conv)(r, cols(h, c))).wait();
            }
            auto o = out_dfb.wait();
            copy(o, output(r, cols(h, c))).wait();
        };
        for (int h = 0; h < hc; ++h)
            for (int c = 0; c < chunks; ++c) {
                for (int64_t r = my.r0 + 1; r < my.r1; ++r) write_block(r, h, c);
                if (my.has_next) {
                    auto b = bnd_out.wait();
                    boundary.if_src([&](const SrcPipe& p) { copy(b, p).wait(); });
                }
                write_block(my.r0, h, c);
            }
    });
    return op.run(options);
}

}  // namespace ttlm::engram
