// Row-wise normalisations over the last dimension: RMSNorm, softmax, log-softmax.
//
// f32 or bf16 input (bf16 is widened, computed in f32 and rounded back); the result has x's dtype.
// Sums are accumulated in fp64. `_into` variants may write in place (out the same tensor as x).
#pragma once

#include <cstdint>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

// x * rsqrt(mean(x^2) + eps) * weight over the last dimension; weight [D] may be left undefined
// (ttl::Tensor()): no scaling, as nn.RMSNorm(elementwise_affine=False).
ttl::Tensor rms_norm(const ttl::Tensor& x, const ttl::Tensor& weight, float eps);
void rms_norm_into(ttl::Tensor& out, const ttl::Tensor& x, const ttl::Tensor& weight, float eps);

// Numerically stable softmax / log_softmax. Only the last dimension is supported (dim -1 or ndim-1).
// A row holding NaN or +inf, or only -inf, gives NaN, as in PyTorch.
ttl::Tensor softmax(const ttl::Tensor& x, int64_t dim = -1);
void softmax_into(ttl::Tensor& out, const ttl::Tensor& x, int64_t dim = -1);
ttl::Tensor log_softmax(const ttl::Tensor& x, int64_t dim = -1);
void log_softmax_into(ttl::Tensor& out, const ttl::Tensor& x, int64_t dim = -1);

}  // namespace ttlm::ops
