// Deliberately broken kernels: validate mode must reject each with the specific error, naming
// the node, kernel function, buffer or tile, and source line.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "ttl/ttl.hpp"

namespace {

using namespace ttl;

ExecOptions validate() {
    ExecOptions o;
    o.mode = Mode::Validate;
    return o;
}

std::string at_line(int line) { return "test_validator.cpp:" + std::to_string(line); }

// Runs `fn`, which must throw ttl::Error of `kind`; returns the message.
std::string expect_error(ErrorKind kind, const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << "got " << error_kind_name(e.kind()) << ": " << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error raised; expected " << error_kind_name(kind);
    return {};
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "missing '" << (part) << "' in: " << (msg)

TEST(Validator, DeadlockListsEveryBlockedKernel) {
    Tensor a({32, 32}), out({32, 32});
    Operation op("starved", Grid{2, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    auto res = make_dataflow_buffer_like(op, out, {1, 1}, 2, "res");
    const int line = __LINE__ + 1;
    op.compute([&] { auto x = in.wait(); auto o = res.reserve(); o.store(x); });
    op.datamovement([&] {});  // the reader never pushes
    op.datamovement([&] { auto r = res.wait(); });
    std::string msg = expect_error(ErrorKind::Deadlock, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "operation 'starved'");
    EXPECT_HAS(msg, "4 kernel function(s) are blocked");
    EXPECT_HAS(msg, "node (0, 0) compute kernel [worker thread 0] at " + at_line(line));
    EXPECT_HAS(msg, "node (1, 0) compute kernel");
    EXPECT_HAS(msg, "wait() on 'in' (0 of 2 blocks filled, 0 reserved)");
    EXPECT_HAS(msg, "no kernel of this node has reserved a block of it");
    EXPECT_HAS(msg, "node (0, 0) writer kernel");
}

TEST(Validator, DeadlockIsAlsoCaughtInFastMode) {
    Tensor a({32, 32});
    Operation op("starved_fast", Grid{4, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    op.compute([&] { auto x = in.wait(); });
    op.datamovement([&] {});
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::Deadlock, [&] { op.run(); });
    EXPECT_HAS(msg, "wait() on 'in'");
}

TEST(Validator, UseOfBlockBeforeCopyCompleted) {
    Tensor a({32, 32}), out({32, 32});
    Operation op("copy_lock", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    auto res = make_dataflow_buffer_like(op, out, {1, 1}, 2, "res");
    op.compute([&] { auto x = in.wait(); auto o = res.reserve(); o.store(x); });
    const int line = __LINE__ + 4;
    op.datamovement([&] {
        auto blk = in.reserve();
        auto tx = copy(a(0, 0), blk);
        auto tx2 = copy(blk, out(0, 0));  // reads the block while the first copy still writes it
        tx.wait();
        tx2.wait();
    });
    op.datamovement([&] { auto r = res.wait(); copy(r, out(0, 0)).wait(); });
    std::string msg = expect_error(ErrorKind::BlockState, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "use of a block before its copy completed");
    EXPECT_HAS(msg, "reader kernel");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, ComputeReadingABlockWhoseCopyWasNeverWaited) {
    Tensor a({32, 32});
    Operation op("early_push", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    op.compute([&] { auto x = in.wait(); });
    const int line = __LINE__ + 1;
    op.datamovement([&] { auto blk = in.reserve(); auto tx = copy(a(0, 0), blk); blk.push(); tx.wait(); });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::BlockState, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "push() of a block of 'in' while it is being written by a copy");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, CopyShapeMismatch) {
    Tensor a({128, 128});
    Operation op("shapes", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a.set_name("a"), {1, 1}, 2, "in");
    op.compute([&] { auto x = in.wait(); });
    const int line = __LINE__ + 1;
    op.datamovement([&] { auto blk = in.reserve(); copy(a(slice(0, 2), 0), blk).wait(); });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::CopyShape, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "'a'[0:2, 0] of f32[128, 128] is 2x1 tiles but the block of 'in' is 1x1 tiles");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, TileIndexOutOfBounds) {
    Tensor a({128, 64});
    a.set_name("a");
    Operation op("bounds", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    auto sum = make_dataflow_buffer_like(op, a, {1, 1}, 2, "sum");
    op.compute([&] {
        auto s = sum.reserve();
        for (int i = 0; i < 5; ++i) { auto x = in.wait(); s += x; }
    });
    const int line = __LINE__ + 2;
    op.datamovement([&] {
        for (int i = 0; i < 5; ++i) { auto blk = in.reserve(); copy(a(i, 0), blk).wait(); }
    });
    op.datamovement([&] { auto s = sum.wait(); copy(s, a(0, 1)).wait(); });
    // Bounds are checked in fast mode too: an out-of-bounds tile would read outside the tensor.
    for (const auto& mode : {validate(), ExecOptions{}}) {
        std::string msg = expect_error(ErrorKind::TileBounds, [&] { op.run(mode); });
        EXPECT_HAS(msg, "'a'[4, 0] of f32[128, 64] has 4x2 tiles");
        EXPECT_HAS(msg, "node (0, 0), reader kernel");
        EXPECT_HAS(msg, at_line(line));
    }
}

TEST(Validator, DoubleReserve) {
    Tensor a({64, 32});
    Operation op("double_reserve", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    op.compute([&] { auto x = in.wait(); auto y = in.wait(); });
    const int line = __LINE__ + 3;
    op.datamovement([&] {
        auto b1 = in.reserve();
        auto b2 = in.reserve();
        copy(a(0, 0), b1).wait();
        copy(a(1, 0), b2).wait();
    });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::Unbalanced, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "reserve() on 'in' again before the previous reserved block was pushed");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, DoubleWait) {
    Tensor a({64, 32});
    Operation op("double_wait", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    const int line = __LINE__ + 1;
    op.compute([&] { auto x = in.wait(); auto y = in.wait(); });
    op.datamovement([&] {
        for (int i = 0; i < 2; ++i) { auto b = in.reserve(); copy(a(i, 0), b).wait(); }
    });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::Unbalanced, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "wait() on 'in' again before the previous waited block was popped");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, PushedBlocksNeverConsumed) {
    Tensor a({96, 32});
    Operation op("leftovers", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 4, "in");
    op.compute([&] { auto x = in.wait(); auto o = in.reserve(); o.store(x); });
    op.datamovement([&] {
        for (int i = 0; i < 2; ++i) { auto b = in.reserve(); copy(a(i, 0), b).wait(); }
    });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::Unbalanced, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "is reserved by both the reader and the compute kernel");
}

TEST(Validator, BlocksLeftInBufferAtEnd) {
    Tensor a({96, 32});
    Operation op("leftovers", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 4, "in");
    auto res = make_dataflow_buffer_like(op, a, {1, 1}, 1, "res");
    op.compute([&] { auto x = in.wait(); auto o = res.reserve(); o.store(x); });  // consumes one of three
    op.datamovement([&] {
        for (int i = 0; i < 3; ++i) { auto b = in.reserve(); copy(a(i, 0), b).wait(); }
    });
    op.datamovement([&] { auto r = res.wait(); copy(r, a(0, 0)).wait(); });
    std::string msg = expect_error(ErrorKind::Unbalanced, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "dataflow buffer 'in': 2 block(s) pushed but never consumed (3 pushed, 1 popped)");
}

TEST(Validator, PipeReceiveNeverMatchedBySend) {
    Tensor a({32, 32});
    Operation op("lonely_receiver", Grid{2, 1});
    auto buf = make_dataflow_buffer_like(op, a, {1, 1}, 1, "halo");
    PipeNet net(op, {Pipe{{0, 0}, Coord{1, 0}}}, "halo_net");
    auto res = make_dataflow_buffer_like(op, a, {1, 1}, 1, "res");
    op.compute([&] {
        if (node().x == 1) { auto x = buf.wait(); auto o = res.reserve(); o.store(x); }
    });
    const int line = __LINE__ + 4;
    op.datamovement([&] {
        if (node().x != 1) return;  // node (0, 0) forgets to send
        auto blk = buf.reserve();
        net.if_dst([&](const DstPipe& p) { copy(p, blk).wait(); });
    });
    op.datamovement([&] {
        if (node().x == 1) { auto r = res.wait(); copy(r, a(0, 0)).wait(); }
    });
    std::string msg = expect_error(ErrorKind::PipeUnmatched, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "receive on pipe net 'halo_net' from node (0, 0): waiting for its send");
    EXPECT_HAS(msg, "a pipe receive never matched by a send");
    EXPECT_HAS(msg, "node (1, 0) reader kernel [worker thread 0] at " + at_line(line));
}

TEST(Validator, PipeSendNeverMatchedByReceive) {
    Tensor a({32, 32});
    Operation op("lonely_sender", Grid{3, 1});
    auto buf = make_dataflow_buffer_like(op, a, {1, 1}, 1, "halo");
    PipeNet net(op, {Pipe{{0, 0}, NodeRange{slice(1, 3), 0}}}, "bcast");
    op.compute([&] {});
    const int line = __LINE__ + 6;
    op.datamovement([&] {
        if (node().x == 2) return;  // node (2, 0) never posts its receive
        auto blk = buf.reserve();
        if (node().x == 0) {
            copy(a(0, 0), blk).wait();
            net.if_src([&](const SrcPipe& p) { copy(blk, p).wait(); });
        } else {
            net.if_dst([&](const DstPipe& p) { copy(p, blk).wait(); });
        }
    });
    op.datamovement([&] {
        if (node().x == 2) return;
        auto b = buf.wait();
        copy(b, a(0, 0)).wait();
    });
    std::string msg = expect_error(ErrorKind::PipeUnmatched, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "send on pipe net 'bcast' from (0, 0): waiting for every destination to post a receive");
    EXPECT_HAS(msg, "(2, 0) [finished: never posted]");
    EXPECT_HAS(msg, "a pipe send never matched by a receive");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, WriteWriteRaceBetweenNodes) {
    Tensor a({32, 32}), out({32, 32});
    out.set_name("out");
    Operation op("race", Grid{2, 1});
    auto buf = make_dataflow_buffer_like(op, a, {1, 1}, 2, "buf");
    op.compute([&] {});
    op.datamovement([&] { auto b = buf.reserve(); copy(a(0, 0), b).wait(); });
    const int line = __LINE__ + 1;
    op.datamovement([&] { auto b = buf.wait(); copy(b, out(0, 0)).wait(); });  // both nodes write tile (0, 0)
    std::string msg = expect_error(ErrorKind::WriteRace, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "write-write race on tile (0, 0) of 'out' f32[32, 32]: node (0, 0) wrote it at " + at_line(line));
    EXPECT_HAS(msg, "node (1, 0), writer kernel");
}

TEST(Validator, L1OverflowPerArchitecture) {
    // Eight buffers of (8, 8) bf16 tiles, double-buffered: 8 x 2 x 64 x 2048 B = 2 MiB (tt-lang #511).
    Tensor a({256, 256}, DType::BF16);
    Operation op("too_big", Grid{1, 1});
    for (int i = 0; i < 8; ++i) make_dataflow_buffer_like(op, a, {8, 8}, 2, "big" + std::to_string(i));
    op.compute([] {});
    op.datamovement([] {});
    op.datamovement([] {});
    std::string msg = expect_error(ErrorKind::L1Overflow, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "needs 2097152 B of L1 per node");
    EXPECT_HAS(msg, "Wormhole has 1499136 B");
    EXPECT_HAS(msg, "'big7' (test_validator.cpp:");
    ExecOptions bh = validate();
    bh.arch = Arch::Blackhole;
    msg = expect_error(ErrorKind::L1Overflow, [&] { op.run(bh); });
    EXPECT_HAS(msg, "Blackhole has 1572864 B");
}

TEST(Validator, BufferCountPerArchitecture) {
    Tensor a({32, 32});
    Operation op("many", Grid{1, 1});
    for (int i = 0; i < 40; ++i) make_dataflow_buffer_like(op, a, {1, 1}, 1);
    op.compute([] {});
    op.datamovement([] {});
    op.datamovement([] {});
    std::string msg = expect_error(ErrorKind::BufferCount, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "uses 40 dataflow buffers per node; Wormhole has 32");
    ExecOptions bh = validate();
    bh.arch = Arch::Blackhole;
    EXPECT_NO_THROW(op.run(bh));  // Blackhole has 64
}

TEST(Validator, MathInDataMovementKernel) {
    Tensor a({32, 32});
    Operation op("dm_math", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    auto out = make_dataflow_buffer_like(op, a, {1, 1}, 2, "out");
    op.compute([&] {});
    const int line = __LINE__ + 4;
    op.datamovement([&] {
        auto b = in.reserve();
        copy(a(0, 0), b).wait();
        auto o = out.reserve();
        o.store(b);  // math belongs to the compute kernel
    });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::WrongThread, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "block math in a data-movement kernel");
    EXPECT_HAS(msg, "reader kernel");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, CopyInComputeKernel) {
    Tensor a({32, 32});
    Operation op("compute_copy", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    const int line = __LINE__ + 1;
    op.compute([&] { auto b = in.reserve(); copy(a(0, 0), b).wait(); });
    op.datamovement([&] {});
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::WrongThread, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "ttl::copy in the compute kernel: copies belong to data-movement kernels");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, ReadOfReservedBlockNeverWritten) {
    Tensor a({32, 32});
    Operation op("garbage_read", Grid{1, 1});
    auto scratch = make_dataflow_buffer_like(op, a, {1, 1}, 2, "scratch");
    auto out = make_dataflow_buffer_like(op, a, {1, 1}, 2, "out");
    const int line = __LINE__ + 1;
    op.compute([&] { auto s = scratch.reserve(); auto o = out.reserve(); o.store(s * 2.0f); s.store(o); });
    op.datamovement([&] {});
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::BlockState, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "read of a block of 'scratch' that was reserved but never written");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, PopOfBlockNeverRead) {
    Tensor a({32, 32});
    Operation op("unused", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    const int line = __LINE__ + 1;
    op.compute([&] { auto x = in.wait(); });  // popped without being used
    op.datamovement([&] { auto b = in.reserve(); copy(a(0, 0), b).wait(); });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::BlockState, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "pop() of a block of 'in' that was never read");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, TransferNeverWaited) {
    Tensor a({32, 32}), out({32, 32});
    Operation op("no_wait", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    op.compute([&] {});
    const int line = __LINE__ + 1;
    op.datamovement([&] { auto b = in.reserve(); copy(a(0, 0), b); });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::TransferNotWaited, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "never waited");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, KernelFunctionCount) {
    Operation op("two_threads", Grid{1, 1});
    op.compute([] {});
    op.datamovement([] {});
    std::string msg = expect_error(ErrorKind::KernelCount, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "defines 1 compute and 1 data-movement kernel functions");
    op.datamovement([] {});
    EXPECT_NO_THROW(op.run(validate()));
    msg = expect_error(ErrorKind::KernelCount, [&] { op.datamovement([] {}); });
    EXPECT_HAS(msg, "third data-movement kernel function");
}

TEST(Validator, MatmulInnerDimensionMismatch) {
    Tensor a({64, 64});
    Operation op("bad_matmul", Grid{1, 1});
    auto x = make_dataflow_buffer_like(op, a, {1, 2}, 1, "x");
    auto o = make_dataflow_buffer_like(op, a, {1, 1}, 1, "o");
    op.compute([&] { auto xv = x.wait(); auto ov = o.reserve(); ov.store(math::matmul(xv, xv)); });
    op.datamovement([&] { auto b = x.reserve(); copy(a(0, slice(0, 2)), b).wait(); });
    op.datamovement([&] {});
    std::string msg = expect_error(ErrorKind::Shape, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "matmul of 1x2 and 1x2 tiles: inner dimensions differ");
}

TEST(Validator, ExpressionUsedAfterItsBlockWasPopped) {
    Tensor a({64, 32}), out({32, 32});
    Operation op("stale_view", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 2, "in");
    auto res = make_dataflow_buffer_like(op, out, {1, 1}, 2, "res");
    const int line = __LINE__ + 6;
    op.compute([&] {
        BlockExpr first = math::fill(0.0f, {1, 1});
        { auto x = in.wait(); first = x + 0.0f; }  // a lazy expression still reading x's slot
        { auto y = in.wait(); auto o = res.reserve(); o.store(y); }
        auto o = res.reserve();
        o.store(first);
    });
    op.datamovement([&] {
        for (int i = 0; i < 2; ++i) { auto b = in.reserve(); copy(a(i, 0), b).wait(); }
    });
    op.datamovement([&] {
        for (int i = 0; i < 2; ++i) { auto r = res.wait(); copy(r, out(0, 0)).wait(); }
    });
    std::string msg = expect_error(ErrorKind::BlockState, [&] { op.run(validate()); });
    EXPECT_HAS(msg, "an expression read a block of 'in' after that block was released");
    EXPECT_HAS(msg, at_line(line));
}

TEST(Validator, Bf16StoreRoundsToNearestEven) {
    Tensor src({32, 32}), dst({32, 32}, DType::BF16);
    for (float& v : src.span<float>()) v = 1.0f + 3.0f / 256.0f;  // halfway between two bf16 values
    Operation op("round", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, src, {1, 1}, 1, "in");
    auto out = make_dataflow_buffer_like(op, dst, {1, 1}, 1, "out");
    op.compute([&] { auto x = in.wait(); auto o = out.reserve(); o.store(x); });
    op.datamovement([&] { auto b = in.reserve(); copy(src(0, 0), b).wait(); });
    op.datamovement([&] { auto b = out.wait(); copy(b, dst(0, 0)).wait(); });
    op.run(validate());
    for (auto v : dst.span<bf16>()) ASSERT_EQ(bf16_bits_to_float(v.bits), 1.0f + 4.0f / 256.0f);
}

TEST(Validator, ErrorsOutsideKernels) {
    Tensor a({32, 32});
    Operation op("outside", Grid{1, 1});
    auto in = make_dataflow_buffer_like(op, a, {1, 1}, 1, "in");
    std::string msg = expect_error(ErrorKind::WrongThread, [&] { in.reserve(); });
    EXPECT_HAS(msg, "used outside a kernel function");
}

}  // namespace
