// Dataflow buffer rings and the block state machine.
#include "ttl/dataflow_buffer.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "ttl/block_math.hpp"
#include "ttl/detail/state.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/operation.hpp"
#include "ttl/simd/tile_ops.hpp"

namespace ttl {

using namespace detail;

DataflowBuffer make_dataflow_buffer_like(Operation& op, const Tensor& like, TileShape shape, int block_count,
                                         std::string name, std::optional<DType> dtype, std::source_location loc) {
    OperationState& st = op.state();
    const DType dt = dtype.value_or(like.dtype());
    if (dt != DType::F32 && dt != DType::BF16)
        throw Error(ErrorKind::Shape, fmt::format("ttl: dataflow buffer at {} has dtype {}; blocks hold f32 or bf16 tiles",
                                                  where_str(loc), dtype_name(dt)));
    if (shape.rows <= 0 || shape.cols <= 0)
        throw Error(ErrorKind::Shape, fmt::format("ttl: dataflow buffer at {} has block shape {}x{} tiles; both must be "
                                                  "positive",
                                                  where_str(loc), shape.rows, shape.cols));
    if (block_count < 1 || block_count > 32)
        throw Error(ErrorKind::Shape, fmt::format("ttl: dataflow buffer at {} has block_count {}; TT-Lang allows 1 to 32",
                                                  where_str(loc), block_count));
    auto spec = std::make_unique<DfbSpec>();
    spec->name = name.empty() ? fmt::format("dfb{}@{}", st.dfbs.size(), where_str(loc)) : std::move(name);
    spec->shape = shape;
    spec->block_count = block_count;
    spec->dtype = dt;
    spec->block_bytes = tile_bytes(dt) * static_cast<size_t>(shape.tiles());
    spec->where = loc;
    st.dfbs.push_back(std::move(spec));
    return DataflowBuffer(&st, static_cast<int>(st.dfbs.size()) - 1);
}

DfbState& DataflowBuffer::state() const {
    Task* t = current_task();
    if (!t) throw Error(ErrorKind::WrongThread, fmt::format("ttl: dataflow buffer '{}' used outside a kernel function", name()));
    if (t->node->op != op_)
        throw Error(ErrorKind::WrongThread,
                    fmt::format("ttl: dataflow buffer '{}' belongs to another operation than the running kernel", name()));
    return t->node->dfbs[static_cast<size_t>(index_)];
}

const std::string& DataflowBuffer::name() const { return op_->dfbs[static_cast<size_t>(index_)]->name; }
TileShape DataflowBuffer::shape() const { return op_->dfbs[static_cast<size_t>(index_)]->shape; }
int DataflowBuffer::block_count() const { return op_->dfbs[static_cast<size_t>(index_)]->block_count; }
DType DataflowBuffer::dtype() const { return op_->dfbs[static_cast<size_t>(index_)]->dtype; }

namespace {

std::string ring_state(const DfbState& d) {
    return fmt::format("{} of {} blocks filled, {} reserved", d.visible, d.capacity, d.reserved);
}

}  // namespace

bool detail::ring_has_free_block(const void* p) { return static_cast<const DfbState*>(p)->free_blocks() > 0; }
bool detail::ring_has_filled_block(const void* p) {
    auto* d = static_cast<const DfbState*>(p);
    return d->visible - d->waited > 0;
}

std::string detail::describe_reserve(const void* p) {
    auto& q = *static_cast<const DfbState*>(p);
    return fmt::format("reserve() on '{}' ({}): waiting for the consumer to pop a block", q.spec->name, ring_state(q));
}

std::string detail::describe_wait(const void* p) {
    const DfbState& d = *static_cast<const DfbState*>(p);
    const NodeState& n = *d.node;
    std::string producer;
    if (d.producer < 0)
        producer = " — but no kernel of this node has reserved a block of it";
    else if (n.tasks[d.producer].finished)
        producer = fmt::format(" — but its producer, the {} kernel, has finished",
                               kernel_name(static_cast<KernelKind>(d.producer)));
    return fmt::format("wait() on '{}' ({}): waiting for the producer to push a block{}", d.spec->name, ring_state(d),
                       producer);
}

namespace {

void check_single_role(DfbState& d, Task& t, bool producer, std::source_location loc) {
    int& role = producer ? d.producer : d.consumer;
    int kind = static_cast<int>(t.kind);
    if (role < 0) {
        role = kind;
    } else if (role != kind) {
        raise(ErrorKind::Unbalanced, &t, loc,
              fmt::format("dataflow buffer '{}' is {} by both the {} and the {} kernel; a dataflow buffer has one "
                          "producer and one consumer kernel function",
                          d.spec->name, producer ? "reserved" : "waited", kernel_name(static_cast<KernelKind>(role)),
                          kernel_name(t.kind)));
    }
}

void poison(DfbState& d, int slot) {
    // Reserved blocks hold garbage on the chip; NaN makes reading it before writing visible.
    if (d.spec->dtype == DType::F32) {
        float* p = reinterpret_cast<float*>(d.slot_data(slot));
        std::fill(p, p + d.spec->shape.tiles() * kTileElems, std::numeric_limits<float>::quiet_NaN());
    } else {
        uint16_t* p = reinterpret_cast<uint16_t*>(d.slot_data(slot));
        std::fill(p, p + d.spec->shape.tiles() * kTileElems, uint16_t{0x7fc0});
    }
}

}  // namespace

Block DataflowBuffer::reserve_slow(std::source_location loc) {
    DfbState& d = state();
    Task& t = *current_task();
    t.last_call = loc;
    if (t.node->op->validating()) {
        check_single_role(d, t, true, loc);
        if (d.reserved > 0)
            raise(ErrorKind::Unbalanced, &t, loc,
                  fmt::format("reserve() on '{}' again before the previous reserved block was pushed (one outstanding "
                              "reserve per dataflow buffer)",
                              d.spec->name));
    }
    if (d.free_blocks() == 0) {
        ++d.reserve_stalls;
        block_until(ring_has_free_block, describe_reserve, &d, loc);
    }
    int slot = (d.head + d.visible) % d.capacity;
    if (d.writing[static_cast<size_t>(slot)]) simd::background_writes.finish_through(&d.writing[static_cast<size_t>(slot)]);
    d.reserved++;
    if (t.node->op->validating()) {
        SlotState& s = d.slots[static_cast<size_t>(slot)];
        s.state = BlockState::MustWrite;
        s.pending_reads = 0;
        s.ever_read = false;
        s.generation++;
        poison(d, slot);
    }
    return Block(&d, slot, true, loc);
}

Block DataflowBuffer::wait_slow(std::source_location loc) {
    DfbState& d = state();
    Task& t = *current_task();
    t.last_call = loc;
    if (t.node->op->validating()) {
        check_single_role(d, t, false, loc);
        if (d.waited > 0)
            raise(ErrorKind::Unbalanced, &t, loc,
                  fmt::format("wait() on '{}' again before the previous waited block was popped (one outstanding wait "
                              "per dataflow buffer)",
                              d.spec->name));
    }
    if (d.visible - d.waited <= 0) {
        ++d.wait_stalls;
        block_until(ring_has_filled_block, describe_wait, &d, loc);
    }
    int slot = d.head;
    d.waited++;
    if (t.node->op->validating()) {
        SlotState& s = d.slots[static_cast<size_t>(slot)];
        if (s.state != BlockState::MustRead && s.state != BlockState::ReadWrite)
            raise(ErrorKind::BlockState, &t, loc,
                  fmt::format("wait() on '{}' got a block that is {}", d.spec->name, block_state_name(s.state)));
        s.state = BlockState::MustRead;
        s.ever_read = false;
        s.generation++;
    }
    return Block(&d, slot, false, loc);
}

Block::Block(Block&& o) noexcept
    : dfb_(o.dfb_), slot_(o.slot_), reserved_(o.reserved_), released_(o.released_), written_(o.written_),
      acquired_at_(o.acquired_at_) {
    o.released_ = true;
    o.dfb_ = nullptr;
}

void Block::release_at_scope_end() {
    // Unwinding after an error: leave the ring alone (and keep the first error the one reported).
    const OperationState& op = *dfb_->node->op;
    if (op.abort.load(std::memory_order_relaxed) || (op.validating() && std::uncaught_exceptions() > 0)) return;
    try {
        release(reserved_, acquired_at_);
    } catch (...) {
        dfb_->node->op->fail(std::current_exception());
    }
}

void Block::release(bool push, std::source_location loc) {
    DfbState& d = *dfb_;
    if (!d.validating && !released_ && push == reserved_) {
        release_fast();
        return;
    }
    Task* t = current_task();
    if (released_)
        raise(ErrorKind::BlockState, t, loc,
              fmt::format("block of '{}' released twice (push/pop after it was already released)", buffer_name()));
    if (push != reserved_)
        raise(ErrorKind::BlockState, t, loc,
              push ? fmt::format("push() on a block of '{}' acquired with wait(): a consumer pops", buffer_name())
                   : fmt::format("pop() on a block of '{}' acquired with reserve(): a producer pushes", buffer_name()));
    if (d.node->op->validating()) {
        SlotState& s = d.slots[static_cast<size_t>(slot_)];
        if (s.state == BlockState::CopyWriting || s.state == BlockState::CopyReading)
            raise(ErrorKind::BlockState, t, loc,
                  fmt::format("{} of a block of '{}' while it is {} (copy at {}): wait for the transfer first",
                              push ? "push()" : "pop()", buffer_name(), block_state_name(s.state), where_str(s.copy_at)));
        if (push && s.state == BlockState::MustWrite)
            raise(ErrorKind::BlockState, t, loc,
                  fmt::format("push() of a block of '{}' that was reserved but never written", buffer_name()));
        if (!push && !s.ever_read)
            raise(ErrorKind::BlockState, t, loc,
                  fmt::format("pop() of a block of '{}' that was never read: a waited block must be used (compute: in "
                              "an expression that is stored; data movement: copied out)",
                              buffer_name()));
        s.state = push ? BlockState::MustRead : BlockState::Free;
        s.ever_read = false;
    }
    released_ = true;
    if (push) {
        d.reserved--;
        d.visible++;
        d.pushes++;
        if (d.visible > d.peak) d.peak = d.visible;
    } else {
        d.waited--;
        d.visible--;
        d.head = (d.head + 1) % d.capacity;
        d.pops++;
    }
}

void Block::push(std::source_location loc) { release(true, loc); }
void Block::pop(std::source_location loc) { release(false, loc); }

TileShape Block::shape() const { return dfb_->spec->shape; }
DType Block::dtype() const { return dfb_->spec->dtype; }
const std::string& Block::buffer_name() const { return dfb_->spec->name; }
void* Block::data() const {
    if (dfb_->deferred[static_cast<size_t>(slot_)].src) detail::resolve_deferred(*dfb_, slot_);
    return dfb_->slot_data(slot_);
}

namespace {

// Validate: may a compute kernel write this block now?
void check_store(const Block& b, Task& t, std::source_location loc, const char* what) {
    if (!b.dfb()) raise(ErrorKind::BlockState, &t, loc, fmt::format("{} into a moved-from block", what));
    if (!b.dfb()->node->op->validating()) return;
    SlotState& s = b.dfb()->slots[static_cast<size_t>(b.slot())];
    if (s.state == BlockState::Free)
        raise(ErrorKind::BlockState, &t, loc, fmt::format("{} into a block of '{}' after it was released", what, b.buffer_name()));
    if (s.state == BlockState::CopyWriting || s.state == BlockState::CopyReading)
        raise(ErrorKind::BlockState, &t, loc,
              fmt::format("{} into a block of '{}' while it is {} (copy at {})", what, b.buffer_name(),
                          block_state_name(s.state), where_str(s.copy_at)));
    s.state = BlockState::MustRead;
}

void write_block(Block& b, const float* values) {
    b.dfb()->overwritten(b.slot());
    const size_t n = static_cast<size_t>(b.shape().tiles()) * kTileElems;
    if (b.dtype() == DType::F32) {
        if (values != b.data()) std::memcpy(b.data(), values, n * sizeof(float));
    } else {
        simd::f32_to_bf16(values, static_cast<uint16_t*>(b.data()), n);
    }
}

}  // namespace

void Block::store(const BlockExpr& value, std::source_location loc) {
    settle_row_dots();  // they may read this block
    Task& t = require_task("store()", loc);
    require_kind(t, false, "store()", loc);
    if (value.shape() != shape())
        raise(ErrorKind::Shape, &t, loc,
              fmt::format("store() of a {}x{}-tile value into a {}x{}-tile block of '{}'", value.shape().rows,
                          value.shape().cols, shape().rows, shape().cols, buffer_name()));
    check_store(*this, t, loc, "store()");
    const size_t n = static_cast<size_t>(shape().tiles()) * kTileElems;
    dfb_->overwritten(slot_);
    if (dtype() == DType::F32) {
        value.evaluate_into(static_cast<float*>(data()));
    } else {
        ScratchBuffer tmp(n);
        value.evaluate_into(tmp.get());
        write_block(*this, tmp.get());
    }
    written_ = true;
}

Block& Block::operator+=(const BlockExpr& value) {
    settle_row_dots();  // they may read this block
    Task& t = require_task("+=", current_task() ? current_task()->last_call : std::source_location::current());
    std::source_location loc = t.last_call;
    require_kind(t, false, "+=", loc);
    if (!written_) {  // first accumulation into a fresh block assigns (L1 accumulation starts from the packed value)
        store(value, loc);
        return *this;
    }
    if (value.shape() != shape())
        raise(ErrorKind::Shape, &t, loc,
              fmt::format("+= of a {}x{}-tile value into a {}x{}-tile block of '{}'", value.shape().rows,
                          value.shape().cols, shape().rows, shape().cols, buffer_name()));
    check_store(*this, t, loc, "+=");
    const size_t n = static_cast<size_t>(shape().tiles()) * kTileElems;
    void* mem = data();  // the current value (a deferred read is read first)
    dfb_->overwritten(slot_);
    if (dtype() == DType::F32 && value.is_matmul()) {
        const auto& a = value.lhs();
        const auto& b = value.rhs();
        const size_t m = static_cast<size_t>(a.shape.rows) * kTileDim, k = static_cast<size_t>(a.shape.cols) * kTileDim,
                     nn = static_cast<size_t>(b.shape.cols) * kTileDim;
        check_live(a);
        check_live(b);
        simd::matmul(a.data, k, b.data, nn, static_cast<float*>(mem), nn, m, nn, k, true);
        return *this;
    }
    ScratchBuffer tmp(n), cur(n);
    value.evaluate_into(tmp.get());
    const float* current;
    if (dtype() == DType::F32) {
        current = static_cast<const float*>(mem);
    } else {
        simd::bf16_to_f32(static_cast<const uint16_t*>(mem), cur.get(), n);
        current = cur.get();
    }
    simd::binary(simd::Binary::Add, current, tmp.get(), tmp.get(), n);
    write_block(*this, tmp.get());
    return *this;
}

}  // namespace ttl
