// Shape and layout ops. Tensors are always contiguous, so every op except reshape copies; all dtypes.
#pragma once

#include <cstdint>
#include <vector>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

// A view with a new shape (no copy; one dimension may be -1).
ttl::Tensor reshape(const ttl::Tensor& x, ttl::Shape shape);
// torch.permute(x, dims), materialised: out.shape[i] = x.shape[dims[i]].
ttl::Tensor permute(const ttl::Tensor& x, const std::vector<int64_t>& dims);
// Swaps two dimensions (negative dims count from the end).
ttl::Tensor transpose(const ttl::Tensor& x, int64_t dim0, int64_t dim1);
// Joins tensors of one dtype along `dim`; all other dimensions must agree.
ttl::Tensor concat(const std::vector<ttl::Tensor>& tensors, int64_t dim);
// x[..., begin:end, ...] along `dim`, copied. Negative begin/end count from the end, as in Python; unlike
// Python, a range outside [0, size] is an error rather than clamped.
ttl::Tensor slice(const ttl::Tensor& x, int64_t dim, int64_t begin, int64_t end);

}  // namespace ttlm::ops
