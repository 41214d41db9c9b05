#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <cmath>

#include "runtime/thread_pool.hpp"
#include "ttl/detail/storage.hpp"
#include "ttl/tensor.hpp"

TEST(Tensor, ShapeAndTiles) {
    ttl::Tensor t({2, 33, 70});
    EXPECT_EQ(t.numel(), 2 * 33 * 70);
    EXPECT_EQ(t.rows(), 66);
    EXPECT_EQ(t.cols(), 70);
    EXPECT_EQ(t.tile_rows(), 3);
    EXPECT_EQ(t.tile_cols(), 3);
    EXPECT_EQ(t.describe(), "f32[2, 33, 70]");
    EXPECT_EQ(t.dim(-1), 70);
    EXPECT_THROW(t.dim(3), std::out_of_range);
}

TEST(Tensor, ReshapeSharesStorageAndChecksCount) {
    ttl::Tensor t({4, 8});
    auto r = t.reshape({2, -1});
    EXPECT_EQ(r.shape(), (ttl::Shape{2, 16}));
    r.data<float>()[3] = 5.0f;
    EXPECT_EQ(t.data<float>()[3], 5.0f);
    EXPECT_THROW(t.reshape({3, 3}), std::invalid_argument);
}

TEST(Tensor, DtypeIsChecked) {
    ttl::Tensor t({4}, ttl::DType::I64);
    EXPECT_THROW(t.data<float>(), std::invalid_argument);
}

// Large storage comes back from the cache of freed mappings: the same memory, and still zero
// when a zero-filled tensor is asked for.
TEST(Tensor, LargeStorageIsReusedAndZeroed) {
    const ttl::Shape shape{1024, 1024};  // 4 MiB
    const void* first = nullptr;
    {
        ttl::Tensor a = ttl::Tensor::empty(shape);
        std::fill(a.data<float>(), a.data<float>() + a.numel(), 7.0f);
        first = a.data<float>();
    }
#if !defined(__SANITIZE_ADDRESS__)  // sanitizer builds take every block from malloc
    EXPECT_GE(ttl::detail::cached_storage_bytes(), size_t{4} << 20);
#endif
    ttl::Tensor b(shape);
#if !defined(__SANITIZE_ADDRESS__)
    EXPECT_EQ(b.data<float>(), first);
#else
    (void)first;
#endif
    EXPECT_TRUE(std::all_of(b.data<float>(), b.data<float>() + b.numel(), [](float v) { return v == 0.0f; }));
    ttl::Tensor c(ttl::Shape{1024, 1024});  // while b holds the cached block: a fresh one
    EXPECT_NE(c.data<float>(), b.data<float>());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data<float>()) % 64, 0u);
}

TEST(Bf16, RoundsToNearestEven) {
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
    EXPECT_EQ(ttl::round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
    // 1 + 3*2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
    EXPECT_EQ(ttl::round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
    EXPECT_EQ(ttl::round_to_bf16(1.0f + 1.5f * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -7));
    EXPECT_TRUE(std::isnan(ttl::round_to_bf16(NAN)));
    EXPECT_TRUE(std::isinf(ttl::round_to_bf16(INFINITY)));
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
    std::vector<int> hits(1000, 0);
    ttlm::runtime::parallel_for(1000, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(ThreadPool, PropagatesExceptions) {
    EXPECT_THROW(ttlm::runtime::run_on_workers(ttlm::runtime::num_threads(),
                                               [](int w) {
                                                   if (w == 0) throw std::runtime_error("boom");
                                               }),
                 std::runtime_error);
}

TEST(ThreadPool, RebuildingKeepsEveryAllowedCpu) {
    // The pool pins its caller; rebuilding must still see the whole process mask.
    const int all = ttlm::runtime::num_threads();
    ttlm::runtime::set_num_threads(1);
    EXPECT_EQ(ttlm::runtime::num_threads(), 1);
    ttlm::runtime::set_num_threads(0);
    EXPECT_EQ(ttlm::runtime::num_threads(), all);
    ttlm::runtime::set_num_threads(all);
    std::vector<int> cpu(static_cast<size_t>(all), -1);
    ttlm::runtime::run_on_workers(all, [&](int w) { cpu[static_cast<size_t>(w)] = sched_getcpu(); });
    std::sort(cpu.begin(), cpu.end());
    EXPECT_EQ(std::unique(cpu.begin(), cpu.end()) - cpu.begin(), all) << "workers share a CPU";
}
