#include "ttl/detail/storage.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace ttl::detail {
namespace {

constexpr size_t kLargeBytes = size_t{1} << 20;  // from here on, a mapping of its own
constexpr size_t kHugePage = size_t{2} << 20;

class LargeBlockCache {
   public:
    static LargeBlockCache& instance() {
        static LargeBlockCache* cache = new LargeBlockCache;  // never destroyed: tensors may outlive static destructors
        return *cache;
    }

    // A mapping of at least `bytes` (a multiple of the huge page size); `fresh` tells whether it
    // is new (and so already zero).
    void* take(size_t bytes, bool& fresh) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            // The smallest cached mapping that fits, unless it would waste more than a quarter.
            auto it = free_.lower_bound(bytes);
            if (it != free_.end() && it->first - bytes <= bytes / 4) {
                void* p = it->second;
                sizes_[p] = it->first;
                cached_ -= it->first;
                free_.erase(it);
                fresh = false;
                return p;
            }
        }
        fresh = true;
        return map(bytes);
    }

    void give(void* p) {
        std::unique_lock<std::mutex> lock(mutex_);
        auto it = sizes_.find(p);
        const size_t bytes = it->second;
        sizes_.erase(it);
        if (cached_ + bytes <= limit_) {
            free_.emplace(bytes, p);
            cached_ += bytes;
            return;
        }
        lock.unlock();
        munmap(p, bytes);
    }

    size_t cached() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_;
    }

   private:
    // At most an eighth of the machine's memory sits in the cache.
    LargeBlockCache()
        : limit_(static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 8) {}

    void* map(size_t bytes) {
        // Over-map by one huge page, then trim to a 2 MiB-aligned range.
        char* raw = static_cast<char*>(mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        if (raw == MAP_FAILED) throw std::bad_alloc();
        const uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + kHugePage - 1) & ~(kHugePage - 1);
        char* p = reinterpret_cast<char*>(start);
        if (p > raw) munmap(raw, static_cast<size_t>(p - raw));
        if (char* end = p + bytes; end < raw + bytes + kHugePage) munmap(end, static_cast<size_t>(raw + bytes + kHugePage - end));
        madvise(p, bytes, MADV_HUGEPAGE);  // advice only: fine if the kernel says no
        std::lock_guard<std::mutex> lock(mutex_);
        sizes_[p] = bytes;
        return p;
    }

    std::mutex mutex_;
    std::multimap<size_t, void*> free_;  // cached mappings by size
    std::map<void*, size_t> sizes_;      // mappings in use
    size_t cached_ = 0;
    const size_t limit_;
};

}  // namespace

std::shared_ptr<void> allocate_storage(size_t bytes, bool zero) {
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer checks bounds on malloc's blocks only
    if (bytes >= kLargeBytes) {
        const size_t mapped = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        bool fresh = false;
        void* p = LargeBlockCache::instance().take(mapped, fresh);
        if (zero && !fresh) std::memset(p, 0, bytes);
        return std::shared_ptr<void>(p, [](void* q) { LargeBlockCache::instance().give(q); });
    }
#endif
    // 64-byte alignment: one cache line, one AVX-512 vector.
    const size_t padded = std::max<size_t>((bytes + 63) / 64 * 64, 64);
    void* p = std::aligned_alloc(64, padded);
    if (!p) throw std::bad_alloc();
    if (zero) std::memset(p, 0, padded);
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

size_t cached_storage_bytes() { return LargeBlockCache::instance().cached(); }

}  // namespace ttl::detail
