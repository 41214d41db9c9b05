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

#include <cstddef>

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

}  // namespace ttl::simd
