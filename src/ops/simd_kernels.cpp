// Highway compiles this file once per SIMD target (foreach_target.h re-includes it); the code between
// HWY_BEFORE_NAMESPACE and HWY_AFTER_NAMESPACE is the per-target part, the HWY_ONCE part dispatches.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/simd_kernels.cpp"
#include <hwy/foreach_target.h>  // must precede highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/simd_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace ttlm::ops::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;
using FloatVec = hn::Vec<FloatTag>;
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);

// Highway's Exp is valid up to +104 and turns NaN into 0; inputs above this still overflow to +inf.
constexpr float kExpInputCap = 100.0f;

HWY_INLINE FloatVec exp_capped(FloatTag d, FloatVec x) { return hn::Exp(d, hn::Min(x, hn::Set(d, kExpInputCap))); }

// erfc(|x| / sqrt(2)) to about 3e-7 relative, for GELU, as t * exp(-z^2) * Q(t) with z = |x| / sqrt(2),
// t = 2 / (2 + z) and Q(t) = erfc(z) exp(z^2) / t, a smooth function on t in (0, 1] between 0.28 and 1.
// Q is a degree-10 polynomial in 2t - 1, a weighted least-squares fit (numpy.polyfit on Chebyshev nodes,
// weights 1/Q) with relative error 1.2e-8, 2.2e-7 when evaluated in f32. z^2 = x^2 / 2 is kept exact
// (x*x plus its FMA residual) because exp amplifies any error in it by z^2.
HWY_INLINE FloatVec erfc_of_abs_over_sqrt2(FloatTag d, FloatVec x) {
    // Past |x| = 20 erfc is below 1e-80, 0 in f32; the cap also keeps x*x finite.
    const FloatVec ax = hn::Min(hn::Abs(x), hn::Set(d, 20.0f));
    const FloatVec z = hn::Mul(ax, hn::Set(d, 0.70710678118654752f));
    const FloatVec t = hn::Div(hn::Set(d, 2.0f), hn::Add(hn::Set(d, 2.0f), z));
    const FloatVec u = hn::MulSub(t, hn::Set(d, 2.0f), hn::Set(d, 1.0f));
    FloatVec q = hn::Set(d, 4.21873992e-05f);
    for (float c : {-3.66345776e-05f, -0.000299454114f, 0.000430743181f, 0.00152922643f, -0.00324350572f,
                    -0.0107516544f, 0.0182216838f, 0.139735743f, 0.343580306f, 0.510791361f}) {
        q = hn::MulAdd(q, u, hn::Set(d, c));
    }
    const FloatVec x2 = hn::Mul(ax, ax);
    const FloatVec x2_residual = hn::MulSub(ax, ax, x2);  // ax*ax - x2, exactly
    const FloatVec half = hn::Set(d, 0.5f);
    // exp(-(x2 + residual) / 2), the residual's factor exp(-residual / 2) to first order (|residual| < 2^-15).
    const FloatVec gauss =
        hn::Mul(hn::Exp(d, hn::Neg(hn::Mul(x2, half))), hn::NegMulAdd(x2_residual, half, hn::Set(d, 1.0f)));
    return hn::Mul(hn::Mul(t, gauss), q);
}

