// What a CPU can do for Engram's two fused kernels without the dataflow model: the gating and
// the conv written as plain loops (loads straight from the tensors, non-temporal stores), next
// to a memcpy of the same bytes and to the conv staged the way a ttl kernel moves its data
// (copy a 32-token block in, compute into an output block, stream the block out).
//
// A measuring aid for BENCHMARKS.md, not a model path: the numerics are those of the kernels
// (fp32, the conv's inverse RMS given per token and branch) but nothing checks them. AVX-512
// only; `make roofline` builds and runs it. It also times the conv's arithmetic alone (its first 128
// tokens, kept in cache), the floor under any conv on this CPU.
//
//   engram_roofline [tokens=4096] [reps=11] [threads=2]
#include <immintrin.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace {

constexpr int kHidden = 1024, kBranches = 4, kChannels = kHidden * kBranches, kTaps = 4, kDilation = 3;
constexpr int kBlockTokens = 32, kBlockCols = 512;  // a ttl block: one tile row, 16 tiles wide

// n floats of test data: scale * (i mod 97).
float* alloc_floats(size_t n, float scale) {
    auto* p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
    if (!p) std::abort();
    for (size_t i = 0; i < n; ++i) p[i] = scale * static_cast<float>(i % 97);
    return p;
}

// exp on [-88, 88]: 2^(x log2 e), a degree-6 polynomial for the fraction (as ttl's sigmoid).
__m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.f)), _mm512_set1_ps(-88.f));
    const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f));
    const __m512 n = _mm512_roundscale_ps(t, 0), f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.535336188e-4f);
    for (float c : {1.339887440e-3f, 9.618437357e-3f, 5.550332471e-2f, 2.402264791e-1f, 6.931472028e-1f, 1.f})
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
    return _mm512_scalef_ps(p, n);
}

__m512 silu_ps(__m512 y) {
    return _mm512_div_ps(y, _mm512_add_ps(_mm512_set1_ps(1.f), exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), y))));
}

struct ConvData {
    const float* gated;  // [tokens, 4096]
    const float* inv;    // [tokens, 4] inverse RMS
    const float* taps;   // [4, 4096], the norm weight folded in
    float* out;          // [tokens, 4096]
};

// y[t] = sum_k taps_k * gated[t - (3 - k) * 3] * inv[t - (3 - k) * 3]; out = gated + silu(y), for
// 512 channels from c0 of token t: rows[k] holds token t - (3 - k) * 3 from channel c0 (the last is
// token t itself), `emit(i, out)` takes each vector.
template <class Emit>
void conv_chunk(const ConvData& d, const float* const rows[kTaps], int t, int c0, Emit emit) {
    float scale[kTaps];
    for (int k = 0; k < kTaps; ++k) {
        const int tt = t - (kTaps - 1 - k) * kDilation;
        scale[k] = tt >= 0 ? d.inv[tt * kBranches + c0 / kHidden] : 0.f;  // causal: zeros before the start
    }
    for (int i = 0; i < kBlockCols; i += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < kTaps; ++k)
            acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_loadu_ps(rows[k] + i), _mm512_set1_ps(scale[k])),
                                  _mm512_loadu_ps(d.taps + k * kChannels + c0 + i), acc);
        emit(i, _mm512_add_ps(_mm512_loadu_ps(rows[kTaps - 1] + i), silu_ps(acc)));
    }
}

// kStream: non-temporal stores (the output goes to DRAM); without, ordinary stores, so that a
// small range stays in cache and the loop's arithmetic alone is timed.
template <bool kStream = true>
void conv_direct(const ConvData& d, int t0, int t1) {
    for (int t = t0; t < t1; ++t) {
        for (int c0 = 0; c0 < kChannels; c0 += kBlockCols) {
            const float* rows[kTaps];
            for (int k = 0; k < kTaps; ++k)
                rows[k] = d.gated + static_cast<size_t>(std::max(0, t - (kTaps - 1 - k) * kDilation)) * kChannels + c0;
            float* out = d.out + static_cast<size_t>(t) * kChannels + c0;
            conv_chunk(d, rows, t, c0, [out](int i, __m512 v) {
                if constexpr (kStream)
                    _mm512_stream_ps(out + i, v);
                else
                    _mm512_storeu_ps(out + i, v);
            });
        }
    }
}

