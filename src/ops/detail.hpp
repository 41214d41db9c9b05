// Helpers shared by the ops (internal): argument checks, parallel grains, the f32 -> bf16 store.
// Every check failure is a std::invalid_argument whose message starts with the op's name and names
// the argument, what it is and what was expected.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "ops/elementwise.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::ops::detail {

template <class... Args> [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw std::invalid_argument(fmt::format(format, std::forward<Args>(args)...));
}

// "f32 or bf16"
inline std::string dtype_list(std::initializer_list<ttl::DType> dtypes) {
    std::string names;
    size_t i = 0;
    for (ttl::DType t : dtypes) {
        if (i > 0) names += i + 1 == dtypes.size() ? " or " : ", ";
        names += ttl::dtype_name(t);
        ++i;
    }
    return names;
}

inline void check_dtype(std::string_view op, std::string_view arg, const ttl::Tensor& t,
                        std::initializer_list<ttl::DType> allowed) {
    if (!t.defined()) fail("{}: {} is an undefined tensor", op, arg);
    for (ttl::DType d : allowed)
        if (t.dtype() == d) return;
    fail("{}: {} {} has dtype {}; expected {}", op, arg, t.describe(), ttl::dtype_name(t.dtype()), dtype_list(allowed));
}

inline void check_float(std::string_view op, std::string_view arg, const ttl::Tensor& t) {
    check_dtype(op, arg, t, {ttl::DType::F32, ttl::DType::BF16});
}

inline void check_min_rank(std::string_view op, std::string_view arg, const ttl::Tensor& t, int rank) {
    if (t.ndim() < rank) fail("{}: {} {} needs at least {} dimension(s)", op, arg, t.describe(), rank);
}

// The output of an `_into` op must already have the result's shape, and one of the allowed dtypes.
inline void check_out(std::string_view op, const ttl::Tensor& out, const ttl::Shape& shape,
                      std::initializer_list<ttl::DType> allowed) {
    check_dtype(op, "out", out, allowed);
    if (out.shape() != shape)
        fail("{}: out {} does not match the result shape {}", op, out.describe(), ttl::shape_str(shape));
}

// Maps a PyTorch-style dimension (negative counts from the end) to [0, ndim).
inline int normalize_dim(std::string_view op, std::string_view arg, int64_t dim, const ttl::Tensor& t) {
    const int n = t.ndim();
    if (n == 0) fail("{}: {} {} refers to a dimension, but {} has none", op, arg, dim, t.describe());
    const int64_t d = dim < 0 ? dim + n : dim;
    if (d < 0 || d >= n)
        fail("{}: {} {} is out of range for {} (expected {} to {})", op, arg, dim, t.describe(), -n, n - 1);
    return static_cast<int>(d);
}

// Parallel chunks hold at least 64 KiB of floats, so that a chunk's work outweighs handing it to a
// worker; smaller tensors run on the calling thread. Rows per chunk for rows of `cols` floats:
inline int64_t row_grain(int64_t cols) {
    return std::max<int64_t>(1, (int64_t{16} << 10) / std::max<int64_t>(cols, 1));
}

// ... and elements per chunk for flat loops (128 KiB).
inline constexpr int64_t kElementGrain = int64_t{32} << 10;

// Runs `compute(float* result)` over out's elements and leaves the result in `out`: in place when
// out is f32, through an f32 scratch tensor rounded to bf16 otherwise.
template <class Compute> void store_f32_result(ttl::Tensor& out, Compute compute) {
    if (out.dtype() == ttl::DType::F32) {
        compute(out.data<float>());
        return;
    }
    ttl::Tensor scratch = ttl::Tensor::empty(out.shape());
    compute(scratch.data<float>());
    convert_into(out, scratch);
}

}  // namespace ttlm::ops::detail