template <UnaryOp kOp> HWY_INLINE FloatVec apply_unary(FloatTag d, FloatVec x, FloatVec lo, FloatVec hi) {
    const FloatVec one = hn::Set(d, 1.0f);
    if constexpr (kOp == UnaryOp::Neg) return hn::Neg(x);
    if constexpr (kOp == UnaryOp::Abs) return hn::Abs(x);
    if constexpr (kOp == UnaryOp::Exp) return exp_capped(d, x);
    if constexpr (kOp == UnaryOp::Log) {
        // Highway's Log covers (0, FLT_MAX]; the IEEE edge cases are set here.
        const FloatVec zero = hn::Zero(d);
        const FloatVec inf = hn::Set(d, std::numeric_limits<float>::infinity());
        FloatVec r = hn::Log(d, x);
        r = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), r);
        r = hn::IfThenElse(hn::Lt(x, zero), hn::Set(d, std::numeric_limits<float>::quiet_NaN()), r);
        return hn::IfThenElse(hn::Eq(x, inf), inf, r);
    }
    if constexpr (kOp == UnaryOp::Sqrt) return hn::Sqrt(x);
    if constexpr (kOp == UnaryOp::Rsqrt) return hn::Div(one, hn::Sqrt(x));  // exact, not the 12-bit estimate
    if constexpr (kOp == UnaryOp::Reciprocal) return hn::Div(one, x);
    if constexpr (kOp == UnaryOp::Sigmoid) return hn::Div(one, hn::Add(one, exp_capped(d, hn::Neg(x))));
    if constexpr (kOp == UnaryOp::Silu) return hn::Div(x, hn::Add(one, exp_capped(d, hn::Neg(x))));
    if constexpr (kOp == UnaryOp::Relu) return hn::Max(x, hn::Zero(d));
    if constexpr (kOp == UnaryOp::Gelu) {
        // x * Phi(x) = x * (1 - erfc/2) for x >= 0 and x * erfc/2 below: no cancellation in the negative tail.
        const FloatVec half_erfc = hn::Mul(hn::Set(d, 0.5f), erfc_of_abs_over_sqrt2(d, x));
        return hn::Mul(x, hn::IfThenElse(hn::Lt(x, hn::Zero(d)), half_erfc, hn::Sub(hn::Set(d, 1.0f), half_erfc)));
    }
    if constexpr (kOp == UnaryOp::GeluTanh) {
        // 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)): the same function without 1 + tanh cancelling.
        const FloatVec x3 = hn::Mul(hn::Mul(x, x), x);
        const FloatVec u = hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 0.044715f), x3, x));
        return hn::Div(x, hn::Add(one, exp_capped(d, hn::Mul(hn::Set(d, -2.0f), u))));
    }
    if constexpr (kOp == UnaryOp::Tanh) return hn::Tanh(d, x);
    if constexpr (kOp == UnaryOp::Square) return hn::Mul(x, x);
    if constexpr (kOp == UnaryOp::Clamp) return hn::Min(hn::Max(x, lo), hi);
}

template <UnaryOp kOp> void unary_loop(const float* x, float* y, size_t n, float lo, float hi) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    const FloatVec vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
    // Vector min/max and the polynomial kernels do not propagate NaN on their own.
    auto compute = [&](FloatVec v) { return hn::IfThenElse(hn::IsNaN(v), v, apply_unary<kOp>(d, v, vlo, vhi)); };
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) hn::StoreU(compute(hn::LoadU(d, x + i)), d, y + i);
    if (i < n) {
        HWY_ALIGN float buffer[kMaxLanes] = {};
        std::memcpy(buffer, x + i, (n - i) * sizeof(float));
        hn::Store(compute(hn::Load(d, buffer)), d, buffer);
        std::memcpy(y + i, buffer, (n - i) * sizeof(float));
    }
}

void UnaryImpl(UnaryOp op, const float* x, float* y, size_t n, float lo, float hi) {
    switch (op) {
        case UnaryOp::Neg: return unary_loop<UnaryOp::Neg>(x, y, n, lo, hi);
        case UnaryOp::Abs: return unary_loop<UnaryOp::Abs>(x, y, n, lo, hi);
        case UnaryOp::Exp: return unary_loop<UnaryOp::Exp>(x, y, n, lo, hi);
        case UnaryOp::Log: return unary_loop<UnaryOp::Log>(x, y, n, lo, hi);
        case UnaryOp::Sqrt: return unary_loop<UnaryOp::Sqrt>(x, y, n, lo, hi);
        case UnaryOp::Rsqrt: return unary_loop<UnaryOp::Rsqrt>(x, y, n, lo, hi);
        case UnaryOp::Reciprocal: return unary_loop<UnaryOp::Reciprocal>(x, y, n, lo, hi);
        case UnaryOp::Sigmoid: return unary_loop<UnaryOp::Sigmoid>(x, y, n, lo, hi);
        case UnaryOp::Silu: return unary_loop<UnaryOp::Silu>(x, y, n, lo, hi);
        case UnaryOp::Relu: return unary_loop<UnaryOp::Relu>(x, y, n, lo, hi);
        case UnaryOp::Gelu: return unary_loop<UnaryOp::Gelu>(x, y, n, lo, hi);
        case UnaryOp::GeluTanh: return unary_loop<UnaryOp::GeluTanh>(x, y, n, lo, hi);
        case UnaryOp::Tanh: return unary_loop<UnaryOp::Tanh>(x, y, n, lo, hi);
        case UnaryOp::Square: return unary_loop<UnaryOp::Square>(x, y, n, lo, hi);
        case UnaryOp::Clamp: return unary_loop<UnaryOp::Clamp>(x, y, n, lo, hi);
    }
}