// The same, staged like a ttl kernel: per 32 tokens and 512 channels, copy the block in, compute
// into an output block (earlier tokens from a history of the previous block row), copy the
// block into the history, stream the output block out.
void conv_staged(const ConvData& d, int t0, int t1) {
    thread_local std::vector<float> x_block(kBlockTokens * kBlockCols), out_block(kBlockTokens * kBlockCols),
        history(static_cast<size_t>(kBlockTokens) * kChannels);
    for (int t_block = t0; t_block < t1; t_block += kBlockTokens) {
        for (int c0 = 0; c0 < kChannels; c0 += kBlockCols) {
            for (int r = 0; r < kBlockTokens; ++r)
                std::memcpy(&x_block[r * kBlockCols], d.gated + static_cast<size_t>(t_block + r) * kChannels + c0,
                            kBlockCols * sizeof(float));
            for (int r = 0; r < kBlockTokens; ++r) {
                const float* rows[kTaps];
                for (int k = 0; k < kTaps; ++k) {
                    const int rr = r - (kTaps - 1 - k) * kDilation;
                    rows[k] = rr >= 0 ? &x_block[rr * kBlockCols] : &history[static_cast<size_t>(kBlockTokens + rr) * kChannels + c0];
                }
                float* out = &out_block[r * kBlockCols];
                conv_chunk(d, rows, t_block + r, c0, [out](int i, __m512 v) { _mm512_storeu_ps(out + i, v); });
            }
            for (int r = 0; r < kBlockTokens; ++r)
                std::memcpy(&history[static_cast<size_t>(r) * kChannels + c0], &x_block[r * kBlockCols], kBlockCols * sizeof(float));
            for (int r = 0; r < kBlockTokens; ++r)
                for (int i = 0; i < kBlockCols; i += 16)
                    _mm512_stream_ps(d.out + static_cast<size_t>(t_block + r) * kChannels + c0 + i,
                                     _mm512_loadu_ps(&out_block[r * kBlockCols + i]));
        }
    }
}

struct GatingData {
    const float* kv;      // [tokens, 5 * 1024]: 4 keys, then the value
    const float* hidden;  // [tokens, 4 * 1024]
    const float* weight;  // [4, 1024]: key norm weight * query norm weight
    float* gated;         // [tokens, 4 * 1024]
    float* inv;           // [tokens, 4]
};

// Per token and branch: both RMSNorms and the dot in one pass, the sign-sqrt sigmoid gate; then
// gate * value for the 4 branches and the conv's inverse RMS.
void gating_direct(const GatingData& d, int t0, int t1) {
    const float eps = 1.1920929e-07f, conv_eps = 1e-5f;
    for (int t = t0; t < t1; ++t) {
        const float* key_row = d.kv + static_cast<size_t>(t) * (kBranches + 1) * kHidden;
        const float* query_row = d.hidden + static_cast<size_t>(t) * kChannels;
        const float* value = key_row + kChannels;
        float gate[kBranches];
        for (int h = 0; h < kBranches; ++h) {
            __m512 ssk = _mm512_setzero_ps(), ssq = ssk, dot = ssk;
            for (int c = 0; c < kHidden; c += 16) {
                const __m512 k = _mm512_loadu_ps(key_row + h * kHidden + c), q = _mm512_loadu_ps(query_row + h * kHidden + c);
                ssk = _mm512_fmadd_ps(k, k, ssk);
                ssq = _mm512_fmadd_ps(q, q, ssq);
                dot = _mm512_fmadd_ps(_mm512_mul_ps(k, _mm512_loadu_ps(d.weight + h * kHidden + c)), q, dot);
            }
            const float n = kHidden;
            const float g = _mm512_reduce_add_ps(dot) / std::sqrt(_mm512_reduce_add_ps(ssk) / n + eps) /
                            std::sqrt(_mm512_reduce_add_ps(ssq) / n + eps) / std::sqrt(n);
            const float s = std::copysign(std::sqrt(std::max(std::fabs(g), 1e-6f)), g);
            gate[h] = 1.f / (1.f + std::exp(-s));
        }
        __m512 ssv = _mm512_setzero_ps();
        for (int c = 0; c < kHidden; c += 16) {
            const __m512 v = _mm512_loadu_ps(value + c);
            ssv = _mm512_fmadd_ps(v, v, ssv);
            for (int h = 0; h < kBranches; ++h)
                _mm512_stream_ps(d.gated + static_cast<size_t>(t) * kChannels + h * kHidden + c, _mm512_mul_ps(v, _mm512_set1_ps(gate[h])));
        }
        const float mean_vv = _mm512_reduce_add_ps(ssv) / kHidden;
        for (int h = 0; h < kBranches; ++h) d.inv[t * kBranches + h] = 1.f / std::sqrt(gate[h] * gate[h] * mean_vv + conv_eps);
    }
}

