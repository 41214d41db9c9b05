// Reductions over one dimension (the last by default), with PyTorch's keepdim.
//
// sum/mean/max keep x's dtype (f32 or bf16; bf16 is widened and the result rounded back); sums are
// accumulated in fp64. argmax returns i64 indices. max and argmax propagate NaN as PyTorch does (the
// first NaN wins) and reject an empty dimension; mean of an empty dimension is NaN, its sum 0.
#pragma once

#include <cstdint>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

ttl::Tensor sum(const ttl::Tensor& x, int64_t dim = -1, bool keepdim = false);
ttl::Tensor mean(const ttl::Tensor& x, int64_t dim = -1, bool keepdim = false);
// Values only, as torch.amax over one dimension; argmax gives the indices.
ttl::Tensor max(const ttl::Tensor& x, int64_t dim = -1, bool keepdim = false);
ttl::Tensor argmax(const ttl::Tensor& x, int64_t dim = -1, bool keepdim = false);

}  // namespace ttlm::ops
