// Pinned worker threads shared by the op library and the ttl executor.
//
// The caller is worker 0; workers 1..n-1 are OS threads pinned one per allowed CPU. A blocking
// hand-off between OS threads costs 12-55 us on the machines this was measured on, so workers spin
// briefly before they sleep, and work is handed out in coarse chunks.
#pragma once

#include <cstdint>
#include <functional>

namespace ttlm::runtime {

// Number of workers (including the calling thread). Defaults to the CPUs this process may use.
int num_threads();
// Rebuilds the pool with n workers; n <= 0 means one per allowed CPU.
void set_num_threads(int n);
// True on a pool worker while it runs a job (nested parallel calls then run inline).
bool in_parallel_region();

// Runs fn(worker) once on each of `workers` workers concurrently (workers <= num_threads()),
// and returns when all are done. The first exception thrown is rethrown here.
void run_on_workers(int workers, const std::function<void(int worker)>& fn);

// Splits [0, n) into one contiguous chunk per worker (at least `grain` items each) and runs
// fn(begin, end) on them in parallel.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain = 1);

}  // namespace ttlm::runtime
