// Copies between tensors and blocks, and over pipes, with their checks.
#include "ttl/copy.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ttl/detail/pending_row_dots.hpp"
#include "ttl/detail/state.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/simd/tile_ops.hpp"

namespace ttl {

using namespace detail;

namespace {

constexpr int64_t kT = kTileDim;
// A block's rows lie far apart in a tensor, where the hardware prefetchers do not follow: reads
// ask for the row this many rows ahead while one is copied.
constexpr size_t kPrefetchRows = 4;
// Writes into tensors of at least this size bypass the cache (see simd::stream_copy_rows): they
// will be evicted before anything reads them again.
constexpr size_t kStreamingTensor = 8 << 20;

std::string slice_str(const TensorSlice& s) {
    auto idx = [](const TileIndex& i) {
        return i.count() == 1 ? fmt::format("{}", i.begin) : fmt::format("{}:{}", i.begin, i.end);
    };
    const std::string& name = s.tensor->name();
    return fmt::format("{}[{}, {}] of {}", name.empty() ? "tensor" : "'" + name + "'", idx(s.rows), idx(s.cols),
                       s.tensor->describe());
}

void check_slice(const TensorSlice& s, const Block& b, Task& t, std::source_location loc) {
    const Tensor& x = *s.tensor;
    if (x.dtype() != DType::F32 && x.dtype() != DType::BF16)
        raise(ErrorKind::CopyShape, &t, loc, fmt::format("copy with {}: tiles hold f32 or bf16", slice_str(s)));
    if (s.rows.begin < 0 || s.cols.begin < 0 || s.rows.end > x.tile_rows() || s.cols.end > x.tile_cols() ||
        s.rows.begin >= s.rows.end || s.cols.begin >= s.cols.end)
        raise(ErrorKind::TileBounds, &t, loc,
              fmt::format("tile index out of bounds: {} has {}x{} tiles (rows 0..{}, cols 0..{})", slice_str(s),
                          x.tile_rows(), x.tile_cols(), x.tile_rows() - 1, x.tile_cols() - 1));
    if (s.rows.count() != b.shape().rows || s.cols.count() != b.shape().cols)
        raise(ErrorKind::CopyShape, &t, loc,
              fmt::format("copy shape mismatch: {} is {}x{} tiles but the block of '{}' is {}x{} tiles", slice_str(s),
                          s.rows.count(), s.cols.count(), b.buffer_name(), b.shape().rows, b.shape().cols));
}

SlotState& slot_of(const Block& b) { return b.dfb()->slots[static_cast<size_t>(b.slot())]; }

void check_block(const Block& b, Task& t, std::source_location loc, const char* what) {
    if (!b.dfb()) raise(ErrorKind::BlockState, &t, loc, fmt::format("{} with a moved-from block", what));
}

// Element-wise conversion between tile storage types.
void convert_row(const void* src, DType st, void* dst, DType dt, size_t n) {
    if (st == dt) {
        std::memcpy(dst, src, n * dtype_size(st));
    } else if (st == DType::F32) {
        simd::f32_to_bf16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
    } else {
        simd::bf16_to_f32(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n);
    }
}

// The read `ahead` reads after the latest if the reader repeats, at a fixed offset, the reads it
// made `period` reads before (a column of blocks: period 1; the same four column blocks of each
// tile row: period 4), as its last kWindow reads all did, for the shortest such period; 0 if none.
constexpr int kWindow = 8;
uintptr_t periodic_prediction(const DfbState::ReadHistory& h, int ahead) {
    auto back = [&](int i) { return h.at[DfbState::ReadHistory::kLength - 1 - i]; };  // 0: the latest
    for (int period = 1; period <= h.count - kWindow; ++period) {
        const uintptr_t offset = back(0) - back(period);  // modulo 2^64: a negative offset works alike
        bool periodic = true;
        for (int i = 1; i < kWindow && periodic; ++i) periodic = back(i) - back(i + period) == offset;
        if (!periodic) continue;
        const int k = (ahead + period - 1) / period;  // the read ahead is the one k periods after a past one
        return back(k * period - ahead) + static_cast<uintptr_t>(k) * offset;
    }
    return 0;
}

// A reader that walks a tensor's blocks in a regular order has the read a buffer's depth after
// this one queued as a background read, to arrive while the compute kernel works on the blocks in
// between: the periodic prediction, else, in a row-major walk, the block `capacity` blocks on
// (to the right, or the first of the next block row), once this read was the one expected.
void expect_next_read(detail::DfbState& dfb, const Tensor& x, int64_t r0, int64_t c0, int64_t brows, int64_t bcols) {
    const size_t xs = dtype_size(x.dtype()), stride = static_cast<size_t>(x.cols()) * xs;
    const auto begin = reinterpret_cast<uintptr_t>(x.raw());
    DfbState::ReadHistory& h = dfb.reads;
    const bool same_tensor = h.tensor == &x;
    if (!same_tensor) h.tensor = &x, h.count = 0;
    std::copy(h.at + 1, h.at + DfbState::ReadHistory::kLength, h.at);
    h.at[DfbState::ReadHistory::kLength - 1] = begin + static_cast<size_t>(r0 * x.cols() + c0) * xs;
    h.count = std::min(h.count + 1, DfbState::ReadHistory::kLength);

    uintptr_t next = periodic_prediction(h, dfb.capacity);
    const bool expected = same_tensor && dfb.next_read_row == r0 && dfb.next_read_col == c0;
    auto advance = [&](int64_t& r, int64_t& c) {
        if ((c += bcols) >= x.cols()) c = 0, r += brows;
    };
    advance(r0, c0);
    dfb.next_read_row = r0;
    dfb.next_read_col = c0;
    if (!next && expected) {
        for (int i = 1; i < dfb.capacity; ++i) advance(r0, c0);
        next = begin + static_cast<size_t>(r0 * x.cols() + c0) * xs;
    }
    const size_t row_bytes = static_cast<size_t>(bcols) * xs, rows = static_cast<size_t>(brows);
    if (!next || next < begin || next + (rows - 1) * stride + row_bytes > begin + x.nbytes()) return;
    simd::background_reads.expect({reinterpret_cast<const char*>(next), stride, row_bytes, rows});
}

// A block's window onto a tensor, in elements: the block's rows and columns from (r0, c0), of
// which valid_rows x valid_cols lie inside the tensor (edge tiles hang over its end).
struct TileWindow {
    TileWindow(const TensorSlice& s, DType block_dtype, TileShape shape)
        : xt(s.tensor->dtype()),
          xs(dtype_size(xt)),
          bs(dtype_size(block_dtype)),
          brows(shape.rows * kT),
          bcols(shape.cols * kT),
          r0(s.rows.begin * kT),
          c0(s.cols.begin * kT),
          xcols(s.tensor->cols()),
          valid_rows(std::clamp<int64_t>(s.tensor->rows() - r0, 0, brows)),
          valid_cols(std::min<int64_t>(bcols, xcols - c0)) {}
    DType xt;
    size_t xs, bs;  // element sizes: tensor, block
    int64_t brows, bcols, r0, c0, xcols, valid_rows, valid_cols;
};

// Deferred reads. On the chip a reader's copy is a DMA that runs while compute works; on a CPU
// a copy is the core's own pass over the block, before the compute kernel's passes over it. So in
// fast mode a copy of f32 tiles lying wholly inside the tensor into an f32 block only notes where
// they lie (DfbState::deferred), and the compute kernel's expressions read them there (an operand
// with a row stride, block_math.cpp); anything else that needs the block's memory
// (Block::data()) reads them in first. The chip's guarantee still holds, that the block holds
// the tensor's values as of the copy: a write that may change them after the copy is ordered
// after it, on the chip, either within the node (its writer, fed by its compute kernel) or
// through a pipe the node sends on (nodes order each other only so). Before either, the node
// reads in its held blocks' deferred reads that the write may overlap (all of them, before a
// send).
bool defer_read(const TensorSlice& s, DfbState& dfb, int slot) {
    const TileWindow w(s, dfb.spec->dtype, dfb.spec->shape);
    if (w.xt != DType::F32 || dfb.spec->dtype != DType::F32 || w.valid_rows != w.brows || w.valid_cols != w.bcols)
        return false;
    const auto* src0 = static_cast<const float*>(s.tensor->raw()) + w.r0 * w.xcols + w.c0;
    dfb.deferred[static_cast<size_t>(slot)] = {src0, static_cast<size_t>(w.xcols)};
    expect_next_read(dfb, *s.tensor, w.r0, w.c0, w.brows, w.bcols);
    return true;
}

}  // namespace

void detail::resolve_deferred(DfbState& d, int slot) {
    DfbState::DeferredRead& read = d.deferred[static_cast<size_t>(slot)];
    const size_t rows = static_cast<size_t>(d.spec->shape.rows) * kT, row_bytes = static_cast<size_t>(d.spec->shape.cols) * kT * sizeof(float);
    simd::copy_rows(d.slot_data(slot), row_bytes, read.src, read.stride * sizeof(float), row_bytes, rows, kPrefetchRows);
    d.overwritten(slot);
}

void detail::resolve_deferred_before_write(NodeState& node, const void* begin, const void* end) {
    for (DfbState& d : node.dfbs)
        for (int i = 0, held = d.visible + d.reserved; i < held; ++i) {
            const int slot = (d.head + i) % d.capacity;
            const DfbState::DeferredRead& read = d.deferred[static_cast<size_t>(slot)];
            if (!read.src) continue;
            const size_t rows = static_cast<size_t>(d.spec->shape.rows) * kT, cols = static_cast<size_t>(d.spec->shape.cols) * kT;
            const auto read_begin = reinterpret_cast<uintptr_t>(read.src);
            const uintptr_t read_end = read_begin + ((rows - 1) * read.stride + cols) * sizeof(float);
            if (!begin || (read_begin < reinterpret_cast<uintptr_t>(end) && reinterpret_cast<uintptr_t>(begin) < read_end))
                resolve_deferred(d, slot);
        }
}

namespace {

// Tensor tiles -> block. Parts of edge tiles beyond the tensor read as zero (tile padding).
// `zero_from` (fast mode): the first block row from which the slot is known to hold zeros; rows
// past the tensor are zeroed only below it. A row vector copied into a 32-row tile again and
// again then costs one row, not a tile.
// `dfb` (fast mode): the buffer read into, to read ahead (expect_next_read).
void read_tiles(const TensorSlice& s, void* block, DType bt, TileShape shape, int* zero_from = nullptr,
                detail::DfbState* dfb = nullptr) {
    const Tensor& x = *s.tensor;
    const auto [xt, xs, bs, brows, bcols, r0, c0, xcols, valid_rows, valid_cols] = TileWindow(s, bt, shape);
    const char* xp = static_cast<const char*>(x.raw());
    char* bp = static_cast<char*>(block);
    const char* src0 = xp + static_cast<size_t>(r0 * xcols + c0) * xs;
    if (dfb) {
        simd::background_reads.started(src0);
        expect_next_read(*dfb, x, r0, c0, brows, bcols);
    }
    if (xt == bt && valid_cols == bcols && bcols == xcols && valid_rows == brows) {  // one contiguous run
        std::memcpy(bp, src0, static_cast<size_t>(brows * bcols) * xs);
        return;
    }
    const size_t row_bytes = static_cast<size_t>(valid_cols) * xs, stride = static_cast<size_t>(xcols) * xs;
    if (xt == bt) {
        simd::copy_rows(bp, static_cast<size_t>(bcols) * bs, src0, stride, row_bytes, static_cast<size_t>(valid_rows),
                        kPrefetchRows);
    } else {
        for (int64_t r = 0; r < valid_rows; ++r) {
            if (r + static_cast<int64_t>(kPrefetchRows) < valid_rows)
                for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(src0 + static_cast<size_t>(r + kPrefetchRows) * stride + b);
            convert_row(src0 + static_cast<size_t>(r) * stride, xt, bp + static_cast<size_t>(r * bcols) * bs, bt,
                        static_cast<size_t>(valid_cols));
        }
    }
    if (valid_cols < bcols)
        for (int64_t r = 0; r < valid_rows; ++r)
            std::memset(bp + static_cast<size_t>(r * bcols + valid_cols) * bs, 0, static_cast<size_t>(bcols - valid_cols) * bs);
    const int64_t zero_end = zero_from ? std::max<int64_t>(valid_rows, *zero_from) : brows;
    if (zero_end > valid_rows)
        std::memset(bp + static_cast<size_t>(valid_rows * bcols) * bs, 0, static_cast<size_t>((zero_end - valid_rows) * bcols) * bs);
    if (zero_from) *zero_from = static_cast<int>(valid_rows);
}

// Block -> tensor tiles; only elements inside the tensor are written.
void write_tiles(const void* block, DType bt, TileShape shape, const TensorSlice& s) {
    const Tensor& x = *s.tensor;
    const auto [xt, xs, bs, brows, bcols, r0, c0, xcols, valid_rows, valid_cols] = TileWindow(s, bt, shape);
    char* xp = static_cast<char*>(x.mutable_raw());
    const char* bp = static_cast<const char*>(block);
    if (xt == bt && valid_cols == bcols && bcols == xcols) {  // one contiguous run
        const size_t bytes = static_cast<size_t>(valid_rows * bcols) * xs;
        if (x.nbytes() >= kStreamingTensor)
            simd::stream_copy_rows(xp + static_cast<size_t>(r0 * xcols) * xs, bytes, bp, bytes, bytes, 1);
        else
            std::memcpy(xp + static_cast<size_t>(r0 * xcols) * xs, bp, bytes);
        return;
    }
    if (xt == bt && x.nbytes() >= kStreamingTensor) {
        simd::stream_copy_rows(xp + static_cast<size_t>(r0 * xcols + c0) * xs, static_cast<size_t>(xcols) * xs, bp,
                               static_cast<size_t>(bcols) * bs, static_cast<size_t>(valid_cols) * xs,
                               static_cast<size_t>(valid_rows));
        return;
    }
    for (int64_t r = 0; r < valid_rows; ++r)
        convert_row(bp + static_cast<size_t>(r * bcols) * bs, bt, xp + static_cast<size_t>((r0 + r) * xcols + c0) * xs, xt,
                    static_cast<size_t>(valid_cols));
}

void count(Task& t, TileShape shape, DType dt) {
    t.tiles_moved += shape.tiles();
    t.bytes_moved += static_cast<int64_t>(shape.tiles() * tile_bytes(dt));
}

void note_writes(OperationState& op, Task& t, const TensorSlice& s, std::source_location loc) {
    auto& writers = op.tile_writers[s.tensor->raw()];
    const int64_t tcols = s.tensor->tile_cols();
    for (int64_t r = s.rows.begin; r < s.rows.end; ++r)
        for (int64_t c = s.cols.begin; c < s.cols.end; ++c) {
            auto [it, fresh] = writers.try_emplace(static_cast<uint64_t>(r * tcols + c), TileWrite{t.node->index, loc});
            if (!fresh && it->second.node != t.node->index) {
                const Coord other = op.nodes[static_cast<size_t>(it->second.node)]->coord;
                const std::string& name = s.tensor->name();
                raise(ErrorKind::WriteRace, &t, loc,
                      fmt::format("write-write race on tile ({}, {}) of {} {}: node ({}, {}) wrote it at {} in the same "
                                  "launch; two nodes writing one DRAM tile race on the chip",
                                  r, c, name.empty() ? "tensor" : "'" + name + "'", s.tensor->describe(), other.x,
                                  other.y, where_str(it->second.where)));
            }
        }
}

// Validate mode: the data moves when the transfer is waited, so a block touched before that is
// caught by its state.
Transfer deferred(TransferState::Kind kind, Task& t, const Block& b, std::source_location loc, std::function<void()> move) {
    auto* st = new TransferState;
    st->kind = kind;
    st->owner = &t;
    st->dfb = b.dfb();
    st->slot = b.slot();
    st->where = loc;
    st->complete = std::move(move);
    return Transfer(st);
}

}  // namespace

Transfer::Transfer(Transfer&& o) noexcept : state_(o.state_) { o.state_ = nullptr; }

Transfer& Transfer::operator=(Transfer&& o) noexcept {
    if (this != &o) {
        this->~Transfer();
        state_ = o.state_;
        o.state_ = nullptr;
    }
    return *this;
}

Transfer::~Transfer() {
    if (!state_) return;
    if (!state_->waited && std::uncaught_exceptions() == 0) {
        OperationState& op = *state_->owner->node->op;
        if (!op.abort.load())
            op.fail(std::make_exception_ptr(Error(
                ErrorKind::TransferNotWaited,
                fmt::format("ttl transfer never waited: operation '{}', {}: the transfer returned by ttl::copy was "
                            "never waited; call .wait() on it before the block is used or released",
                            op.name, context(state_->owner, state_->where)))));
    }
    delete state_;
    state_ = nullptr;
}

void Transfer::wait(std::source_location loc) {
    settle_row_dots();  // the blocks or tensors they read may change
    Task& t = require_task("Transfer::wait()", loc);
    if (!state_) return;  // completed when issued (fast mode)
    TransferState& s = *state_;
    if (s.waited) raise(ErrorKind::BlockState, &t, loc, "wait() on a transfer that was already waited");
    if (s.kind == TransferState::Kind::PipeReceive) {
        block_until([](const void* p) { return static_cast<const TransferState*>(p)->receive->delivered.load(); },
                    [](const void* p) {
                        auto& ts = *static_cast<const TransferState*>(p);
                        const PipeNetState* net = ts.net;
                        const Pipe& pp = net->pipes[static_cast<size_t>(ts.pipe)];
                        const NodeState& src = *net->op->nodes[static_cast<size_t>(pp.src.x * net->op->size.y + pp.src.y)];
                        bool gone = src.tasks[0].finished && src.tasks[2].finished;
                        return fmt::format("receive on pipe net '{}' from node ({}, {}): waiting for its send{}", net->name,
                                           pp.src.x, pp.src.y,
                                           gone ? " — but that node's data-movement kernels have finished: a pipe "
                                                  "receive never matched by a send"
                                                : "");
                    },
                    &s, loc);
    }
    if (s.complete) s.complete();
    s.waited = true;
    if (s.dfb && s.dfb->node->op->validating()) {
        SlotState& slot = s.dfb->slots[static_cast<size_t>(s.slot)];
        if (s.kind == TransferState::Kind::BlockToTensor) {
            if (--slot.pending_reads == 0) slot.state = BlockState::ReadWrite;
        } else {
            slot.state = BlockState::MustRead;
        }
    }
    delete state_;
    state_ = nullptr;
}

Transfer copy(const TensorSlice& src, Block& dst, std::source_location loc) {
    settle_row_dots();  // the blocks or tensors they read may change
    Task& t = require_task("ttl::copy", loc);
    require_kind(t, true, "ttl::copy", loc);
    check_block(dst, t, loc, "ttl::copy");
    check_slice(src, dst, t, loc);
    count(t, dst.shape(), src.tensor->dtype());
    dst.note_written();
    OperationState& op = *t.node->op;
    if (!op.validating()) {
        DfbState& d = *dst.dfb();
        if (!simd::background_writes.empty()) {  // this thread's writes into what it reads land first
            const TileWindow w(src, dst.dtype(), dst.shape());
            const char* begin = static_cast<const char*>(src.tensor->raw()) + static_cast<size_t>(w.r0 * w.xcols + w.c0) * w.xs;
            simd::background_writes.finish_overlapping(begin, begin + static_cast<size_t>((w.brows - 1) * w.xcols + w.bcols) * w.xs);
        }
        if (op.options.deferred_reads && defer_read(src, d, dst.slot())) return Transfer();
        d.deferred[static_cast<size_t>(dst.slot())].src = nullptr;  // the slot's memory holds this read
        read_tiles(src, d.slot_data(dst.slot()), dst.dtype(), dst.shape(), &d.zero_rows_from[static_cast<size_t>(dst.slot())],
                   &d);
        return Transfer();
    }
    SlotState& s = slot_of(dst);
    if (s.state != BlockState::MustWrite && s.state != BlockState::ReadWrite)
        raise(ErrorKind::BlockState, &t, loc,
              fmt::format("copy into a block of '{}' that is {}{}", dst.buffer_name(), block_state_name(s.state),
                          s.state == BlockState::CopyWriting || s.state == BlockState::CopyReading
                              ? fmt::format(" (copy at {}): wait for that transfer first", where_str(s.copy_at))
                              : std::string()));
    s.state = BlockState::CopyWriting;
    s.copy_at = loc;
    TensorSlice slice = src;
    void* data = dst.data();
    DType dt = dst.dtype();
    TileShape shape = dst.shape();
    return deferred(TransferState::Kind::TensorToBlock, t, dst, loc,
                    [slice, data, dt, shape] { read_tiles(slice, data, dt, shape); });
}

Transfer copy(const Block& src, const TensorSlice& dst, std::source_location loc) {
    settle_row_dots();  // the blocks or tensors they read may change
    Task& t = require_task("ttl::copy", loc);
    require_kind(t, true, "ttl::copy", loc);
    check_block(src, t, loc, "ttl::copy");
    check_slice(dst, src, t, loc);
    count(t, src.shape(), dst.tensor->dtype());
    OperationState& op = *t.node->op;
    if (!op.validating()) {
        const void* data = src.data();
        const TileWindow w(dst, src.dtype(), src.shape());
        const char* begin = static_cast<const char*>(dst.tensor->raw()) + static_cast<size_t>(w.r0 * w.xcols + w.c0) * w.xs;
        resolve_deferred_before_write(*t.node, begin, begin + static_cast<size_t>((w.valid_rows - 1) * w.xcols + w.valid_cols) * w.xs);
        // Background writes (simd/prefetch.hpp): on the chip the write is done when wait()
        // returns; here it lands later, but before anything can tell: the slot's next reserve
        // (DataflowBuffer::reserve), a read of the range on this thread (above), a pipe send (other
        // nodes see the tensor only after one), the node's end (operation.cpp).
        if (op.options.background_writes && w.xt == src.dtype() && dst.tensor->nbytes() >= kStreamingTensor) {
            DfbState& d = *src.dfb();
            simd::background_writes.queue({const_cast<char*>(begin), static_cast<size_t>(w.xcols) * w.xs,
                                           static_cast<const char*>(data), static_cast<size_t>(w.bcols) * w.bs,
                                           static_cast<size_t>(w.valid_cols) * w.xs, static_cast<size_t>(w.valid_rows),
                                           &d.writing[static_cast<size_t>(src.slot())]});
            return Transfer();
        }
        write_tiles(data, src.dtype(), src.shape(), dst);
        return Transfer();
    }
    SlotState& s = slot_of(src);
    if (s.state == BlockState::MustWrite || s.state == BlockState::CopyWriting || s.state == BlockState::Free)
        raise(ErrorKind::BlockState, &t, loc,
              fmt::format("copy from a block of '{}' that is {}{}", src.buffer_name(), block_state_name(s.state),
                          s.state == BlockState::CopyWriting
                              ? fmt::format(" (copy at {}): use of a block before its copy completed", where_str(s.copy_at))
                              : std::string()));
    note_writes(op, t, dst, loc);
    s.state = BlockState::CopyReading;
    s.pending_reads++;
    s.ever_read = true;
    s.copy_at = loc;
    TensorSlice slice = dst;
    const void* data = src.data();
    DType dt = src.dtype();
    TileShape shape = src.shape();
    return deferred(TransferState::Kind::BlockToTensor, t, src, loc,
                    [slice, data, dt, shape] { write_tiles(data, dt, shape, slice); });
}

namespace {

PipeChannel& channel(const PipeNetState& net, int pipe, int node) {
    return *net.channels[static_cast<size_t>(pipe)].at(node);
}

struct SendWait {
    const PipeNetState* net;
    int pipe;
};

bool all_posted(const void* p) {
    auto* w = static_cast<const SendWait*>(p);
    for (const auto& [node, ch] : w->net->channels[static_cast<size_t>(w->pipe)])
        if (ch->posts.load() - ch->deliveries.load() <= 0) return false;
    return true;
}

}  // namespace

Transfer copy(const Block& src, const SrcPipe& pipe, std::source_location loc) {
    settle_row_dots();  // the blocks or tensors they read may change
    Task& t = require_task("ttl::copy to a pipe", loc);
    require_kind(t, true, "ttl::copy to a pipe", loc);
    check_block(src, t, loc, "ttl::copy to a pipe");
    PipeNetState& net = *pipe.net;
    const Pipe& p = net.pipes[static_cast<size_t>(pipe.index)];
    if (!(p.src == t.node->coord))
        raise(ErrorKind::PipeUnmatched, &t, loc,
              fmt::format("send on pipe net '{}' whose source is node ({}, {}), not this node: send inside net.if_src()",
                          net.name, p.src.x, p.src.y));
    OperationState& op = *t.node->op;
    if (op.validating()) {
        SlotState& s = slot_of(src);
        if (s.state == BlockState::MustWrite || s.state == BlockState::CopyWriting || s.state == BlockState::Free)
            raise(ErrorKind::BlockState, &t, loc,
                  fmt::format("send from a block of '{}' that is {}", src.buffer_name(), block_state_name(s.state)));
        s.ever_read = true;
        if (s.state == BlockState::MustRead) s.state = BlockState::ReadWrite;
    } else {
        resolve_deferred_before_write(*t.node, nullptr, nullptr);  // the receivers may write what this node read
        simd::background_writes.finish_all();  // and may read what it wrote
    }
    SendWait w{&net, pipe.index};
    block_until(all_posted, [](const void* arg) {
        auto* sw = static_cast<const SendWait*>(arg);
        const PipeNetState& net = *sw->net;
        const Pipe& p = net.pipes[static_cast<size_t>(sw->pipe)];
        const OperationState& op = *net.op;
        std::string missing;
        for (const auto& n : op.nodes)
            if (p.dst.contains(n->coord)) {
                bool done = n->tasks[0].finished && n->tasks[2].finished;
                missing += fmt::format(" ({}, {}){}", n->coord.x, n->coord.y, done ? " [finished: never posted]" : "");
            }
        return fmt::format("send on pipe net '{}' from ({}, {}): waiting for every destination to post a receive "
                           "(copy(pipe, block)); destinations:{}{}",
                           net.name, p.src.x, p.src.y, missing,
                           missing.find("never posted") != std::string::npos ? " — a pipe send never matched by a receive"
                                                                            : "");
    }, &w, loc);
    for (auto& [node, ch] : net.channels[static_cast<size_t>(pipe.index)]) {
        PostedReceive* r;
        {
            std::lock_guard<std::mutex> lock(ch->mutex);
            r = ch->posted.front();
            ch->posted.pop_front();
        }
        if (r->dfb->spec->shape != src.shape())
            raise(ErrorKind::CopyShape, &t, loc,
                  fmt::format("pipe send of a {}x{}-tile block of '{}' into a {}x{}-tile block of '{}' posted at {}",
                              src.shape().rows, src.shape().cols, src.buffer_name(), r->dfb->spec->shape.rows,
                              r->dfb->spec->shape.cols, r->dfb->spec->name, where_str(r->where)));
        const size_t n = static_cast<size_t>(src.shape().tiles()) * kTileElems;
        convert_row(src.data(), src.dtype(), r->dfb->slot_data(r->slot), r->dfb->spec->dtype, n);
        r->dfb->forget_zero_rows(r->slot);  // its deferred read was cleared when the receive was posted
        count(t, src.shape(), src.dtype());
        r->delivered.store(true);
        ch->deliveries.fetch_add(1);
        op.pipe_epoch.fetch_add(1);
    }
    return Transfer();
}

Transfer copy(const DstPipe& pipe, Block& dst, std::source_location loc) {
    settle_row_dots();  // the blocks or tensors they read may change
    Task& t = require_task("ttl::copy from a pipe", loc);
    require_kind(t, true, "ttl::copy from a pipe", loc);
    check_block(dst, t, loc, "ttl::copy from a pipe");
    PipeNetState& net = *pipe.net;
    const Pipe& p = net.pipes[static_cast<size_t>(pipe.index)];
    if (!p.dst.contains(t.node->coord))
        raise(ErrorKind::PipeUnmatched, &t, loc,
              fmt::format("receive on pipe net '{}' that does not reach this node: receive inside net.if_dst()", net.name));
    OperationState& op = *t.node->op;
    if (op.validating()) {
        SlotState& s = slot_of(dst);
        if (s.state != BlockState::MustWrite && s.state != BlockState::ReadWrite)
            raise(ErrorKind::BlockState, &t, loc,
                  fmt::format("receive into a block of '{}' that is {}", dst.buffer_name(), block_state_name(s.state)));
        s.state = BlockState::CopyWriting;
        s.copy_at = loc;
    }
    dst.note_written();
    // The sender writes the slot's memory; what it held before is gone (cleared here, on this
    // node's thread, which alone reads the slot's deferred read).
    dst.dfb()->deferred[static_cast<size_t>(dst.slot())].src = nullptr;
    auto owned = std::make_unique<PostedReceive>();
    PostedReceive* r = owned.get();
    r->dfb = dst.dfb();
    r->slot = dst.slot();
    r->where = loc;
    {
        std::lock_guard<std::mutex> lock(net.receives_mutex);
        net.receives.push_back(std::move(owned));
    }
    PipeChannel& ch = channel(net, pipe.index, t.node->index);
    {
        std::lock_guard<std::mutex> lock(ch.mutex);
        ch.posted.push_back(r);
    }
    ch.posts.fetch_add(1);
    op.pipe_epoch.fetch_add(1);
    auto* st = new TransferState;
    st->kind = TransferState::Kind::PipeReceive;
    st->owner = &t;
    st->dfb = dst.dfb();
    st->slot = dst.slot();
    st->where = loc;
    st->receive = r;
    st->net = &net;
    st->pipe = pipe.index;
    return Transfer(st);
}

void GroupTransfer::wait_all(std::source_location loc) {
    for (auto& t : transfers_) t.wait(loc);
    transfers_.clear();
}

}  // namespace ttl
