// Pipes: multicast (TT-Lang's examples/eltwise_pipe.py) and ring forward (spec §6.1).
#include "examples/ttl/kernels.hpp"

namespace ttl::examples {

// TT-Lang:
//   net = ttl.PipeNet([ttl.Pipe(src=(0, 0), dst=(0, slice(1, n)))])
//   reader on (0, 0): copy(c[0, 0], c_blk).wait(); net.if_src(lambda p: ttl.copy(c_blk, p).wait())
//   reader elsewhere: net.if_dst(lambda p: ttl.copy(p, c_blk).wait())
RunReport eltwise_pipe(const Tensor& a, const Tensor& b, const Tensor& c, Tensor& out, int nodes,
                       const ExecOptions& options) {
    Operation op("eltwise_pipe", Grid{1, nodes});
    auto a_dfb = make_dataflow_buffer_like(op, a, {1, 1}, 2, "a");
    auto b_dfb = make_dataflow_buffer_like(op, b, {1, 1}, 2, "b");
    auto c_dfb = make_dataflow_buffer_like(op, c, {1, 1}, 1, "c");
    auto out_dfb = make_dataflow_buffer_like(op, out, {1, 1}, 2, "out");
    PipeNet net(op, {Pipe{{0, 0}, NodeRange{0, slice(1, nodes)}}}, "c_multicast");
    const int64_t tiles = a.tile_rows() * a.tile_cols();
    auto at = [&](const Tensor& t, int64_t i) { return t(i / t.tile_cols(), i % t.tile_cols()); };

    op.compute([&] {
        auto [begin, end] = node_work(tiles);
        auto cv = c_dfb.wait();
        for (int64_t i = begin; i < end; ++i) {
            auto av = a_dfb.wait();
            auto bv = b_dfb.wait();
            auto o = out_dfb.reserve();
            o.store(av * bv + cv);
        }
    });
    op.datamovement([&] {
        {
            auto c_blk = c_dfb.reserve();
            if (node() == Coord{0, 0}) {
                copy(c(0, 0), c_blk).wait();
                net.if_src([&](const SrcPipe& p) { copy(c_blk, p).wait(); });
            } else {
                net.if_dst([&](const DstPipe& p) { copy(p, c_blk).wait(); });
            }
        }
        auto [begin, end] = node_work(tiles);
        for (int64_t i = begin; i < end; ++i) {
            auto ab = a_dfb.reserve();
            auto bb = b_dfb.reserve();
            auto ta = copy(at(a, i), ab);
            auto tb = copy(at(b, i), bb);
            ta.wait();
            tb.wait();
        }
    });
    op.datamovement([&] {
        auto [begin, end] = node_work(tiles);
        for (int64_t i = begin; i < end; ++i) {
            auto ob = out_dfb.wait();
            copy(ob, at(out, i)).wait();
        }
    });
    return op.run(options);
}

// Node i holds tile row i of `in`; it receives row i - 1 from the previous node and writes it
// as row i of `out`. Every node posts its receive before it sends, so the ring cannot deadlock.
RunReport ring_forward(const Tensor& in, Tensor& out, const ExecOptions& options) {
    const int n = static_cast<int>(in.tile_rows());
    const int cols = static_cast<int>(in.tile_cols());
    Operation op("ring_forward", Grid{n, 1});
    auto send_dfb = make_dataflow_buffer_like(op, in, {1, cols}, 1, "send");
    auto recv_dfb = make_dataflow_buffer_like(op, in, {1, cols}, 1, "recv");
    auto out_dfb = make_dataflow_buffer_like(op, out, {1, cols}, 1, "out");
    std::vector<Pipe> ring;
    for (int i = 0; i < n; ++i) ring.push_back(Pipe{{i, 0}, Coord{(i + 1) % n, 0}});
    PipeNet net(op, ring, "ring");

    op.compute([&] {
        auto rv = recv_dfb.wait();
        auto o = out_dfb.reserve();
        o.store(rv);
    });
    op.datamovement([&] {  // reader: post the receive, then read our row for the writer to send
        auto r_blk = recv_dfb.reserve();
        Transfer rx;
        net.if_dst([&](const DstPipe& p) { rx = copy(p, r_blk); });
        {
            auto s_blk = send_dfb.reserve();
            copy(in(node().x, slice(0, cols)), s_blk).wait();
        }
        rx.wait();
    });
    op.datamovement([&] {  // writer: send our row on, then write the row we received
        {
            auto s_blk = send_dfb.wait();
            net.if_src([&](const SrcPipe& p) { copy(s_blk, p).wait(); });
        }
        auto ob = out_dfb.wait();
        copy(ob, out(node().x, slice(0, cols))).wait();
    });
    return op.run(options);
}

}  // namespace ttl::examples
