// Depthwise causal 1-D convolution over time, time-major: Engram's ShortConv.
#pragma once

#include <cstdint>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

// x [B, T, C], weight [C, 1, K] (nn.Conv1d(groups=C) layout) or [C, K], optional bias [C]:
//   y[b, t, c] = bias[c] + sum_k weight[c, k] * x[b, t - (K - 1 - k) * dilation, c],
// with x = 0 at negative times. Equals nn.Conv1d(C, C, K, groups=C, dilation=d, padding=(K-1)*d)
// applied to x transposed to [B, C, T], truncated to the first T outputs. f32 or bf16 inputs, result
// in x's dtype.
ttl::Tensor conv1d_depthwise_causal(const ttl::Tensor& x, const ttl::Tensor& weight, int64_t dilation = 1,
                                    const ttl::Tensor& bias = ttl::Tensor());
void conv1d_depthwise_causal_into(ttl::Tensor& out, const ttl::Tensor& x, const ttl::Tensor& weight,
                                  int64_t dilation = 1, const ttl::Tensor& bias = ttl::Tensor());

}  // namespace ttlm::ops
