// Elementwise ops with PyTorch semantics: unary math and activations, binary arithmetic with
// broadcasting, scalar operands, clamp, and f32 <-> bf16 conversion.
//
// dtypes: f32 and bf16 operands (others are rejected). bf16 values are widened to f32, the math runs
// in f32, and the result is rounded to nearest even when it is stored as bf16. The result is bf16
// when every tensor operand is bf16 and f32 otherwise (a float scalar does not promote, as in PyTorch).
// `_into` variants write into `out`, which must already have the result's shape and may be f32 or
// bf16; `out` may be the same tensor as an operand of the same shape (in-place update).
//
// Broadcasting follows PyTorch: shapes are aligned at their last dimension and a dimension of size 1
// (or a missing leading one) stretches to the other operand's size.
#pragma once

#include <string_view>

#include "ttl/tensor.hpp"

namespace ttlm::ops {

enum class UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Sigmoid,
    Silu,
    Relu,
    Gelu,      // x * Phi(x), the erf form (torch's default)
    GeluTanh,  // torch.nn.functional.gelu(x, approximate="tanh")
    Tanh,
    Square,
    Clamp,  // min(max(x, lo), hi); see clamp()
};

enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum };

std::string_view op_name(UnaryOp op);   // "silu"
std::string_view op_name(BinaryOp op);  // "add"

ttl::Tensor unary(UnaryOp op, const ttl::Tensor& x);
void unary_into(ttl::Tensor& out, UnaryOp op, const ttl::Tensor& x);

ttl::Tensor clamp(const ttl::Tensor& x, float lo, float hi);
void clamp_into(ttl::Tensor& out, const ttl::Tensor& x, float lo, float hi);

ttl::Tensor binary(BinaryOp op, const ttl::Tensor& a, const ttl::Tensor& b);
ttl::Tensor binary(BinaryOp op, const ttl::Tensor& a, float b);
ttl::Tensor binary(BinaryOp op, float a, const ttl::Tensor& b);
void binary_into(ttl::Tensor& out, BinaryOp op, const ttl::Tensor& a, const ttl::Tensor& b);
void binary_into(ttl::Tensor& out, BinaryOp op, const ttl::Tensor& a, float b);
void binary_into(ttl::Tensor& out, BinaryOp op, float a, const ttl::Tensor& b);

// Vectorised, multi-threaded dtype conversion (round to nearest even into bf16). A tensor that already
// has the dtype is returned as is (shared storage, no copy).
ttl::Tensor to_f32(const ttl::Tensor& x);
ttl::Tensor to_bf16(const ttl::Tensor& x);
// Copies x into out (same shape; each f32 or bf16), converting the dtype if they differ.
void convert_into(ttl::Tensor& out, const ttl::Tensor& x);

// Named forms: exp(x), silu_into(out, x), add(a, b), mul(x, 0.5f), sub(1.0f, x), ...
#define TTLM_OPS_UNARY(name, op)                                                    \
    inline ttl::Tensor name(const ttl::Tensor& x) { return unary(UnaryOp::op, x); } \
    inline void name##_into(ttl::Tensor& out, const ttl::Tensor& x) { unary_into(out, UnaryOp::op, x); }
TTLM_OPS_UNARY(neg, Neg)
TTLM_OPS_UNARY(abs, Abs)
TTLM_OPS_UNARY(exp, Exp)
TTLM_OPS_UNARY(log, Log)
TTLM_OPS_UNARY(sqrt, Sqrt)
TTLM_OPS_UNARY(rsqrt, Rsqrt)
TTLM_OPS_UNARY(reciprocal, Reciprocal)
TTLM_OPS_UNARY(sigmoid, Sigmoid)
TTLM_OPS_UNARY(silu, Silu)
TTLM_OPS_UNARY(relu, Relu)
TTLM_OPS_UNARY(gelu, Gelu)
TTLM_OPS_UNARY(gelu_tanh, GeluTanh)
TTLM_OPS_UNARY(tanh, Tanh)
TTLM_OPS_UNARY(square, Square)
#undef TTLM_OPS_UNARY

#define TTLM_OPS_BINARY(name, op)                                                                                      \
    inline ttl::Tensor name(const ttl::Tensor& a, const ttl::Tensor& b) { return binary(BinaryOp::op, a, b); }         \
    inline ttl::Tensor name(const ttl::Tensor& a, float b) { return binary(BinaryOp::op, a, b); }                      \
    inline ttl::Tensor name(float a, const ttl::Tensor& b) { return binary(BinaryOp::op, a, b); }                      \
    inline void name##_into(ttl::Tensor& out, const ttl::Tensor& a, const ttl::Tensor& b) {                            \
        binary_into(out, BinaryOp::op, a, b);                                                                          \
    }                                                                                                                  \
    inline void name##_into(ttl::Tensor& out, const ttl::Tensor& a, float b) { binary_into(out, BinaryOp::op, a, b); } \
    inline void name##_into(ttl::Tensor& out, float a, const ttl::Tensor& b) { binary_into(out, BinaryOp::op, a, b); }
TTLM_OPS_BINARY(add, Add)
TTLM_OPS_BINARY(sub, Sub)
TTLM_OPS_BINARY(mul, Mul)
TTLM_OPS_BINARY(div, Div)
TTLM_OPS_BINARY(maximum, Maximum)
TTLM_OPS_BINARY(minimum, Minimum)
#undef TTLM_OPS_BINARY

}  // namespace ttlm::ops
