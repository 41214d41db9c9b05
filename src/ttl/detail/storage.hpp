// Tensor storage. Small tensors come from malloc; large ones from whole mappings that are kept
// in a cache when freed and handed out again. A model run again and again (a forward per
// request, a benchmark's repetitions) then reuses its memory instead of faulting fresh pages in
// from the kernel at every allocation: before this cache, ten Engram forwards at 4,096 tokens
// took 1.1 million page faults and as much system time as user time. Fresh mappings are
// 2 MiB-aligned and asked for transparent huge pages (512 times fewer faults, fewer TLB misses).
#pragma once

#include <cstddef>
#include <memory>

namespace ttl::detail {

// 64-byte aligned storage of `bytes` bytes (at least one cache line), zero-filled if `zero`.
std::shared_ptr<void> allocate_storage(size_t bytes, bool zero);

// Bytes held by the cache of large mappings (freed, not yet reused).
size_t cached_storage_bytes();

}  // namespace ttl::detail