template <BinaryOp kOp> HWY_INLINE FloatVec apply_binary(FloatVec a, FloatVec b) {
    if constexpr (kOp == BinaryOp::Add) return hn::Add(a, b);
    if constexpr (kOp == BinaryOp::Sub) return hn::Sub(a, b);
    if constexpr (kOp == BinaryOp::Mul) return hn::Mul(a, b);
    if constexpr (kOp == BinaryOp::Div) return hn::Div(a, b);
    if constexpr (kOp == BinaryOp::Maximum || kOp == BinaryOp::Minimum) {
        // a + b is NaN when either is: torch.maximum/minimum propagate NaN, the vector instructions do not.
        const FloatVec nan_if_either = hn::Add(a, b);
        const FloatVec extreme = kOp == BinaryOp::Maximum ? hn::Max(a, b) : hn::Min(a, b);
        return hn::IfThenElse(hn::IsNaN(nan_if_either), nan_if_either, extreme);
    }
}

template <BinaryOp kOp, bool kAScalar, bool kBScalar>
void binary_loop(const float* a, const float* b, float* y, size_t n) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    const FloatVec a_splat = hn::Set(d, a[0]), b_splat = hn::Set(d, b[0]);
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const FloatVec va = kAScalar ? a_splat : hn::LoadU(d, a + i);
        const FloatVec vb = kBScalar ? b_splat : hn::LoadU(d, b + i);
        hn::StoreU(apply_binary<kOp>(va, vb), d, y + i);
    }
    if (i < n) {
        const size_t rest = n - i;
        HWY_ALIGN float buffer_a[kMaxLanes] = {};
        HWY_ALIGN float buffer_b[kMaxLanes] = {};
        if (!kAScalar) std::memcpy(buffer_a, a + i, rest * sizeof(float));
        if (!kBScalar) std::memcpy(buffer_b, b + i, rest * sizeof(float));
        const FloatVec va = kAScalar ? a_splat : hn::Load(d, buffer_a);
        const FloatVec vb = kBScalar ? b_splat : hn::Load(d, buffer_b);
        hn::Store(apply_binary<kOp>(va, vb), d, buffer_a);
        std::memcpy(y + i, buffer_a, rest * sizeof(float));
    }
}

template <BinaryOp kOp>
void binary_modes(const float* a, bool a_scalar, const float* b, bool b_scalar, float* y, size_t n) {
    if (a_scalar && b_scalar) return binary_loop<kOp, true, true>(a, b, y, n);
    if (a_scalar) return binary_loop<kOp, true, false>(a, b, y, n);
    if (b_scalar) return binary_loop<kOp, false, true>(a, b, y, n);
    binary_loop<kOp, false, false>(a, b, y, n);
}

void BinaryImpl(BinaryOp op, const float* a, bool a_scalar, const float* b, bool b_scalar, float* y, size_t n) {
    switch (op) {
        case BinaryOp::Add: return binary_modes<BinaryOp::Add>(a, a_scalar, b, b_scalar, y, n);
        case BinaryOp::Sub: return binary_modes<BinaryOp::Sub>(a, a_scalar, b, b_scalar, y, n);
        case BinaryOp::Mul: return binary_modes<BinaryOp::Mul>(a, a_scalar, b, b_scalar, y, n);
        case BinaryOp::Div: return binary_modes<BinaryOp::Div>(a, a_scalar, b, b_scalar, y, n);
        case BinaryOp::Maximum: return binary_modes<BinaryOp::Maximum>(a, a_scalar, b, b_scalar, y, n);
        case BinaryOp::Minimum: return binary_modes<BinaryOp::Minimum>(a, a_scalar, b, b_scalar, y, n);
    }
}

