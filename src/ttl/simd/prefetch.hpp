// Background reads: tensor reads the runtime expects next, brought into cache a few lines at a
// time by the compute loops. On the chip a reader's copy is a DMA that runs while compute works;
// on a CPU the core copies by itself, and a block read straight from DRAM stalls it for the whole
// transfer. When a reader walks a tensor's blocks in row-major order, the runtime queues the read
// it expects a buffer's depth later (ttl/copy.cpp), and the heavy compute loops issue its cache
// lines as they go, one per vector row segment they process: paced so, the requests stay within
// what the memory system takes at once (a burst of them would stall the core as the copy did), and
// DRAM works while the core computes; the copy then finds its data in cache. Only a hint: a wrong
// guess costs bandwidth, never a wrong value.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ttl::simd {

struct PendingRead {
    const char* base;
    size_t stride, row_bytes, rows;
};

class BackgroundReads {
   public:
    static constexpr int kCapacity = 8;
    static constexpr size_t kLine = 64;

    // Queues a read; the oldest is dropped when the queue is full (its time has passed).
    void expect(const PendingRead& r) {
        if (r.rows == 0 || r.row_bytes == 0) return;
        if (count_ == kCapacity) pop();
        q_[(head_ + count_) % kCapacity] = r;
        ++count_;
    }
    // Issues up to `lines` cache lines of the oldest queued reads.
    void issue(size_t lines) {
        while (lines && count_) {
            const PendingRead& r = q_[head_];
            __builtin_prefetch(r.base + row_ * r.stride + offset_, 0, 2);  // prefetcht1
            --lines;
            if ((offset_ += kLine) >= r.row_bytes) {
                offset_ = 0;
                if (++row_ == r.rows) pop();
            }
        }
    }
    bool queued(const char* base) const {
        for (int i = 0; i < count_; ++i)
            if (q_[(head_ + i) % kCapacity].base == base) return true;
        return false;
    }
    void clear() {
        while (count_) pop();
    }
    // A read is starting: it and anything queued before it need no more prefetching.
    void started(const char* base) {
        for (int i = 0; i < count_; ++i)
            if (q_[(head_ + i) % kCapacity].base == base) {
                for (int k = 0; k <= i; ++k) pop();
                return;
            }
    }

   private:
    void pop() {
        head_ = (head_ + 1) % kCapacity;
        --count_;
        row_ = offset_ = 0;
    }
    PendingRead q_[kCapacity];
    int head_ = 0, count_ = 0;
    size_t row_ = 0, offset_ = 0;  // progress through q_[head_]
};

// Per worker thread: the reader and the compute kernel of a node run on the same thread.
inline thread_local BackgroundReads background_reads;

// A row read at a tensor's row stride (a deferred read) lies in a page of its own, where the
// hardware prefetchers start over: the loops that read such rows first (row dots, and a per-row
// operation on a deferred read's first use, as the Engram conv's x / rms) ask for the row
// kRowsAhead rows on as they start each one. Not on later passes over rows already in cache (the
// gating's four gate * value stores over one value block: 2.4% slower when they did).
constexpr size_t kRowsAhead = 4;
inline void prefetch_row_ahead(const float* row, size_t stride, size_t row_floats) {
    for (size_t c = 0; c < row_floats; c += BackgroundReads::kLine / sizeof(float))
        __builtin_prefetch(row + kRowsAhead * stride + c);
}

// Non-temporal copy of `bytes` (tile_ops.cpp) without the store fence; fence_streams() orders
// such stores before whatever the thread does next.
void stream_copy_unfenced(void* dst, const void* src, size_t bytes);
void fence_streams();

// Background writes: a writer's copy of a block into a tensor that streams to DRAM, done a few
// lines at a time by the compute loops that follow. On the chip the writer's copy is a DMA that
// runs while compute works on the next block; on a CPU the core's own copy pass would stall it
// for the whole DRAM write. `busy` marks the block's slot until its write is done: the slot is
// not handed out again before (DataflowBuffer::reserve), and the runtime finishes writes before
// anything could see the tensor (copy.cpp, operation.cpp).
struct PendingWrite {
    char* dst;
    size_t dst_stride;
    const char* src;
    size_t src_stride, row_bytes, rows;
    char* busy;  // the slot's count of queued writes
};

class BackgroundWrites {
   public:
    static constexpr int kCapacity = 8;
    static constexpr size_t kLine = 64;

    bool empty() const { return count_ == 0; }
    // Queues a write; the oldest is finished first when the queue is full.
    void queue(const PendingWrite& w) {
        if (w.rows == 0 || w.row_bytes == 0) return;
        if (count_ == kCapacity) finish_oldest();
        ++*w.busy;
        q_[(head_ + count_) % kCapacity] = w;
        ++count_;
    }
    // Writes up to `lines` cache lines of the oldest queued writes.
    void issue(size_t lines) {
        while (lines && count_) {
            const PendingWrite& w = q_[head_];
            const size_t bytes = std::min(lines * kLine, w.row_bytes - offset_);
            stream_copy_unfenced(w.dst + row_ * w.dst_stride + offset_, w.src + row_ * w.src_stride + offset_, bytes);
            lines -= (bytes + kLine - 1) / kLine;
            if ((offset_ += bytes) == w.row_bytes) {
                offset_ = 0;
                if (++row_ == w.rows) pop();
            }
        }
    }
    // Finishes the last queued write that reads the slot counting `busy`, and those before it.
    void finish_through(const char* busy) {
        for (int i = count_ - 1; i >= 0; --i)
            if (q_[(head_ + i) % kCapacity].busy == busy) {
                for (int k = 0; k <= i; ++k) finish_oldest();
                return;
            }
    }
    // Finishes every write into [begin, end), and those queued before them.
    void finish_overlapping(const void* begin, const void* end) {
        for (int i = count_ - 1; i >= 0; --i) {
            const PendingWrite& w = q_[(head_ + i) % kCapacity];
            const auto b = reinterpret_cast<uintptr_t>(w.dst), e = b + (w.rows - 1) * w.dst_stride + w.row_bytes;
            if (b < reinterpret_cast<uintptr_t>(end) && reinterpret_cast<uintptr_t>(begin) < e) {
                for (int k = 0; k <= i; ++k) finish_oldest();
                return;
            }
        }
    }
    void finish_all() {
        if (!count_) return;
        while (count_) finish_oldest();
        fence_streams();
    }
    // Drops queued writes (an operation that failed: its nodes' blocks are gone).
    void clear() {
        while (count_) pop();
    }

   private:
    void finish_oldest() {
        const PendingWrite& w = q_[head_];
        for (; row_ < w.rows; ++row_, offset_ = 0)
            stream_copy_unfenced(w.dst + row_ * w.dst_stride + offset_, w.src + row_ * w.src_stride + offset_, w.row_bytes - offset_);
        pop();
    }
    void pop() {
        --*q_[head_].busy;
        head_ = (head_ + 1) % kCapacity;
        --count_;
        row_ = offset_ = 0;
    }
    PendingWrite q_[kCapacity];
    int head_ = 0, count_ = 0;
    size_t row_ = 0, offset_ = 0;  // progress through q_[head_]
};

inline thread_local BackgroundWrites background_writes;

}  // namespace ttl::simd