// Median wall time of `work(worker, t0, t1)` over `reps`, the tokens split evenly, worker i
// pinned to CPU i.
double median_ms(int reps, int threads, int tokens, const std::function<void(int, int, int)>& work) {
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(i, &set);
                pthread_setaffinity_np(pthread_self(), sizeof set, &set);
                work(i, tokens / kBlockTokens * i / threads * kBlockTokens, tokens / kBlockTokens * (i + 1) / threads * kBlockTokens);
            });
        for (auto& t : pool) t.join();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int tokens = argc > 1 ? std::atoi(argv[1]) : 4096, reps = argc > 2 ? std::atoi(argv[2]) : 11,
              threads = argc > 3 ? std::atoi(argv[3]) : 2;
    if (tokens < kBlockTokens || tokens % kBlockTokens || reps < 1 || threads < 1) {
        std::fprintf(stderr, "usage: engram_roofline [tokens, a multiple of 32] [reps >= 1] [threads >= 1]\n");
        return 2;
    }
    const size_t n = static_cast<size_t>(tokens) * kChannels;
    float* inverse_rms = alloc_floats(static_cast<size_t>(tokens) * kBranches, 0.f);
    std::fill(inverse_rms, inverse_rms + static_cast<size_t>(tokens) * kBranches, 1.f);
    ConvData conv{alloc_floats(n, 0.01f), inverse_rms, alloc_floats(kTaps * kChannels, 0.001f), alloc_floats(n, 0.f)};
    GatingData gating{alloc_floats(static_cast<size_t>(tokens) * (kBranches + 1) * kHidden, 0.01f), alloc_floats(n, 0.02f),
                      alloc_floats(kChannels, 0.001f), alloc_floats(n, 0.f), alloc_floats(static_cast<size_t>(tokens) * kBranches, 0.f)};
    // memcpy baselines over the bytes each kernel touches: conv 4096 floats in and out per token,
    // gating 9 * 1024 in and 4 * 1024 out (the copy moves half the total each way).
    const size_t gating_half = static_cast<size_t>(tokens) * 13 * kHidden / 2;
    float* copy_src = alloc_floats(gating_half, 0.01f);
    float* copy_dst = alloc_floats(gating_half, 0.f);
    auto memcpy_ms = [&](size_t floats) {
        return median_ms(reps, threads, tokens, [&](int, int t0, int t1) {
            const size_t b = floats * t0 / tokens, e = floats * t1 / tokens;
            std::memcpy(copy_dst + b, copy_src + b, (e - b) * sizeof(float));
        });
    };
    const double conv_bytes = 2.0 * n * sizeof(float), gating_bytes = 13.0 * tokens * kHidden * sizeof(float);
    const double copy_conv = memcpy_ms(n);
    const double direct = median_ms(reps, threads, tokens, [&](int, int t0, int t1) { conv_direct(conv, t0, t1); });
    const double staged = median_ms(reps, threads, tokens, [&](int, int t0, int t1) { conv_staged(conv, t0, t1); });
    // The conv's arithmetic: its first 128 tokens (2 MiB in, 2 MiB out: in L2 and L3) 32 times per call.
    constexpr int kCachedTokens = 128, kPasses = 32;
    const int cached_tokens = std::min(tokens, kCachedTokens);
    const double cached = median_ms(reps, threads, cached_tokens, [&](int, int t0, int t1) {
        for (int pass = 0; pass < kPasses; ++pass) conv_direct<false>(conv, t0, t1);
    });
    const double core_us_per_token = cached * 1e3 * threads / (kPasses * cached_tokens);
    const double copy_gating = memcpy_ms(gating_half);
    const double gate = median_ms(reps, threads, tokens, [&](int, int t0, int t1) { gating_direct(gating, t0, t1); });
    auto line = [](const char* what, double ms, double bytes, double copy) {
        std::printf("%-22s %8.2f ms %6.1f GB/s %5.0f%% of memcpy\n", what, ms, bytes / ms / 1e6, 100 * copy / ms);
    };
    std::printf("%d tokens, %d threads, median of %d\n", tokens, threads, reps);
    line("memcpy (conv bytes)", copy_conv, conv_bytes, copy_conv);
    line("conv, direct", direct, conv_bytes, copy_conv);
    line("conv, staged", staged, conv_bytes, copy_conv);
    std::printf("conv arithmetic        %8.2f us of core time per token (data in cache): %.2f ms per core here\n",
                core_us_per_token, core_us_per_token * tokens / threads / 1e3);
    line("memcpy (gating bytes)", copy_gating, gating_bytes, copy_gating);
    line("gating, direct", gate, gating_bytes, copy_gating);
}