// Sums f(x) in fp64 with four independent accumulators; the tail is padded with zeros (f(0) must be 0).
template <class Fn> double sum_promoted(const float* HWY_RESTRICT x, size_t n, Fn f) {
    const FloatTag d;
    const hn::Half<FloatTag> dh;
    const hn::Repartition<double, FloatTag> dd;
    const size_t lanes = hn::Lanes(d);
    auto acc0 = hn::Zero(dd), acc1 = hn::Zero(dd), acc2 = hn::Zero(dd), acc3 = hn::Zero(dd);
    auto add = [&](FloatVec v, decltype(acc0)& lo, decltype(acc0)& hi) {
        v = f(v);
        lo = hn::Add(lo, hn::PromoteTo(dd, hn::LowerHalf(dh, v)));
        hi = hn::Add(hi, hn::PromoteTo(dd, hn::UpperHalf(dh, v)));
    };
    size_t i = 0;
    for (; i + 2 * lanes <= n; i += 2 * lanes) {
        add(hn::LoadU(d, x + i), acc0, acc1);
        add(hn::LoadU(d, x + i + lanes), acc2, acc3);
    }
    for (; i + lanes <= n; i += lanes) add(hn::LoadU(d, x + i), acc0, acc1);
    if (i < n) {
        HWY_ALIGN float buffer[kMaxLanes] = {};
        std::memcpy(buffer, x + i, (n - i) * sizeof(float));
        add(hn::Load(d, buffer), acc2, acc3);
    }
    return hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3))));
}

double SumImpl(const float* x, size_t n) {
    return sum_promoted(x, n, [](FloatVec v) { return v; });
}

double SumOfSquaresImpl(const float* x, size_t n) {
    return sum_promoted(x, n, [](FloatVec v) { return hn::Mul(v, v); });
}

float MaxImpl(const float* HWY_RESTRICT x, size_t n) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    FloatVec best = hn::Set(d, x[0]);  // also the padding of the tail: it cannot change the maximum
    FloatVec nan_seen = hn::Zero(d);
    auto visit = [&](FloatVec v) {
        best = hn::Max(best, v);
        nan_seen = hn::Or(nan_seen, hn::VecFromMask(d, hn::IsNaN(v)));
    };
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) visit(hn::LoadU(d, x + i));
    if (i < n) {
        HWY_ALIGN float buffer[kMaxLanes];
        std::fill(buffer, buffer + kMaxLanes, x[0]);
        std::memcpy(buffer, x + i, (n - i) * sizeof(float));
        visit(hn::Load(d, buffer));
    }
    if (!hn::AllFalse(d, hn::MaskFromVec(nan_seen))) return std::numeric_limits<float>::quiet_NaN();
    return hn::GetLane(hn::MaxOfLanes(d, best));
}

double ExpShiftedImpl(const float* x, float shift, float* y, size_t n) {
    const FloatTag d;
    const hn::Half<FloatTag> dh;
    const hn::Repartition<double, FloatTag> dd;
    const size_t lanes = hn::Lanes(d);
    const FloatVec vshift = hn::Set(d, shift);
    auto acc_lo = hn::Zero(dd), acc_hi = hn::Zero(dd);
    auto step = [&](FloatVec v) {
        const FloatVec e = exp_capped(d, hn::Sub(v, vshift));
        acc_lo = hn::Add(acc_lo, hn::PromoteTo(dd, hn::LowerHalf(dh, e)));
        acc_hi = hn::Add(acc_hi, hn::PromoteTo(dd, hn::UpperHalf(dh, e)));
        return e;
    };
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        const FloatVec e = step(hn::LoadU(d, x + i));
        if (y) hn::StoreU(e, d, y + i);
    }
    if (i < n) {
        HWY_ALIGN float buffer[kMaxLanes];
        std::fill(buffer, buffer + kMaxLanes, -std::numeric_limits<float>::infinity());  // exp(-inf) = 0
        std::memcpy(buffer, x + i, (n - i) * sizeof(float));
        hn::Store(step(hn::Load(d, buffer)), d, buffer);
        if (y) std::memcpy(y + i, buffer, (n - i) * sizeof(float));
    }
    return hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc_lo, acc_hi)));
}

void ScaleByWeightImpl(const float* x, float scale, const float* w, float* y, size_t n) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    const FloatVec vscale = hn::Set(d, scale);
    size_t i = 0;
    if (w == nullptr) {
        for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vscale), d, y + i);
        for (; i < n; ++i) y[i] = x[i] * scale;  // one rounding either way: same result as the vector lanes
        return;
    }
    for (; i + lanes <= n; i += lanes)
        hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vscale), hn::LoadU(d, w + i)), d, y + i);
    for (; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void MultiplyAccumulateImpl(const float* HWY_RESTRICT w, const float* HWY_RESTRICT x, float* HWY_RESTRICT acc,
                            size_t n) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        hn::StoreU(hn::MulAdd(hn::LoadU(d, w + i), hn::LoadU(d, x + i), hn::LoadU(d, acc + i)), d, acc + i);
    for (; i < n; ++i) acc[i] = std::fma(w[i], x[i], acc[i]);  // fused, as the vector lanes
}

