// `ttlm bench ttl`: the executor's own figures, each next to its baseline measured in the same
// run (these machines are shared and noisy: compare ratios within one run, quote medians).
//
//   handoff   reserve/push in the reader, wait/pop in the compute kernel of one node, no data
//             (wall-clock and this thread's CPU time per tile; block_count 2, and 4)
//   stream    the RMSNorm example kernel over rows of 1024 fp32 (reads x once, writes out once)
//             against memcpy of the same bytes, both on every worker
//   matmul    the matmul example kernel (fp32, 1024^3, 128x256 by 256x128 blocks) against
//             oneDNN's sgemm, on one worker and on all (split over the workers as ops::sgemm does)
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <tuple>
#include <cstring>
#include <vector>

#include <fmt/core.h>

#include "examples/ttl/kernels.hpp"
#include "ops/matmul.hpp"
#include "runtime/thread_pool.hpp"
#include "tools/ttlm/verbs.hpp"
#include "ttl/simd/tile_ops.hpp"
#include "ttl/ttl.hpp"

namespace ttlm::cli {
namespace {

template <class F>
double median_seconds(int reps, F&& fn) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

double thread_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Per tile: wall-clock time, and CPU time of this thread (the one worker runs on the caller), which
// a busy machine does not inflate.
std::pair<double, double> handoff_ns(int64_t tiles, int block_count, int reps) {
    ttl::Tensor like({32, 32});
    std::vector<double> cpu;
    double s = median_seconds(reps, [&] {
        const double c0 = thread_cpu_seconds();
        ttl::Operation op("handoff", ttl::Grid{1, 1});
        auto dfb = ttl::make_dataflow_buffer_like(op, like, {1, 1}, block_count, "handoff");
        op.compute([&] {
            for (int64_t i = 0; i < tiles; ++i) dfb.wait();  // popped at once
        });
        op.datamovement([&] {
            for (int64_t i = 0; i < tiles; ++i) dfb.reserve();  // pushed at once
        });
        op.datamovement([] {});
        ttl::ExecOptions fast;
        fast.workers = 1;
        op.run(fast);
        cpu.push_back(thread_cpu_seconds() - c0);
    });
    std::sort(cpu.begin(), cpu.end());
    return {s / static_cast<double>(tiles) * 1e9, cpu[cpu.size() / 2] / static_cast<double>(tiles) * 1e9};
}

struct Figures {
    double handoff_ns_per_tile = 0, handoff_cpu_ns_per_tile = 0;  // block_count 2 (double buffering)
    double handoff4_ns_per_tile = 0;                              // block_count 4
    double stream_gbps = 0, memcpy_gbps = 0;
    double matmul_gflops_1t = 0, onednn_gflops_1t = 0, matmul_gflops_all = 0, onednn_gflops_all = 0;
    int threads = 0;
    int64_t stream_rows = 0;
};

void parallel_memcpy(float* dst, const float* src, int64_t n) {
    ttlm::runtime::parallel_for(n, [&](int64_t b, int64_t e) {
        std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(float));
    }, 1 << 16);
}

// oneDNN's sgemm on this thread alone, or split over every pinned worker as the op library runs it
// (oneDNN's own OpenMP threads would inherit the caller's pin to one CPU).
double sgemm_gflops(bool all_workers, int64_t n, const ttl::Tensor& a, const ttl::Tensor& b, ttl::Tensor& c, int reps) {
    omp_set_num_threads(1);
    double s = median_seconds(reps, [&] {
        if (all_workers)
            ttlm::ops::sgemm(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
        else
            dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
    });
    return 2.0 * n * n * n / s / 1e9;
}

Figures measure(int64_t stream_rows, int reps) {
    Figures f;
    f.threads = ttlm::runtime::num_threads();
    f.stream_rows = stream_rows;
    std::tie(f.handoff_ns_per_tile, f.handoff_cpu_ns_per_tile) = handoff_ns(2'000'000, 2, reps);
    f.handoff4_ns_per_tile = handoff_ns(2'000'000, 4, reps).first;

    {  // streaming: 2 x rows x 1024 x 4 bytes touched by each
        const int64_t d = 1024;
        ttl::Tensor x({stream_rows, d}), w({1, d}), out({stream_rows, d});
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 97) * 0.01f - 0.3f;
        for (int64_t i = 0; i < d; ++i) w.data<float>()[i] = 1.0f + static_cast<float>(i % 7) * 0.1f;
        const double bytes = 2.0 * static_cast<double>(x.nbytes());
        parallel_memcpy(out.data<float>(), x.data<float>(), x.numel());  // touch pages first
        double t_copy = median_seconds(reps, [&] { parallel_memcpy(out.data<float>(), x.data<float>(), x.numel()); });
        double t_norm = median_seconds(reps, [&] { ttl::examples::rms_norm(x, w, 1e-6f, out, ttl::Grid::Auto); });
        f.memcpy_gbps = bytes / t_copy / 1e9;
        f.stream_gbps = bytes / t_norm / 1e9;
    }
    {  // matmul 1024^3
        const int64_t n = 1024;
        ttl::Tensor a({n, n}), b({n, n}), c({n, n});
        for (int64_t i = 0; i < n * n; ++i) {
            a.data<float>()[i] = static_cast<float>((i * 7) % 13) * 0.1f - 0.6f;
            b.data<float>()[i] = static_cast<float>((i * 5) % 11) * 0.1f - 0.5f;
        }
        const double flops = 2.0 * n * n * n;
        ttl::ExecOptions one;
        one.workers = 1;
        f.matmul_gflops_1t = flops / median_seconds(reps, [&] { ttl::examples::matmul(a, b, c, {4, 8}, 4, ttl::Grid::Auto, one); }) / 1e9;
        f.matmul_gflops_all = flops / median_seconds(reps, [&] { ttl::examples::matmul(a, b, c, {4, 8}, 4, ttl::Grid::Auto); }) / 1e9;
        f.onednn_gflops_1t = sgemm_gflops(false, n, a, b, c, reps);
        f.onednn_gflops_all = sgemm_gflops(true, n, a, b, c, reps);
    }
    return f;
}

}  // namespace

