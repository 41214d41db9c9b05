// Vectorised inner loops of the op library (internal). Each function runs on one contiguous run of
// floats; the ops split tensors into such runs and spread them over threads. The bodies are compiled
// once per SIMD target by Highway (AVX2, AVX-512) and picked at run time for the CPU at hand.
//
// Every lane of a run goes through the same vector code (the tail too, via a padded copy), so a
// result never depends on where a run starts: ops give bitwise identical results on any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/elementwise.hpp"

namespace ttlm::ops::simd {

// y[i] = op(x[i]); `lo` and `hi` are the bounds of UnaryOp::Clamp and unused otherwise.
// NaN inputs give NaN outputs for every op. x and y may be the same array.
void unary(UnaryOp op, const float* x, float* y, size_t n, float lo = 0.0f, float hi = 0.0f);

// y[i] = op(a[i], b[i]); an operand flagged `scalar` is the single value a[0] (or b[0]) for every i.
// y may be a or b.
void binary(BinaryOp op, const float* a, bool a_scalar, const float* b, bool b_scalar, float* y, size_t n);

// Sum of x (or of x squared), accumulated in fp64.
double sum(const float* x, size_t n);
double sum_of_squares(const float* x, size_t n);
// Largest element; NaN if any element is NaN (as torch.max). n must be > 0.
float max(const float* x, size_t n);
// y[i] = exp(x[i] - shift) (y may be x, or null: only the sum); returns the sum in fp64.
double exp_shifted(const float* x, float shift, float* y, size_t n);
// y[i] = x[i] * scale * w[i] (w may be null: no weight). RMSNorm's last step.
void scale_by_weight(const float* x, float scale, const float* w, float* y, size_t n);
// acc[i] += w[i] * x[i] (fused multiply-add).
void multiply_accumulate(const float* w, const float* x, float* acc, size_t n);

// bf16 <-> f32, rounding to nearest even (NaN stays NaN).
void bf16_to_f32(const uint16_t* x, float* y, size_t n);
void f32_to_bf16(const float* x, uint16_t* y, size_t n);

// Name of the SIMD target the dispatcher chose ("AVX3", "AVX2", ...), for benchmark reports.
const char* target_name();

}  // namespace ttlm::ops::simd
