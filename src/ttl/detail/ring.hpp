// A node's dataflow buffer rings. Public to the inline fast paths of dataflow_buffer.hpp:
// in fast mode reserve/wait/push/pop touch only these few counters.
#pragma once

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

#include "ttl/dtype.hpp"

namespace ttl {
struct TileShape;
}

namespace ttl::detail {

struct NodeState;
struct Task;
struct OperationState;

// The chip's block states (TT-Lang spec, "Block states"): what may happen next to a block.
enum class BlockState : uint8_t {
    MustWrite,    // fresh reserve: garbage until written
    MustRead,     // holds data nobody has read yet
    ReadWrite,    // read at least once
    CopyWriting,  // an async copy is writing it (NAW)
    CopyReading,  // async copies are reading it (ROR)
    Free,         // not acquired
};
const char* block_state_name(BlockState s);

struct DfbSpec {
    std::string name;
    TileShape shape;
    int block_count = 2;
    DType dtype = DType::F32;
    size_t block_bytes = 0;
    std::source_location where;
};


struct SlotState {
    BlockState state = BlockState::Free;
    int pending_reads = 0;
    bool ever_read = false;
    uint32_t generation = 0;       // bumped at every acquire: views of an older acquisition are stale
    std::source_location copy_at;  // the copy in flight, for messages
};

struct DfbState {
    const DfbSpec* spec = nullptr;
    int index = 0;
    NodeState* node = nullptr;
    const OperationState* op = nullptr;
    bool validating = false;
    char* base = nullptr;  // block_count * block_bytes
    int capacity = 0;
    int head = 0;      // oldest filled block
    int visible = 0;   // pushed, not yet popped
    int reserved = 0;  // reserved, not yet pushed
    int waited = 0;    // waited, not yet popped
    // statistics
    int64_t pushes = 0, pops = 0, reserve_stalls = 0, wait_stalls = 0;
    int peak = 0;
    // validate mode
    std::vector<SlotState> slots;
    int producer = -1, consumer = -1;  // KernelKind of the single producer / consumer

    // Fast mode, per slot: the first row from which the block is known to be zero (a copy of a
    // short tensor leaves its padding rows zero; anything else that writes the block forgets it).
    std::vector<int> zero_rows_from;
    // Fast mode, per slot: a tensor read deferred to its use (copy.cpp, "deferred reads"): the
    // block's rows lie in the tensor from `src`, `stride` floats apart, and the slot's memory
    // does not hold them. Null when the slot holds its data.
    struct DeferredRead {
        const float* src = nullptr;
        size_t stride = 0;
        bool used = false;  // an expression has read it: its rows are in cache from then on
    };
    std::vector<DeferredRead> deferred;
    // Fast mode, per slot: the background writes queued from the slot (simd/prefetch.hpp).
    std::vector<char> writing;
    // Fast mode: this buffer's last reads from one tensor (where each began), and the read it
    // expects next if its reader walks the tensor's tiles in row-major order (first element row
    // and column), to read ahead (copy.cpp, simd/prefetch.hpp).
    struct ReadHistory {
        static constexpr int kLength = 16;
        const void* tensor = nullptr;
        uintptr_t at[kLength] = {};  // at[kLength - 1]: the latest
        int count = 0;               // valid entries, the latest ones
    } reads;
    int64_t next_read_row = -1, next_read_col = -1;

    char* slot_data(int slot) const { return base + static_cast<size_t>(slot) * spec->block_bytes; }
    void forget_zero_rows(int slot) { zero_rows_from[static_cast<size_t>(slot)] = spec->shape.rows * 32; }
    // The slot's memory is being overwritten whole: it is neither known zero nor a deferred read.
    void overwritten(int slot) {
        forget_zero_rows(slot);
        deferred[static_cast<size_t>(slot)].src = nullptr;
    }
    int free_blocks() const { return capacity - visible - reserved; }
};

// Deferred reads (copy.cpp). Copies a slot's deferred read into its memory.
void resolve_deferred(DfbState& d, int slot);
// Before a node's kernel writes [begin, end) of a tensor, or sends over a pipe (begin == end ==
// null: everything), the node's held blocks whose deferred reads it might overwrite are read.
void resolve_deferred_before_write(NodeState& node, const void* begin, const void* end);

// Why a kernel fiber is suspended, and how to tell when it can go on. Both functions take
// `arg`; describe() runs only when a deadlock report needs it.
using ReadyFn = bool (*)(const void*);
using DescribeFn = std::string (*)(const void*);

// Predicates of the rings, for suspending on them.
bool ring_has_free_block(const void* dfb);
bool ring_has_filled_block(const void* dfb);
std::string describe_reserve(const void* dfb);
std::string describe_wait(const void* dfb);

// A kernel's suspended execution (Boost.Context's fcontext: a stack pointer).
using Context = boost::context::detail::fcontext_t;

// Suspends the running kernel until `ready(arg)` holds, in three steps: leave() records why it
// blocks and picks the context to run instead (a runnable sibling kernel of its node, else the
// worker loop), the jump, and arrive() on the way back. suspend_inline() does the jump in the
// caller's own code: the switch then lands directly in the resumed kernel's code, with no
// returns through frames of the other kernel's call chain, each of which the CPU's return
// predictor would miss (measured: 20 ns instead of 7 per switch on Zen 5). It is the hand-off
// through a full or empty ring. suspend_until() does all of it out of line (and tells
// AddressSanitizer of the stack switch).
Context leave(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where);
void arrive(boost::context::detail::transfer_t from);
void suspend_until(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where);

[[gnu::always_inline]] inline void suspend_inline(ReadyFn ready, DescribeFn describe, const void* arg,
                                                  std::source_location where) {
#if defined(__SANITIZE_ADDRESS__)
    suspend_until(ready, describe, arg, where);
#else
    arrive(boost::context::detail::jump_fcontext(leave(ready, describe, arg, where), nullptr));
#endif
}

// The operation this thread is running (null outside Operation::run) and the running kernel's
// node's rings (null outside kernels).
inline thread_local const OperationState* t_current_op = nullptr;
inline thread_local DfbState* t_current_dfbs = nullptr;

}  // namespace ttl::detail
