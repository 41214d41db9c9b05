// Dataflow buffers and blocks: the rings of L1 blocks that join a node's kernel functions.
//
//   auto a_dfb = ttl::make_dataflow_buffer_like(op, a, {1, 1}, /*block_count=*/2, "a");
//   { auto blk = a_dfb.reserve(); ttl::copy(a(r, c), blk).wait(); }   // pushed at scope end
//   { auto blk = a_dfb.wait(); ... }                                  // popped at scope end
//
// reserve() and wait() block; the block is released (pushed / popped) when it goes out of
// scope, or earlier by an explicit push() / pop().
#pragma once

#include <cstdint>
#include <optional>
#include <source_location>
#include <string>

#include "ttl/detail/pending_row_dots.hpp"
#include "ttl/detail/ring.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/dtype.hpp"
#include "ttl/tensor.hpp"

namespace ttl {

class Operation;
class BlockExpr;

class Block {
   public:
    Block(Block&& other) noexcept;
    Block& operator=(Block&&) = delete;
    Block(const Block&) = delete;
    ~Block() {
        if (released_ || !dfb_) return;
        if (!dfb_->validating)
            release_fast();  // counters only: harmless while an aborted operation unwinds
        else
            release_at_scope_end();
    }

    // Release explicitly (a reserved block is pushed, a waited block popped).
    void push(std::source_location loc = std::source_location::current());
    void pop(std::source_location loc = std::source_location::current());

    // Compute kernel: materialise an expression into this block (rounds to the buffer dtype).
    void store(const BlockExpr& value, std::source_location loc = std::source_location::current());
    // Accumulate: the first += into a freshly reserved block assigns, later ones add
    // (the chip's L1 accumulation). `o += ttl::math::matmul(a, b)` accumulates in place.
    Block& operator+=(const BlockExpr& value);

    TileShape shape() const;
    DType dtype() const;
    const std::string& buffer_name() const;

    // Internal: the ring slot this block occupies.
    detail::DfbState* dfb() const { return dfb_; }
    int slot() const { return slot_; }
    bool is_reserved() const { return reserved_; }
    void* data() const;  // the block's memory, a deferred read (copy.cpp) read in first
    void note_written() { written_ = true; }
    bool written() const { return written_; }

   private:
    friend class DataflowBuffer;
    Block(detail::DfbState* dfb, int slot, bool reserved, std::source_location loc)
        : dfb_(dfb), slot_(slot), reserved_(reserved), acquired_at_(loc) {}
    void release(bool push, std::source_location loc);
    void release_at_scope_end();
    // Fast mode: the ring's counters only.
    void release_fast() {
        detail::settle_row_dots();  // they may read this block
        detail::DfbState& d = *dfb_;
        released_ = true;
        if (reserved_) {
            d.reserved--;
            if (++d.visible > d.peak) d.peak = d.visible;
            d.pushes++;
        } else {
            d.waited--;
            d.visible--;
            d.deferred[static_cast<size_t>(slot_)].src = nullptr;
            d.head = d.head + 1 == d.capacity ? 0 : d.head + 1;
            d.pops++;
        }
    }

    detail::DfbState* dfb_ = nullptr;
    int slot_ = -1;
    bool reserved_ = false;  // from reserve() (else from wait())
    bool released_ = false;
    bool written_ = false;
    std::source_location acquired_at_;
};

class DataflowBuffer {
   public:
    DataflowBuffer() = default;
    // Producer side: blocks until a block is free.
    Block reserve(std::source_location loc = std::source_location::current()) {
        detail::settle_row_dots();  // before this kernel may give the thread to another
        if (detail::DfbState* d = fast_ring(); d && d->reserved == 0) {
            if (d->free_blocks() == 0) [[unlikely]] {  // full: hand the worker to the consumer
                ++d->reserve_stalls;
                detail::suspend_inline(detail::ring_has_free_block, detail::describe_reserve, d, loc);
            }
            int slot = d->head + d->visible;
            if (slot >= d->capacity) slot -= d->capacity;
            if (d->writing[static_cast<size_t>(slot)]) simd::background_writes.finish_through(&d->writing[static_cast<size_t>(slot)]);
            d->reserved = 1;
            return Block(d, slot, true, loc);
        }
        return reserve_slow(loc);
    }
    // Consumer side: blocks until a block has been pushed.
    Block wait(std::source_location loc = std::source_location::current()) {
        detail::settle_row_dots();
        if (detail::DfbState* d = fast_ring(); d && d->waited == 0) {
            if (d->visible == 0) [[unlikely]] {  // empty: hand the worker to the producer
                ++d->wait_stalls;
                detail::suspend_inline(detail::ring_has_filled_block, detail::describe_wait, d, loc);
            }
            d->waited = 1;
            return Block(d, d->head, false, loc);
        }
        return wait_slow(loc);
    }

    const std::string& name() const;
    TileShape shape() const;
    int block_count() const;
    DType dtype() const;

   private:
    // Validate mode, and misuse in fast mode (a second outstanding reserve or wait).
    Block reserve_slow(std::source_location loc);
    Block wait_slow(std::source_location loc);
    // The running node's ring of this buffer, when the fast path applies.
    detail::DfbState* fast_ring() const {
        if (detail::t_current_op != op_ || !detail::t_current_dfbs) return nullptr;
        detail::DfbState* d = detail::t_current_dfbs + index_;
        return d->validating ? nullptr : d;
    }
    friend DataflowBuffer make_dataflow_buffer_like(Operation&, const Tensor&, TileShape, int, std::string,
                                                    std::optional<DType>, std::source_location);
    DataflowBuffer(detail::OperationState* op, int index) : op_(op), index_(index) {}
    detail::DfbState& state() const;

    detail::OperationState* op_ = nullptr;
    int index_ = -1;
};

// A dataflow buffer whose tiles are like `like`'s (its dtype, unless `dtype` says otherwise),
// with blocks of `shape` tiles and `block_count` blocks (2 = double buffering). Every node of
// the operation gets its own instance in its L1.
DataflowBuffer make_dataflow_buffer_like(Operation& op, const Tensor& like, TileShape shape, int block_count = 2,
                                         std::string name = {}, std::optional<DType> dtype = std::nullopt,
                                         std::source_location loc = std::source_location::current());

}  // namespace ttl