void add_ttl_bench(CLI::App& bench) {
    CLI::App* cmd = bench.add_subcommand("ttl", "hand-off, streaming and matmul figures of the ttl executor");
    static bool json = false;
    static int reps = 5;
    static int64_t rows = 65536;
    cmd->add_flag("--json", json, "print one JSON object");
    cmd->add_option("--reps", reps, "repetitions per figure (the median is reported)")->check(CLI::PositiveNumber);
    cmd->add_option("--stream-rows", rows, "rows of 1024 fp32 in the streaming figure (default: 256 MiB)")
        ->check(CLI::PositiveNumber);
    on_run(cmd, [] {
        Figures f = measure(rows, reps);
        if (json) {
            fmt::print(
                "{{\"threads\": {}, \"simd\": \"{}\", \"handoff_ns_per_tile\": {:.2f}, \"handoff_cpu_ns_per_tile\": {:.2f}, \"handoff_ns_per_tile_4_blocks\": {:.2f}, "
                "\"stream_gbps\": {:.2f}, "
                "\"memcpy_gbps\": {:.2f}, \"stream_rows\": {}, \"matmul_gflops_1t\": {:.1f}, \"onednn_gflops_1t\": {:.1f}, "
                "\"matmul_gflops_all\": {:.1f}, \"onednn_gflops_all\": {:.1f}}}\n",
                f.threads, ttl::simd::target_name(), f.handoff_ns_per_tile, f.handoff_cpu_ns_per_tile, f.handoff4_ns_per_tile, f.stream_gbps,
                f.memcpy_gbps, f.stream_rows,
                f.matmul_gflops_1t, f.onednn_gflops_1t, f.matmul_gflops_all, f.onednn_gflops_all);
        } else {
            fmt::print("ttl executor, {} worker threads, {} kernels (median of {})\n", f.threads, ttl::simd::target_name(), reps);
            fmt::print("  hand-off through a buffer   {:8.2f} ns/tile ({:.2f} ns of CPU time; {:.2f} with 4 blocks)\n",
                       f.handoff_ns_per_tile, f.handoff_cpu_ns_per_tile, f.handoff4_ns_per_tile);
            fmt::print("  RMSNorm stream              {:8.2f} GB/s  ({:.0f}% of memcpy {:.2f} GB/s)\n", f.stream_gbps,
                       100 * f.stream_gbps / f.memcpy_gbps, f.memcpy_gbps);
            fmt::print("  matmul 1024^3, 1 thread     {:8.1f} GFLOP/s ({:.0f}% of oneDNN {:.1f})\n", f.matmul_gflops_1t,
                       100 * f.matmul_gflops_1t / f.onednn_gflops_1t, f.onednn_gflops_1t);
            fmt::print("  matmul 1024^3, all threads  {:8.1f} GFLOP/s ({:.0f}% of oneDNN {:.1f})\n", f.matmul_gflops_all,
                       100 * f.matmul_gflops_all / f.onednn_gflops_all, f.onednn_gflops_all);
        }
        return 0;
    });
}

}  // namespace ttlm::cli
