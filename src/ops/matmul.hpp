// Matrix products on oneDNN: matmul, linear (nn.Linear) and a raw sgemm baseline.
//
// f32 x f32 -> f32, and bf16 x bf16 -> f32 (oneDNN's AVX512-BF16 / AMX path; `_into` may also store
// bf16). Mixed f32/bf16 operands are rejected, as in PyTorch. oneDNN primitives are created once per
// shape and dtype and kept in a small cache, so repeated calls only execute.
//
// Threads: the product is split by batch, rows or columns over ttlm::runtime's pinned workers, each
// running oneDNN single-threaded (oneDNN's own OpenMP threads spin between calls and would compete
// with the workers), so `--threads 1` means one thread. Results on different thread counts agree to
// f32 rounding, not always bitwise: oneDNN may pick another kernel for a part's shape.
#pragma once

#include <cstdint>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

// a [..., M, K] @ b [K, N] -> [..., M, N], or batched: a [..., M, K] @ b [..., K, N] with the same
// leading dimensions.
ttl::Tensor matmul(const ttl::Tensor& a, const ttl::Tensor& b);
void matmul_into(ttl::Tensor& out, const ttl::Tensor& a, const ttl::Tensor& b);

// nn.Linear: x [..., in] @ weight[out, in]^T + bias[out] -> [..., out]. `bias` may be left undefined
// (ttl::Tensor()); it is f32, or bf16 alongside bf16 operands.
ttl::Tensor linear(const ttl::Tensor& x, const ttl::Tensor& weight, const ttl::Tensor& bias = ttl::Tensor());
void linear_into(ttl::Tensor& out, const ttl::Tensor& x, const ttl::Tensor& weight,
                 const ttl::Tensor& bias = ttl::Tensor());

// Row-major C = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T; A is M x K after op, B is K x N.
// oneDNN's dnnl_sgemm: the baseline GEMM of the benchmarks.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Number of oneDNN primitives in the cache (for tests of the cache).
size_t matmul_cache_size();

}  // namespace ttlm::ops
