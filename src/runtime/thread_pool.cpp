#include "runtime/thread_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ttlm::runtime {
namespace {

thread_local bool t_in_region = false;

// The CPUs this process may use, read once: the pool pins the calling thread, so a later
// read of its own mask would see one CPU only.
const cpu_set_t& process_cpu_set() {
    static const cpu_set_t set = [] {
        cpu_set_t s;
        CPU_ZERO(&s);
        if (sched_getaffinity(0, sizeof(s), &s) != 0) CPU_SET(0, &s);
        return s;
    }();
    return set;
}

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &process_cpu_set())) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

void pin_to(pthread_t thread, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(thread, sizeof(set), &set);  // best effort: a failure only costs speed
}

class Pool {
   public:
    explicit Pool(int n) : cpus_(allowed_cpus()) {
        size_ = n > 0 ? n : static_cast<int>(cpus_.size());
        if (size_ > 1)
            pin_to(pthread_self(), cpus_[0]);
        else  // a single worker: the caller runs everything, wherever the OS likes
            pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &process_cpu_set());
        for (int w = 1; w < size_; ++w) {
            threads_.emplace_back([this, w] { loop(w); });
            pin_to(threads_.back().native_handle(), cpus_[w % cpus_.size()]);
        }
    }
    ~Pool() {
        stop_.store(true);
        generation_.fetch_add(1);
        generation_.notify_all();
        for (auto& t : threads_) t.join();
    }
    int size() const { return size_; }

    void run(int workers, const std::function<void(int)>& fn) {
        workers = std::clamp(workers, 1, size_);
        if (workers == 1 || t_in_region) {
            bool was = t_in_region;
            t_in_region = true;
            try {
                for (int w = 0; w < workers; ++w) fn(w);
            } catch (...) {
                t_in_region = was;
                throw;
            }
            t_in_region = was;
            return;
        }
        std::lock_guard<std::mutex> serial(run_mutex_);  // one job at a time from outside the pool
        job_ = &fn;
        job_workers_ = workers;
        error_ = nullptr;
        pending_.store(workers - 1);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        execute(0);
        // Spin, then yield: the job is usually as long on every worker.
        while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
        job_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

   private:
    void execute(int w) {
        t_in_region = true;
        try {
            (*job_)(w);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        t_in_region = false;
    }

    void loop(int w) {
        uint64_t seen = 0;
        for (;;) {
            uint64_t g = generation_.load(std::memory_order_acquire);
            if (g == seen) {
                // Spin ~50 us before sleeping: futex wake-ups cost tens of microseconds here.
                auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
                while ((g = generation_.load(std::memory_order_acquire)) == seen &&
                       std::chrono::steady_clock::now() < until) {
                    __builtin_ia32_pause();
                }
                if (g == seen) {
                    generation_.wait(seen);
                    continue;
                }
            }
            seen = g;
            if (stop_.load()) return;
            if (w < job_workers_) {
                execute(w);
                pending_.fetch_sub(1, std::memory_order_acq_rel);
            }
        }
    }

    std::vector<int> cpus_;
    int size_ = 1;
    std::vector<std::thread> threads_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    const std::function<void(int)>* job_ = nullptr;
    int job_workers_ = 0;
    std::exception_ptr error_;
    std::mutex error_mutex_;
    std::mutex run_mutex_;
};

std::mutex g_pool_mutex;
std::unique_ptr<Pool> g_pool;

Pool& pool() {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    if (!g_pool) g_pool = std::make_unique<Pool>(0);
    return *g_pool;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    g_pool.reset();
    g_pool = std::make_unique<Pool>(n);
}

bool in_parallel_region() { return t_in_region; }

void run_on_workers(int workers, const std::function<void(int)>& fn) { pool().run(workers, fn); }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    int64_t chunks = std::min<int64_t>(num_threads(), (n + grain - 1) / grain);
    if (chunks <= 1 || t_in_region) {
        fn(0, n);
        return;
    }
    run_on_workers(static_cast<int>(chunks), [&](int w) {
        int64_t begin = n * w / chunks, end = n * (w + 1) / chunks;
        if (begin < end) fn(begin, end);
    });
}

}  // namespace ttlm::runtime
