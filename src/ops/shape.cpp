#include "ops/shape.hpp"

#include <algorithm>
#include <cstring>

#include "ops/detail.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::Shape;
using ttl::Tensor;

namespace {

void check_defined(std::string_view op, std::string_view arg, const Tensor& x) {
    if (!x.defined()) fail("{}: {} is an undefined tensor", op, arg);
}

// Rows per parallel chunk when rows of `row_bytes` are copied: about 64 KiB per chunk.
int64_t copy_grain(int64_t row_bytes) {
    return std::max<int64_t>(1, (int64_t{64} << 10) / std::max<int64_t>(row_bytes, 1));
}

// Copies `count` rows of `row_bytes`: row r from src + r * src_stride to dst + r * dst_stride (bytes).
void copy_rows(const char* src, int64_t src_stride, char* dst, int64_t dst_stride, int64_t row_bytes, int64_t count) {
    if (row_bytes == 0) return;
    runtime::parallel_for(
        count,
        [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, row_bytes);
        },
        copy_grain(row_bytes));
}

template <class T> void gather_row(const char* src, int64_t stride, char* dst, int64_t n) {
    const T* from = reinterpret_cast<const T*>(src);
    T* to = reinterpret_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) to[i] = from[i * stride];
}

// Writes, contiguously into dst, the source elements at offset sum(index[d] * strides[d]) (in elements
// of `elem` bytes) for every index over `sizes` in row-major order. Rows whose source is contiguous
// (innermost stride 1) are copied whole.
void copy_strided(const char* src, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides, char* dst,
                  int64_t elem) {
    const int outer_dims = static_cast<int>(sizes.size()) - 1;
    const int64_t inner = sizes.back(), inner_stride = strides.back();
    int64_t rows = 1;
    for (int d = 0; d < outer_dims; ++d) rows *= sizes[d];
    runtime::parallel_for(
        rows,
        [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                int64_t offset = 0, rest = r;
                for (int d = outer_dims - 1; d >= 0; --d) {
                    offset += rest % sizes[d] * strides[d];
                    rest /= sizes[d];
                }
                const char* from = src + offset * elem;
                char* to = dst + r * inner * elem;
                if (inner_stride == 1)
                    std::memcpy(to, from, inner * elem);
                else if (elem == 2)
                    gather_row<uint16_t>(from, inner_stride, to, inner);
                else if (elem == 4)
                    gather_row<uint32_t>(from, inner_stride, to, inner);
                else
                    gather_row<uint64_t>(from, inner_stride, to, inner);
            }
        },
        copy_grain(inner * elem));
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
    check_defined("reshape", "x", x);
    return x.reshape(std::move(shape));
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    check_defined("permute", "x", x);
    const int n = x.ndim();
    if (static_cast<int>(dims.size()) != n)
        fail("permute: dims has {} entries; x {} has {} dimensions", dims.size(), x.describe(), n);
    std::vector<int> order(n);
    std::vector<bool> seen(n, false);
    for (int i = 0; i < n; ++i) {
        order[i] = detail::normalize_dim("permute", "dims entry", dims[i], x);
        if (seen[order[i]]) fail("permute: dims {} repeats dimension {}", ttl::shape_str(dims), dims[i]);
        seen[order[i]] = true;
    }
    Shape out_shape(n);
    std::vector<int64_t> x_strides(n);
    for (int64_t i = n - 1, running = 1; i >= 0; --i) {
        x_strides[i] = running;
        running *= x.shape()[i];
    }
    for (int i = 0; i < n; ++i) out_shape[i] = x.shape()[order[i]];
    Tensor out = Tensor::empty(out_shape, x.dtype());
    if (out.numel() == 0) return out;

    // Output dimensions, size-1 ones dropped, merged where the source is contiguous across them.
    std::vector<int64_t> sizes, strides;
    for (int i = 0; i < n; ++i) {
        const int64_t size = out_shape[i], stride = x_strides[order[i]];
        if (size == 1) continue;
        if (!sizes.empty() && strides.back() == stride * size) {
            sizes.back() *= size;
            strides.back() = stride;
        } else {
            sizes.push_back(size);
            strides.push_back(stride);
        }
    }
    if (sizes.empty()) sizes = strides = {1};
    copy_strided(static_cast<const char*>(x.raw()), sizes, strides, static_cast<char*>(out.raw()),
                 static_cast<int64_t>(ttl::dtype_size(x.dtype())));
    return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
    check_defined("transpose", "x", x);
    const int d0 = detail::normalize_dim("transpose", "dim0", dim0, x);
    const int d1 = detail::normalize_dim("transpose", "dim1", dim1, x);
    std::vector<int64_t> dims(x.ndim());
    for (int i = 0; i < x.ndim(); ++i) dims[i] = i;
    std::swap(dims[d0], dims[d1]);
    return permute(x, dims);
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
    if (tensors.empty()) fail("concat: tensors is empty; expected at least one tensor");
    const Tensor& first = tensors[0];
    check_defined("concat", "tensors[0]", first);
    if (first.ndim() == 0) fail("concat: tensors[0] {} has no dimension to join along", first.describe());
    const int d = detail::normalize_dim("concat", "dim", dim, first);
    Shape out_shape = first.shape();
    out_shape[d] = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        check_defined("concat", fmt::format("tensors[{}]", i), t);
        if (t.dtype() != first.dtype())
            fail("concat: tensors[{}] {} has dtype {}; tensors[0] {} has {}", i, t.describe(),
                 ttl::dtype_name(t.dtype()), first.describe(), ttl::dtype_name(first.dtype()));
        bool same = t.ndim() == first.ndim();
        for (int j = 0; same && j < t.ndim(); ++j) same = j == d || t.shape()[j] == first.shape()[j];
        if (!same)
            fail("concat: tensors[{}] {} does not match tensors[0] {} outside dimension {}", i, t.describe(),
                 first.describe(), dim);
        out_shape[d] += t.shape()[d];
    }
    Tensor out = Tensor::empty(out_shape, first.dtype());
    int64_t outer = 1, inner_elems = 1;
    for (int j = 0; j < d; ++j) outer *= out_shape[j];
    for (int j = d + 1; j < static_cast<int>(out_shape.size()); ++j) inner_elems *= out_shape[j];
    const int64_t elem = static_cast<int64_t>(ttl::dtype_size(first.dtype()));
    const int64_t out_row_bytes = out_shape[d] * inner_elems * elem;
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
        // Each tensor contributes one contiguous block per outer index.
        const int64_t block = t.shape()[d] * inner_elems * elem;
        copy_rows(static_cast<const char*>(t.raw()), block, static_cast<char*>(out.raw()) + offset, out_row_bytes,
                  block, outer);
        offset += block;
    }
    return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t begin, int64_t end) {
    check_defined("slice", "x", x);
    const int d = detail::normalize_dim("slice", "dim", dim, x);
    const int64_t size = x.shape()[d];
    const int64_t b = begin < 0 ? begin + size : begin, e = end < 0 ? end + size : end;
    if (b < 0 || e > size || b > e)
        fail("slice: range [{}, {}) is not within dimension {} of x {} (size {}, expected 0 <= begin <= end <= size)",
             begin, end, dim, x.describe(), size);
    Shape out_shape = x.shape();
    out_shape[d] = e - b;
    Tensor out = Tensor::empty(out_shape, x.dtype());
    int64_t outer = 1, inner_elems = 1;
    for (int j = 0; j < d; ++j) outer *= out_shape[j];
    for (int j = d + 1; j < x.ndim(); ++j) inner_elems *= out_shape[j];
    const int64_t elem = static_cast<int64_t>(ttl::dtype_size(x.dtype()));
    const int64_t row_bytes = (e - b) * inner_elems * elem;
    copy_rows(static_cast<const char*>(x.raw()) + b * inner_elems * elem, size * inner_elems * elem,
              static_cast<char*>(out.raw()), row_bytes, row_bytes, outer);
    return out;
}

}  // namespace ttlm::ops
