// Vector kernels behind block math: compiled for AVX2 and AVX-512 by Highway and picked at
// run time, so one binary is portable and fast. Arrays are contiguous fp32 unless a leading dimension (ld) says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ttl::simd {

enum class Binary : uint8_t { Add, Sub, Mul, Div, Max, Min };
enum class Unary : uint8_t {
    Neg, Abs, Exp, Log, Sqrt, Rsqrt, Recip, Square, Sigmoid, Silu, Relu, Tanh, Gelu, Clamp, Copy, Sign
};

// out[i] = a[i] op b[i]
void binary(Binary op, const float* a, const float* b, float* out, size_t n);
// out[i] = a[i] op s   (or s op a[i] when scalar_first)
void binary_scalar(Binary op, const float* a, float s, float* out, size_t n, bool scalar_first);
// out[r*cols + c] = a[r*lda + c] op col[r]      (per-row operand, e.g. a column broadcast);
// cold_rows: a's rows lie in a tensor, not read before: prefetched rows ahead (prefetch.hpp)
void binary_per_row(Binary op, const float* a, size_t lda, const float* per_row, float* out, size_t rows, size_t cols,
                    bool cold_rows = false);
// out[r*cols + c] = a[r*cols + c] op row[c]      (per-column operand, e.g. a row broadcast)
void binary_per_col(Binary op, const float* a, const float* per_col, float* out, size_t rows, size_t cols);
// out[i] = f(a[i]); lo/hi are Clamp's bounds.
void unary(Unary op, const float* a, float* out, size_t n, float lo = 0.0f, float hi = 0.0f);
// out[i] = a[i] op activation(b[i]) in one pass (a residual add of an activation, say), for the
// activations fusable_activation() accepts: exp, sigmoid, silu, relu, tanh.
bool fusable_activation(Unary op);
void binary_activation(Binary op, const float* a, Unary activation, const float* b, float* out, size_t n);

// Row-major C[MxN] (+)= A[MxK] * B[KxN] with leading dimensions lda, ldb, ldc.
void matmul(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t k,
            bool accumulate);

// out[i] = a[i] + b[i] * c[i]
void multiply_add(const float* a, const float* b, const float* c, float* out, size_t n);
// out[r*cols + c] = a[r*cols + c] + b[r*cols + c] * per_col[c]
void multiply_add_per_col(const float* a, const float* b, const float* per_col, float* out, size_t rows, size_t cols);
// out = base + x[0] * w[0] + x[1] * w[1] + ... (in that order, one fused multiply-add per term;
// at most kMaxProductTerms terms),
// out and base rows x cols (cols a whole number of tiles), each w[t] a per-column vector, and term t's row r at x_rows[t * rows + r]
// (rows given one by one, so a row-shifted operand is read in place); with no base,
// out = x[0] * w[0] + ...
constexpr size_t kMaxProductTerms = 8;
void sum_of_products_per_col(const float* base, const float* const* x_rows, const float* const* w, size_t terms,
                             float* out, size_t rows, size_t cols);
// out = a op activation(base + x[0] * w[0] + ...), the sum of products as above with the
// activation and the binary op applied on the way (a residual add of an activated FIR filter);
// activation as binary_activation; a's rows lda floats apart.
void sum_of_products_activation(Binary op, const float* a, size_t lda, Unary activation, const float* base,
                                const float* const* x_rows, const float* const* w, size_t terms, float* out, size_t rows,
                                size_t cols);
// out[r*cols + c] = x[r*ldx + c] * per_row[r] * per_col[c]   (RMSNorm's normalise-and-weight)
void scale_rows_cols(const float* x, size_t ldx, const float* per_row, const float* per_col, float* out, size_t rows,
                     size_t cols);
// out[r] = sum_c a[r*lda + c] * b[r*ldb + c]
void row_dot(const float* a, size_t lda, const float* b, size_t ldb, size_t rows, size_t cols, float* out);
// out[r] = sum_c (a[r*lda + c] * per_col[c]) * b[r*ldb + c]: a weighted row dot (the product a * w
// rounded as when stored), one pass.
void row_dot_weighted(const float* a, size_t lda, const float* per_col, const float* b, size_t ldb, size_t rows,
                      size_t cols, float* out);

// Per-row sum / max over `cols` values of each of `rows` rows with stride ld.
void row_reduce(bool max, const float* a, size_t ld, size_t rows, size_t cols, float* out);

// Copies `rows` rows of `row_bytes` (at the given byte strides), asking for the row
// `prefetch_ahead` rows ahead (0: none) while one is copied: a block's rows lie far apart in a
// tensor, where the hardware prefetchers do not follow.
void copy_rows(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes, size_t rows,
               size_t prefetch_ahead);
// Copies `rows` rows of `row_bytes` (at the given byte strides) with non-temporal stores, for
// writes to tensors that will not be read soon (a DMA engine writing DRAM does not allocate
// cache lines either): saves the read-for-ownership and leaves the cache to the kernel.
void stream_copy_rows(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes, size_t rows);

// bf16 <-> f32 conversion (round to nearest even).
void bf16_to_f32(const uint16_t* in, float* out, size_t n);
void f32_to_bf16(const float* in, uint16_t* out, size_t n);

// Name of the instruction set the kernels run with on this machine ("AVX3" = AVX-512, "AVX2").
const char* target_name();

}  // namespace ttl::simd
