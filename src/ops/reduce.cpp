#include "ops/reduce.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "ops/detail.hpp"
#include "ops/simd_kernels.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

enum class Reduction { Sum, Mean, Max, ArgMax };

// x viewed as [outer, length, inner], reduced over `length`.
struct ReducePlan {
    int64_t outer = 1, length = 1, inner = 1;
    Shape out_shape;
};

ReducePlan plan_reduce(std::string_view op, Reduction reduction, const Tensor& x, int64_t dim, bool keepdim) {
    detail::check_float(op, "x", x);
    detail::check_min_rank(op, "x", x, 1);
    const int d = detail::normalize_dim(op, "dim", dim, x);
    ReducePlan plan;
    for (int i = 0; i < x.ndim(); ++i) {
        const int64_t size = x.shape()[i];
        if (i < d) plan.outer *= size;
        if (i > d) plan.inner *= size;
        if (i != d) plan.out_shape.push_back(size);
        if (i == d && keepdim) plan.out_shape.push_back(1);
    }
    plan.length = x.shape()[d];
    if (plan.length == 0 && (reduction == Reduction::Max || reduction == Reduction::ArgMax))
        fail("{}: cannot reduce dimension {} of x {}: it is empty", op, dim, x.describe());
    return plan;
}

// Index of the first maximum, or of the first NaN if there is one (torch.argmax).
int64_t first_index_of(const float* row, int64_t n, float value) {
    const bool nan = std::isnan(value);
    for (int64_t i = 0; i < n; ++i)
        if (nan ? std::isnan(row[i]) : row[i] == value) return i;
    return 0;
}

// torch.mean of an empty dimension is NaN.
float mean_of(double sum, int64_t n) {
    return n ? static_cast<float>(sum / static_cast<double>(n)) : std::numeric_limits<float>::quiet_NaN();
}

// One output element of a reduction along the last dimension (inner == 1).
void reduce_row(Reduction reduction, const float* row, int64_t n, float* value, int64_t* index) {
    switch (reduction) {
        case Reduction::Sum: *value = static_cast<float>(simd::sum(row, n)); return;
        case Reduction::Mean: *value = mean_of(simd::sum(row, n), n); return;
        case Reduction::Max: *value = simd::max(row, n); return;
        case Reduction::ArgMax: *index = first_index_of(row, n, simd::max(row, n)); return;
    }
}

// Output elements [c0, c1) of one outer slice of a reduction along a middle dimension: x points at the
// slice, whose rows are `inner` apart.
void reduce_columns(Reduction reduction, const float* x, int64_t length, int64_t inner, int64_t c0, int64_t c1,
                    float* values, int64_t* indices) {
    const int64_t width = c1 - c0;
    if (reduction == Reduction::Sum || reduction == Reduction::Mean) {
        std::vector<double> acc(width, 0.0);
        for (int64_t r = 0; r < length; ++r)
            for (int64_t c = 0; c < width; ++c) acc[c] += x[r * inner + c0 + c];
        for (int64_t c = 0; c < width; ++c)
            values[c] = reduction == Reduction::Sum ? static_cast<float>(acc[c]) : mean_of(acc[c], length);
        return;
    }
    std::vector<float> best(x + c0, x + c1);
    std::vector<int64_t> best_at(width, 0);
    for (int64_t r = 1; r < length; ++r) {
        for (int64_t c = 0; c < width; ++c) {
            const float v = x[r * inner + c0 + c];
            if (!std::isnan(best[c]) && (v > best[c] || std::isnan(v))) {
                best[c] = v;
                best_at[c] = r;
            }
        }
    }
    for (int64_t c = 0; c < width; ++c) {
        if (reduction == Reduction::Max)
            values[c] = best[c];
        else
            indices[c] = best_at[c];
    }
}

// Fills values[outer * inner] (or indices) with the reduction of x_f32.
void run_reduce(Reduction reduction, const ReducePlan& plan, const float* x, float* values, int64_t* indices) {
    if (plan.inner == 1) {
        runtime::parallel_for(
            plan.outer,
            [&](int64_t begin, int64_t end) {
                for (int64_t o = begin; o < end; ++o)
                    reduce_row(reduction, x + o * plan.length, plan.length, values ? values + o : nullptr,
                               indices ? indices + o : nullptr);
            },
            detail::row_grain(plan.length));
        return;
    }
    constexpr int64_t kBlock = 256;  // columns per work item: a few KiB of accumulators
    const int64_t blocks = (plan.inner + kBlock - 1) / kBlock;
    runtime::parallel_for(
        plan.outer * blocks,
        [&](int64_t begin, int64_t end) {
            for (int64_t item = begin; item < end; ++item) {
                const int64_t o = item / blocks, c0 = item % blocks * kBlock;
                const int64_t c1 = std::min(plan.inner, c0 + kBlock);
                const int64_t out_offset = o * plan.inner + c0;
                reduce_columns(reduction, x + o * plan.length * plan.inner, plan.length, plan.inner, c0, c1,
                               values ? values + out_offset : nullptr, indices ? indices + out_offset : nullptr);
            }
        },
        std::max<int64_t>(1, detail::row_grain(plan.length * kBlock)));
}

Tensor reduce(std::string_view op, Reduction reduction, const Tensor& x, int64_t dim, bool keepdim) {
    const ReducePlan plan = plan_reduce(op, reduction, x, dim, keepdim);
    const Tensor x_f32 = to_f32(x);
    if (reduction == Reduction::ArgMax) {
        Tensor out = Tensor::empty(plan.out_shape, DType::I64);
        run_reduce(reduction, plan, x_f32.data<float>(), nullptr, out.data<int64_t>());
        return out;
    }
    Tensor out = Tensor::empty(plan.out_shape, x.dtype());
    detail::store_f32_result(out,
                             [&](float* values) { run_reduce(reduction, plan, x_f32.data<float>(), values, nullptr); });
    return out;
}

}  // namespace

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) { return reduce("sum", Reduction::Sum, x, dim, keepdim); }
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) { return reduce("mean", Reduction::Mean, x, dim, keepdim); }
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return reduce("max", Reduction::Max, x, dim, keepdim); }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    return reduce("argmax", Reduction::ArgMax, x, dim, keepdim);
}

}  // namespace ttlm::ops