void Bf16ToF32Impl(const uint16_t* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
    const FloatTag d;
    const hn::Rebind<uint32_t, FloatTag> du32;
    const hn::Rebind<uint16_t, FloatTag> du16;
    const size_t lanes = hn::Lanes(d);
    size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, x + i)))), d, y + i);
    for (; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(x[i]) << 16;
        std::memcpy(y + i, &bits, sizeof(bits));
    }
}

void F32ToBf16Impl(const float* HWY_RESTRICT x, uint16_t* HWY_RESTRICT y, size_t n) {
    const FloatTag d;
    const hn::Rebind<uint32_t, FloatTag> du32;
    const hn::Rebind<int32_t, FloatTag> di32;
    const hn::Rebind<uint16_t, FloatTag> du16;
    const size_t lanes = hn::Lanes(d);
    // Round to nearest even, as ttl::float_to_bf16_bits (Highway 1.0.3's own conversion truncates).
    auto convert = [&](FloatVec v) {
        const auto bits = hn::BitCast(du32, v);
        const auto upper = hn::ShiftRight<16>(bits);
        const auto rounding = hn::Add(hn::Set(du32, 0x7fffu), hn::And(upper, hn::Set(du32, 1u)));
        const auto rounded = hn::ShiftRight<16>(hn::Add(bits, rounding));
        const auto quiet_nan = hn::Or(upper, hn::Set(du32, 0x40u));
        const auto result = hn::IfThenElse(hn::RebindMask(du32, hn::IsNaN(v)), quiet_nan, rounded);
        return hn::DemoteTo(du16, hn::BitCast(di32, result));  // every value fits 16 bits
    };
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) hn::StoreU(convert(hn::LoadU(d, x + i)), du16, y + i);
    if (i < n) {
        HWY_ALIGN float buffer[kMaxLanes] = {};
        HWY_ALIGN uint16_t converted[kMaxLanes];
        std::memcpy(buffer, x + i, (n - i) * sizeof(float));
        hn::Store(convert(hn::Load(d, buffer)), du16, converted);
        std::memcpy(y + i, converted, (n - i) * sizeof(uint16_t));
    }
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace ttlm::ops::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ttlm::ops::simd {

HWY_EXPORT(UnaryImpl);
HWY_EXPORT(BinaryImpl);
HWY_EXPORT(SumImpl);
HWY_EXPORT(SumOfSquaresImpl);
HWY_EXPORT(MaxImpl);
HWY_EXPORT(ExpShiftedImpl);
HWY_EXPORT(ScaleByWeightImpl);
HWY_EXPORT(MultiplyAccumulateImpl);
HWY_EXPORT(Bf16ToF32Impl);
HWY_EXPORT(F32ToBf16Impl);
HWY_EXPORT(TargetNameImpl);

void unary(UnaryOp op, const float* x, float* y, size_t n, float lo, float hi) {
    HWY_DYNAMIC_DISPATCH(UnaryImpl)(op, x, y, n, lo, hi);
}
void binary(BinaryOp op, const float* a, bool a_scalar, const float* b, bool b_scalar, float* y, size_t n) {
    HWY_DYNAMIC_DISPATCH(BinaryImpl)(op, a, a_scalar, b, b_scalar, y, n);
}
double sum(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(x, n); }
double sum_of_squares(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SumOfSquaresImpl)(x, n); }
float max(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(MaxImpl)(x, n); }
double exp_shifted(const float* x, float shift, float* y, size_t n) {
    return HWY_DYNAMIC_DISPATCH(ExpShiftedImpl)(x, shift, y, n);
}
void scale_by_weight(const float* x, float scale, const float* w, float* y, size_t n) {
    HWY_DYNAMIC_DISPATCH(ScaleByWeightImpl)(x, scale, w, y, n);
}
void multiply_accumulate(const float* w, const float* x, float* acc, size_t n) {
    HWY_DYNAMIC_DISPATCH(MultiplyAccumulateImpl)(w, x, acc, n);
}
void bf16_to_f32(const uint16_t* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(Bf16ToF32Impl)(x, y, n); }
void f32_to_bf16(const float* x, uint16_t* y, size_t n) { HWY_DYNAMIC_DISPATCH(F32ToBf16Impl)(x, y, n); }
const char* target_name() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace ttlm::ops::simd
#endif
