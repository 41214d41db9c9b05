#include "ops/norm.hpp"

#include <cmath>
#include <limits>

#include "ops/detail.hpp"
#include "ops/simd_kernels.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Tensor;

namespace {

// Runs row_fn(x_row, y_row, cols) over every row of x (f32 view) into out (f32 or bf16), in parallel.
template <class RowFn> void for_each_row(Tensor& out, const Tensor& x, RowFn row_fn) {
    const Tensor x_f32 = to_f32(x);
    const float* src = x_f32.data<float>();
    const int64_t cols = x.cols();
    detail::store_f32_result(out, [&](float* y) {
        runtime::parallel_for(
            x.rows(),
            [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) row_fn(src + r * cols, y + r * cols, static_cast<size_t>(cols));
            },
            detail::row_grain(cols));
    });
}

void check_rms_norm(std::string_view op, const Tensor& x, const Tensor& weight, float eps) {
    detail::check_float(op, "x", x);
    detail::check_min_rank(op, "x", x, 1);
    if (weight.defined()) {
        detail::check_float(op, "weight", weight);
        if (weight.shape() != ttl::Shape{x.dim(-1)})
            fail("{}: weight {} does not match the last dimension {} of x {}", op, weight.describe(), x.dim(-1),
                 x.describe());
    }
    if (!(eps >= 0.0f) || std::isinf(eps)) fail("{}: eps {} must be finite and >= 0", op, eps);
}

void run_rms_norm(Tensor& out, const Tensor& x, const Tensor& weight, float eps) {
    const Tensor w_f32 = weight.defined() ? to_f32(weight) : Tensor();
    const float* w = weight.defined() ? w_f32.data<float>() : nullptr;
    for_each_row(out, x, [&](const float* row, float* y, size_t n) {
        const double mean_square = n ? simd::sum_of_squares(row, n) / static_cast<double>(n) : 0.0;
        const float scale = static_cast<float>(1.0 / std::sqrt(mean_square + eps));
        simd::scale_by_weight(row, scale, w, y, n);
    });
}

void check_softmax(std::string_view op, const Tensor& x, int64_t dim) {
    detail::check_float(op, "x", x);
    detail::check_min_rank(op, "x", x, 1);
    if (detail::normalize_dim(op, "dim", dim, x) != x.ndim() - 1)
        fail("{}: only the last dimension is supported (dim -1 or {} for x {}), got dim {}", op, x.ndim() - 1,
             x.describe(), dim);
}

void fill_nan(float* y, size_t n) { std::fill(y, y + n, std::numeric_limits<float>::quiet_NaN()); }

void run_softmax(Tensor& out, const Tensor& x) {
    for_each_row(out, x, [](const float* row, float* y, size_t n) {
        if (n == 0) return;
        const float shift = simd::max(row, n);
        if (!std::isfinite(shift)) return fill_nan(y, n);
        const float denominator = static_cast<float>(simd::exp_shifted(row, shift, y, n));
        simd::binary(BinaryOp::Div, y, false, &denominator, true, y, n);
    });
}

void run_log_softmax(Tensor& out, const Tensor& x) {
    for_each_row(out, x, [](const float* row, float* y, size_t n) {
        if (n == 0) return;
        const float shift = simd::max(row, n);
        if (!std::isfinite(shift)) return fill_nan(y, n);
        const float log_sum = static_cast<float>(std::log(simd::exp_shifted(row, shift, nullptr, n)));
        // (x - shift) - log_sum in two roundings, as PyTorch: exact near the maximum, where the result is small.
        simd::binary(BinaryOp::Sub, row, false, &shift, true, y, n);
        simd::binary(BinaryOp::Sub, y, false, &log_sum, true, y, n);
    });
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
    check_rms_norm("rms_norm", x, weight, eps);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_rms_norm(out, x, weight, eps);
    return out;
}

void rms_norm_into(Tensor& out, const Tensor& x, const Tensor& weight, float eps) {
    check_rms_norm("rms_norm_into", x, weight, eps);
    detail::check_out("rms_norm_into", out, x.shape(), {DType::F32, DType::BF16});
    run_rms_norm(out, x, weight, eps);
}

Tensor softmax(const Tensor& x, int64_t dim) {
    check_softmax("softmax", x, dim);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_softmax(out, x);
    return out;
}

void softmax_into(Tensor& out, const Tensor& x, int64_t dim) {
    check_softmax("softmax_into", x, dim);
    detail::check_out("softmax_into", out, x.shape(), {DType::F32, DType::BF16});
    run_softmax(out, x);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
    check_softmax("log_softmax", x, dim);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_log_softmax(out, x);
    return out;
}

void log_softmax_into(Tensor& out, const Tensor& x, int64_t dim) {
    check_softmax("log_softmax_into", x, dim);
    detail::check_out("log_softmax_into", out, x.shape(), {DType::F32, DType::BF16});
    run_log_softmax(out, x);
}

}  // namespace ttlm::ops
