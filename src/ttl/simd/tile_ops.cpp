// Highway compiles this file once per target (AVX2, AVX-512) and dispatches at run time.
// The targets built (AVX2, AVX-512) are chosen for the whole project in CMakeLists.txt.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ttl/simd/tile_ops.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/cache_control.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ttl/dtype.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/simd/tile_ops.hpp"

HWY_BEFORE_NAMESPACE();
namespace ttl::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

template <class F>
HWY_INLINE void map_binary(const float* a, const float* b, float* out, size_t n, F f) {
    const D d;
    const size_t L = hn::Lanes(d);
    size_t i = 0;
    for (; i + L <= n; i += L) hn::StoreU(f(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
    if (i < n) {  // tail through a vector-sized buffer
        HWY_ALIGN float ta[hn::MaxLanes(d)] = {}, tb[hn::MaxLanes(d)] = {};
        const size_t r = n - i;
        for (size_t j = 0; j < r; ++j) ta[j] = a[i + j], tb[j] = b[i + j];
        hn::Store(f(hn::Load(d, ta), hn::Load(d, tb)), d, ta);
        for (size_t j = 0; j < r; ++j) out[i + j] = ta[j];
    }
}

template <class F>
HWY_INLINE void map_unary(const float* a, float* out, size_t n, F f) {
    const D d;
    const size_t L = hn::Lanes(d);
    size_t i = 0;
    for (; i + L <= n; i += L) hn::StoreU(f(hn::LoadU(d, a + i)), d, out + i);
    if (i < n) {
        HWY_ALIGN float ta[hn::MaxLanes(d)] = {};
        const size_t r = n - i;
        for (size_t j = 0; j < r; ++j) ta[j] = a[i + j];
        hn::Store(f(hn::Load(d, ta)), d, ta);
        for (size_t j = 0; j < r; ++j) out[i + j] = ta[j];
    }
}

template <class F>
HWY_INLINE void with_binary(Binary op, F&& body) {
    const D d;
    switch (op) {
        case Binary::Add: body([](V x, V y) { return hn::Add(x, y); }); break;
        case Binary::Sub: body([](V x, V y) { return hn::Sub(x, y); }); break;
        case Binary::Mul: body([](V x, V y) { return hn::Mul(x, y); }); break;
        case Binary::Div: body([](V x, V y) { return hn::Div(x, y); }); break;
        case Binary::Max: body([](V x, V y) { return hn::Max(x, y); }); break;
        case Binary::Min: body([](V x, V y) { return hn::Min(x, y); }); break;
    }
    (void)d;
}

void BinaryImpl(Binary op, const float* a, const float* b, float* out, size_t n) {
    with_binary(op, [&](auto f) { map_binary(a, b, out, n, f); });
}

void BinaryScalarImpl(Binary op, const float* a, float s, float* out, size_t n, bool scalar_first) {
    const D d;
    const V vs = hn::Set(d, s);
    with_binary(op, [&](auto f) {
        if (scalar_first)
            map_unary(a, out, n, [&](V x) { return f(vs, x); });
        else
            map_unary(a, out, n, [&](V x) { return f(x, vs); });
    });
}

void BinaryPerRowImpl(Binary op, const float* a, size_t lda, const float* per_row, float* out, size_t rows, size_t cols,
                      bool cold_rows) {
    const D d;
    with_binary(op, [&](auto f) {
        for (size_t r = 0; r < rows; ++r) {
            if (cold_rows) prefetch_row_ahead(a + r * lda, lda, cols);
            const V vs = hn::Set(d, per_row[r]);
            map_unary(a + r * lda, out + r * cols, cols, [&](V x) { return f(x, vs); });
        }
    });
}

void BinaryPerColImpl(Binary op, const float* a, const float* per_col, float* out, size_t rows, size_t cols) {
    with_binary(op, [&](auto f) {
        for (size_t r = 0; r < rows; ++r) map_binary(a + r * cols, per_col, out + r * cols, cols, f);
    });
}

// exp(-y) for y <= 87 (callers clamp from above): -y = n ln2 + r with |r| <= ln2 / 2, e^r by a
// minimax polynomial of degree 5 (relative error 1.7e-7 in float, below the degree-6 Taylor
// polynomial's 2.3e-7: one FMA fewer), 2^n by vscalefps with AVX-512, else through the exponent
// bits with n held to [-127, 128] (2^-127 as 0, 2^128 as inf, as vscalefps gives). Taking y rather
// than -y saves the negation: the polynomial is in r' = -r, its odd coefficients negated. Above
// 88.7 (y below -88.7) the result is +-inf (r is then meaningless, so is the sign), NaN at y = -inf
// or NaN.
HWY_INLINE V exp_neg(D d, V y) {
    const V n = hn::Round(hn::Mul(y, hn::Set(d, -1.44269504088896341f)));
    V r = hn::MulAdd(n, hn::Set(d, 0.693145751953125f), y);  // ln 2 in two parts: n ln2_hi is exact
    r = hn::MulAdd(n, hn::Set(d, 1.428606765330187045e-6f), r);
    V p = hn::MulAdd(hn::Set(d, -8.31374e-3f), r, hn::Set(d, 4.190408e-2f));
    p = hn::MulAdd(p, r, hn::Set(d, -0.16667281f));
    p = hn::MulAdd(p, r, hn::Set(d, 0.49999097f));
    p = hn::MulAdd(p, r, hn::Set(d, -0.9999998f));
    p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
#if HWY_TARGET <= HWY_AVX3
    return V{_mm512_scalef_ps(p.raw, n.raw)};  // p * 2^n in one instruction
#else
    const hn::RebindToSigned<D> di;
    const V held = hn::Min(hn::Max(n, hn::Set(d, -127.0f)), hn::Set(d, 128.0f));
    const auto scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, held), hn::Set(di, 127))));
    return hn::Mul(p, scale);
#endif
}

HWY_INLINE V sigmoid(D d, V x) {
    // 1 / (1 + exp(-x)): 1 to float precision from x = 87 on, and 0 from x = -88 down (true value
    // below 7e-39); NaN stays NaN (validate mode's poison must show).
    const V y = hn::Min(hn::Max(x, hn::Set(d, -88.0f)), hn::Set(d, 87.0f));
    const V s = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), exp_neg(d, y)));
    return hn::IfThenElse(hn::IsNaN(x), x, hn::IfThenElseZero(hn::Gt(x, hn::Set(d, -88.0f)), s));
}

HWY_INLINE V silu(D d, V x) {
    // x / (1 + exp(-x)), the conv's activation, so as few operations as it can be: three fewer than
    // x * sigmoid(x), one rounding fewer. Only x's top needs holding (exp(-87) is 1.6e-38, so x at
    // 1 + that is x). Below -88.7 exp(-x) is +-inf, so the result is a zero (the true value is
    // under 1e-36 in magnitude); at -inf it is NaN, as x * sigmoid(x) gives; NaN is carried by the
    // numerator. Checked on every float (2.4e-7 relative at worst).
    return hn::Div(x, hn::Add(hn::Set(d, 1.0f), exp_neg(d, hn::Min(x, hn::Set(d, 87.0f)))));
}

void UnaryImpl(Unary op, const float* a, float* out, size_t n, float lo, float hi) {
    const D d;
    const V one = hn::Set(d, 1.0f), zero = hn::Zero(d);
    switch (op) {
        case Unary::Neg: map_unary(a, out, n, [&](V x) { return hn::Neg(x); }); return;
        case Unary::Abs: map_unary(a, out, n, [&](V x) { return hn::Abs(x); }); return;
        case Unary::Exp: map_unary(a, out, n, [&](V x) { return hn::Exp(d, x); }); return;
        case Unary::Log: map_unary(a, out, n, [&](V x) { return hn::Log(d, x); }); return;
        case Unary::Sqrt: map_unary(a, out, n, [&](V x) { return hn::Sqrt(x); }); return;
        case Unary::Rsqrt: map_unary(a, out, n, [&](V x) { return hn::Div(one, hn::Sqrt(x)); }); return;
        case Unary::Recip: map_unary(a, out, n, [&](V x) { return hn::Div(one, x); }); return;
        case Unary::Square: map_unary(a, out, n, [&](V x) { return hn::Mul(x, x); }); return;
        case Unary::Sigmoid: map_unary(a, out, n, [&](V x) { return sigmoid(d, x); }); return;
        case Unary::Silu: map_unary(a, out, n, [&](V x) { return silu(d, x); }); return;
        case Unary::Relu: map_unary(a, out, n, [&](V x) { return hn::Max(x, zero); }); return;
        case Unary::Tanh: map_unary(a, out, n, [&](V x) { return hn::Tanh(d, x); }); return;
        case Unary::Clamp: {
            const V vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
            map_unary(a, out, n, [&](V x) { return hn::Min(hn::Max(x, vlo), vhi); });
            return;
        }
        case Unary::Copy:
            if (a != out) std::memmove(out, a, n * sizeof(float));
            return;
        case Unary::Sign:
            for (size_t i = 0; i < n; ++i) out[i] = a[i] > 0.0f ? 1.0f : a[i] < 0.0f ? -1.0f : 0.0f;
            return;
        case Unary::Gelu:
            // Exact (erf) GELU as PyTorch's default; not a hot path, so plain libm.
            for (size_t i = 0; i < n; ++i) out[i] = 0.5f * a[i] * (1.0f + std::erf(a[i] * 0.70710678118654752f));
            return;
    }
}

void BinaryActivationImpl(Binary op, const float* a, Unary activation, const float* b, float* out, size_t n) {
    const D d;
    const V zero = hn::Zero(d);
    with_binary(op, [&](auto f) {
        auto fused = [&](auto g) { map_binary(a, b, out, n, [&](V x, V y) { return f(x, g(y)); }); };
        switch (activation) {
            case Unary::Exp: fused([&](V y) { return hn::Exp(d, y); }); return;
            case Unary::Sigmoid: fused([&](V y) { return sigmoid(d, y); }); return;
            case Unary::Silu: fused([&](V y) { return silu(d, y); }); return;
            case Unary::Relu: fused([&](V y) { return hn::Max(y, zero); }); return;
            case Unary::Tanh: fused([&](V y) { return hn::Tanh(d, y); }); return;
            default: HWY_ASSERT(false);  // the caller checks fusable_activation()
        }
    });
}

// C[MR x NV*L] (+)= A[MR x K] * B[K x NV*L]: MR*NV accumulators stay in registers.
template <size_t MR, size_t NV>
HWY_INLINE void micro_kernel(const float* HWY_RESTRICT a, size_t lda, const float* HWY_RESTRICT b, size_t ldb,
                             float* HWY_RESTRICT c, size_t ldc, size_t k, bool accumulate) {
    const D d;
    const size_t L = hn::Lanes(d);
    V acc[MR][NV];
    for (size_t i = 0; i < MR; ++i)
        for (size_t v = 0; v < NV; ++v) acc[i][v] = accumulate ? hn::LoadU(d, c + i * ldc + v * L) : hn::Zero(d);
    for (size_t p = 0; p < k; ++p) {
        V bv[NV];
        for (size_t v = 0; v < NV; ++v) bv[v] = hn::LoadU(d, b + p * ldb + v * L);
        for (size_t i = 0; i < MR; ++i) {
            const V av = hn::Set(d, a[i * lda + p]);
            for (size_t v = 0; v < NV; ++v) acc[i][v] = hn::MulAdd(av, bv[v], acc[i][v]);
        }
    }
    for (size_t i = 0; i < MR; ++i)
        for (size_t v = 0; v < NV; ++v) hn::StoreU(acc[i][v], d, c + i * ldc + v * L);
}

template <size_t NV>
HWY_INLINE void row_panel(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t k,
                          bool accumulate) {
    constexpr size_t MR = 6;
    size_t i = 0;
    for (; i + MR <= m; i += MR) micro_kernel<MR, NV>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, accumulate);
    const float* ar = a + i * lda;
    float* cr = c + i * ldc;
    switch (m - i) {
        case 5: micro_kernel<5, NV>(ar, lda, b, ldb, cr, ldc, k, accumulate); break;
        case 4: micro_kernel<4, NV>(ar, lda, b, ldb, cr, ldc, k, accumulate); break;
        case 3: micro_kernel<3, NV>(ar, lda, b, ldb, cr, ldc, k, accumulate); break;
        case 2: micro_kernel<2, NV>(ar, lda, b, ldb, cr, ldc, k, accumulate); break;
        case 1: micro_kernel<1, NV>(ar, lda, b, ldb, cr, ldc, k, accumulate); break;
        default: break;
    }
}

void MatmulImpl(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t k,
                bool accumulate) {
    const D d;
    const size_t L = hn::Lanes(d);
    // With 32 vector registers (AVX-512) a 6 x 4-vector tile of C fits; with 16 (AVX2), 6 x 2.
    constexpr size_t kWide = HWY_TARGET <= HWY_AVX3 ? 4 : 2;
    // K in chunks so the B panel being streamed stays in L1.
    constexpr size_t KC = 128;
    for (size_t p0 = 0; p0 < k; p0 += KC) {
        const size_t kc = k - p0 < KC ? k - p0 : KC;
        const bool acc = accumulate || p0 > 0;
        size_t j = 0;
        for (; j + kWide * L <= n; j += kWide * L)
            row_panel<kWide>(a + p0, lda, b + p0 * ldb + j, ldb, c + j, ldc, m, kc, acc);
        for (; j + L <= n; j += L) row_panel<1>(a + p0, lda, b + p0 * ldb + j, ldb, c + j, ldc, m, kc, acc);
        for (; j < n; ++j)  // columns that do not fill a vector (never for whole tiles)
            for (size_t i = 0; i < m; ++i) {
                float s = acc ? c[i * ldc + j] : 0.0f;
                for (size_t p = 0; p < kc; ++p) s += a[i * lda + p0 + p] * b[(p0 + p) * ldb + j];
                c[i * ldc + j] = s;
            }
    }
}

void RowReduceImpl(bool max, const float* a, size_t ld, size_t rows, size_t cols, float* out) {
    const D d;
    const size_t L = hn::Lanes(d);
    for (size_t r = 0; r < rows; ++r) {
        const float* row = a + r * ld;
        size_t c = 0;
        if (max) {
            V m = hn::Set(d, -INFINITY);
            for (; c + L <= cols; c += L) m = hn::Max(m, hn::LoadU(d, row + c));
            float s = hn::GetLane(hn::MaxOfLanes(d, m));
            for (; c < cols; ++c) s = row[c] > s ? row[c] : s;
            out[r] = s;
        } else {
            V s0 = hn::Zero(d), s1 = hn::Zero(d);
            for (; c + 2 * L <= cols; c += 2 * L) {
                s0 = hn::Add(s0, hn::LoadU(d, row + c));
                s1 = hn::Add(s1, hn::LoadU(d, row + c + L));
            }
            for (; c + L <= cols; c += L) s0 = hn::Add(s0, hn::LoadU(d, row + c));
            float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
            for (; c < cols; ++c) s += row[c];
            out[r] = s;
        }
    }
}

void MultiplyAddImpl(const float* a, const float* b, const float* c, float* out, size_t n) {
    const D d;
    const size_t L = hn::Lanes(d);
    size_t i = 0;
    for (; i + L <= n; i += L)
        hn::StoreU(hn::MulAdd(hn::LoadU(d, b + i), hn::LoadU(d, c + i), hn::LoadU(d, a + i)), d, out + i);
    for (; i < n; ++i) out[i] = a[i] + b[i] * c[i];
}

void MultiplyAddPerColImpl(const float* a, const float* b, const float* per_col, float* out, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r) MultiplyAddImpl(a + r * cols, b + r * cols, per_col, out + r * cols, cols);
}

// Rows of base + x[0] * w[0] + x[1] * w[1] + ... handed vector by vector to emit(r, c, acc): with the number of terms known at compile time, the row and weight
// pointers live in registers. cols is a whole number of tiles, so of vectors.
template <size_t T, class Emit>
HWY_INLINE void sum_of_products_rows(const float* base, const float* const* x_rows, const float* const* w, size_t rows,
                                     size_t cols, Emit emit) {
    const D d;
    const size_t L = hn::Lanes(d);
    HWY_DASSERT(cols % L == 0);
    const float* wt[T];
    for (size_t t = 0; t < T; ++t) wt[t] = w[t];
    for (size_t r = 0; r < rows; ++r) {
        background_reads.issue(cols / L);  // a line of each per vector row segment (prefetch.hpp)
        background_writes.issue(cols / L);
        const float* x[T];
        for (size_t t = 0; t < T; ++t) x[t] = x_rows[t * rows + r];
        const float* base_row = base ? base + r * cols : nullptr;
        auto terms_from = [&](size_t c, size_t first, V acc) HWY_ATTR {
            for (size_t t = first; t < T; ++t) acc = hn::MulAdd(hn::LoadU(d, x[t] + c), hn::LoadU(d, wt[t] + c), acc);
            return acc;
        };
        if (base) {
            for (size_t c = 0; c < cols; c += L) emit(r, c, terms_from(c, 0, hn::LoadU(d, base_row + c)));
        } else {
            for (size_t c = 0; c < cols; c += L) emit(r, c, terms_from(c, 1, hn::Mul(hn::LoadU(d, x[0] + c), hn::LoadU(d, wt[0] + c))));
        }
    }
}

template <class Emit>
HWY_FLATTEN void sum_of_products_dispatch(const float* base, const float* const* x_rows, const float* const* w, size_t terms,
                                          size_t rows, size_t cols, Emit emit) {
    switch (terms) {
        case 1: return sum_of_products_rows<1>(base, x_rows, w, rows, cols, emit);
        case 2: return sum_of_products_rows<2>(base, x_rows, w, rows, cols, emit);
        case 3: return sum_of_products_rows<3>(base, x_rows, w, rows, cols, emit);
        case 4: return sum_of_products_rows<4>(base, x_rows, w, rows, cols, emit);
        case 5: return sum_of_products_rows<5>(base, x_rows, w, rows, cols, emit);
        case 6: return sum_of_products_rows<6>(base, x_rows, w, rows, cols, emit);
        case 7: return sum_of_products_rows<7>(base, x_rows, w, rows, cols, emit);
        case 8: return sum_of_products_rows<8>(base, x_rows, w, rows, cols, emit);
    }
    HWY_ASSERT(false);  // at most kMaxProductTerms
}

void SumOfProductsPerColImpl(const float* base, const float* const* x_rows, const float* const* w, size_t terms,
                             float* out, size_t rows, size_t cols) {
    const D d;
    sum_of_products_dispatch(base, x_rows, w, terms, rows, cols,
                             [out, cols, d](size_t r, size_t c, V acc) HWY_ATTR { hn::StoreU(acc, d, out + r * cols + c); });
}

void SumOfProductsActivationImpl(Binary op, const float* a, size_t lda, Unary activation, const float* base,
                                 const float* const* x_rows, const float* const* w, size_t terms, float* out, size_t rows,
                                 size_t cols) {
    const D d;
    const V zero = hn::Zero(d);
    with_binary(op, [&](auto f) {
        auto fused = [&](auto g) {
            sum_of_products_dispatch(base, x_rows, w, terms, rows, cols, [=](size_t r, size_t c, V acc) HWY_ATTR {
                hn::StoreU(f(hn::LoadU(d, a + r * lda + c), g(acc)), d, out + r * cols + c);
            });
        };
        switch (activation) {
            case Unary::Exp: fused([d](V y) HWY_ATTR { return hn::Exp(d, y); }); return;
            case Unary::Sigmoid: fused([d](V y) HWY_ATTR { return sigmoid(d, y); }); return;
            case Unary::Silu: fused([d](V y) HWY_ATTR { return silu(d, y); }); return;
            case Unary::Relu: fused([zero](V y) HWY_ATTR { return hn::Max(y, zero); }); return;
            case Unary::Tanh: fused([d](V y) HWY_ATTR { return hn::Tanh(d, y); }); return;
            default: HWY_ASSERT(false);  // the caller checks fusable_activation()
        }
    });
}

void ScaleRowsColsImpl(const float* x, size_t ldx, const float* per_row, const float* per_col, float* out, size_t rows,
                       size_t cols) {
    const D d;
    const size_t L = hn::Lanes(d);
    for (size_t r = 0; r < rows; ++r) {
        const V s = hn::Set(d, per_row[r]);
        const float* xr = x + r * ldx;
        float* o = out + r * cols;
        size_t c = 0;
        for (; c + L <= cols; c += L) hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, xr + c), s), hn::LoadU(d, per_col + c)), d, o + c);
        for (; c < cols; ++c) o[c] = xr[c] * per_row[r] * per_col[c];
    }
}

// out[r] = sum_c a[r, c] * weight(c) * b[r, c], weight(c) = (a * w)[c] rounded as its own product.
template <class Weigh>
HWY_INLINE void row_dots(const float* a, size_t lda, const float* b, size_t ldb, size_t rows, size_t cols, float* out,
                         Weigh weigh) {
    const D d;
    const size_t L = hn::Lanes(d);
    for (size_t r = 0; r < rows; ++r) {
        background_reads.issue(cols / L);
        background_writes.issue(cols / L);
        const float* x = a + r * lda;
        const float* y = b + r * ldb;
        if (r + kRowsAhead < rows) {  // a deferred read's rows (prefetch.hpp)
            if (lda != cols) prefetch_row_ahead(x, lda, cols);
            if (ldb != cols && b != a) prefetch_row_ahead(y, ldb, cols);
        }
        V s0 = hn::Zero(d), s1 = hn::Zero(d);
        size_t c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            s0 = hn::MulAdd(weigh(hn::LoadU(d, x + c), c), hn::LoadU(d, y + c), s0);
            s1 = hn::MulAdd(weigh(hn::LoadU(d, x + c + L), c + L), hn::LoadU(d, y + c + L), s1);
        }
        for (; c + L <= cols; c += L) s0 = hn::MulAdd(weigh(hn::LoadU(d, x + c), c), hn::LoadU(d, y + c), s0);
        float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
        if (c < cols) {  // the tail through a vector-sized buffer
            HWY_ALIGN float tx[hn::MaxLanes(d)] = {}, ty[hn::MaxLanes(d)] = {}, t[hn::MaxLanes(d)];
            for (size_t j = c; j < cols; ++j) tx[j - c] = x[j], ty[j - c] = y[j];
            hn::Store(weigh(hn::Load(d, tx), c), d, t);
            for (size_t j = c; j < cols; ++j) sum += t[j - c] * ty[j - c];
        }
        out[r] = sum;
    }
}

void RowDotImpl(const float* a, size_t lda, const float* b, size_t ldb, size_t rows, size_t cols, float* out) {
    row_dots(a, lda, b, ldb, rows, cols, out, [](V x, size_t) HWY_ATTR { return x; });
}

void RowDotWeightedImpl(const float* a, size_t lda, const float* per_col, const float* b, size_t ldb, size_t rows,
                        size_t cols, float* out) {
    const D d;
    const size_t L = hn::Lanes(d);
    row_dots(a, lda, b, ldb, rows, cols, out, [&](V x, size_t c) HWY_ATTR {
        if (c + L <= cols) return hn::Mul(x, hn::LoadU(d, per_col + c));
        HWY_ALIGN float tw[hn::MaxLanes(d)] = {};
        for (size_t j = c; j < cols; ++j) tw[j - c] = per_col[j];
        return hn::Mul(x, hn::Load(d, tw));
    });
}

void Bf16ToF32Impl(const uint16_t* in, float* out, size_t n) {
    const hn::ScalableTag<uint32_t> du;
    const D d;
    const hn::Rebind<uint16_t, decltype(du)> d16;
    const size_t L = hn::Lanes(du);
    size_t i = 0;
    for (; i + L <= n; i += L) {
        auto w = hn::PromoteTo(du, hn::LoadU(d16, in + i));
        hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(w)), d, out + i);
    }
    for (; i < n; ++i) out[i] = bf16_bits_to_float(in[i]);
}

void F32ToBf16Impl(const float* in, uint16_t* out, size_t n) {
    // Scalar round-to-nearest-even: exact and NaN-safe; the compiler vectorises it.
    for (size_t i = 0; i < n; ++i) out[i] = float_to_bf16_bits(in[i]);
}

// Rows of bytes from src to dst, four vectors at a time. kStream: non-temporal stores (the
// destination is not read again soon), which need a vector-aligned address, so each row's bytes up
// to the first vector boundary go by memcpy. prefetch_ahead: rows ahead to prefetch (0: none).
template <bool kStream, bool kFence = true>
HWY_INLINE void copy_rows_of_bytes(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes,
                                   size_t rows, size_t prefetch_ahead) {
    const hn::ScalableTag<uint8_t> d;
    const size_t L = hn::Lanes(d);
    auto put = [d](auto v, uint8_t* p) HWY_ATTR {
        if constexpr (kStream)
            hn::Stream(v, d, p);
        else
            hn::StoreU(v, d, p);
    };
    for (size_t r = 0; r < rows; ++r) {
        auto* out = static_cast<uint8_t*>(dst) + r * dst_stride;
        const auto* in = static_cast<const uint8_t*>(src) + r * src_stride;
        if (prefetch_ahead && r + prefetch_ahead < rows)
            for (size_t b = 0; b < row_bytes; b += 64) hwy::Prefetch(in + prefetch_ahead * src_stride + b);
        size_t i = 0;
        if constexpr (kStream) {
            i = std::min((L - reinterpret_cast<uintptr_t>(out) % L) % L, row_bytes);
            std::memcpy(out, in, i);
        }
        for (; i + 4 * L <= row_bytes; i += 4 * L) {
            put(hn::LoadU(d, in + i), out + i);
            put(hn::LoadU(d, in + i + L), out + i + L);
            put(hn::LoadU(d, in + i + 2 * L), out + i + 2 * L);
            put(hn::LoadU(d, in + i + 3 * L), out + i + 3 * L);
        }
        for (; i + L <= row_bytes; i += L) put(hn::LoadU(d, in + i), out + i);
        std::memcpy(out + i, in + i, row_bytes - i);
    }
    if constexpr (kStream && kFence) hwy::FlushStream();
}

void StreamCopyUnfencedImpl(void* dst, const void* src, size_t bytes) {
    copy_rows_of_bytes<true, false>(dst, 0, src, 0, bytes, 1, 0);
}

void StreamCopyRowsImpl(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes,
                        size_t rows) {
    copy_rows_of_bytes<true>(dst, dst_stride, src, src_stride, row_bytes, rows, 0);
}

void CopyRowsImpl(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes, size_t rows,
                  size_t prefetch_ahead) {
    copy_rows_of_bytes<false>(dst, dst_stride, src, src_stride, row_bytes, rows, prefetch_ahead);
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace ttl::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ttl::simd {

HWY_EXPORT(BinaryImpl);
HWY_EXPORT(BinaryScalarImpl);
HWY_EXPORT(BinaryPerRowImpl);
HWY_EXPORT(BinaryPerColImpl);
HWY_EXPORT(UnaryImpl);
HWY_EXPORT(MatmulImpl);
HWY_EXPORT(RowReduceImpl);
HWY_EXPORT(MultiplyAddImpl);
HWY_EXPORT(MultiplyAddPerColImpl);
HWY_EXPORT(RowDotImpl);
HWY_EXPORT(RowDotWeightedImpl);
HWY_EXPORT(ScaleRowsColsImpl);
HWY_EXPORT(BinaryActivationImpl);
HWY_EXPORT(SumOfProductsPerColImpl);
HWY_EXPORT(SumOfProductsActivationImpl);
HWY_EXPORT(Bf16ToF32Impl);
HWY_EXPORT(F32ToBf16Impl);
HWY_EXPORT(StreamCopyRowsImpl);
HWY_EXPORT(CopyRowsImpl);
HWY_EXPORT(StreamCopyUnfencedImpl);
HWY_EXPORT(TargetNameImpl);

bool fusable_activation(Unary op) {
    return op == Unary::Exp || op == Unary::Sigmoid || op == Unary::Silu || op == Unary::Relu || op == Unary::Tanh;
}
void binary_activation(Binary op, const float* a, Unary activation, const float* b, float* out, size_t n) {
    HWY_DYNAMIC_DISPATCH(BinaryActivationImpl)(op, a, activation, b, out, n);
}
void binary(Binary op, const float* a, const float* b, float* out, size_t n) {
    HWY_DYNAMIC_DISPATCH(BinaryImpl)(op, a, b, out, n);
}
void binary_scalar(Binary op, const float* a, float s, float* out, size_t n, bool scalar_first) {
    HWY_DYNAMIC_DISPATCH(BinaryScalarImpl)(op, a, s, out, n, scalar_first);
}
void binary_per_row(Binary op, const float* a, size_t lda, const float* per_row, float* out, size_t rows, size_t cols,
                    bool cold_rows) {
    HWY_DYNAMIC_DISPATCH(BinaryPerRowImpl)(op, a, lda, per_row, out, rows, cols, cold_rows);
}
void binary_per_col(Binary op, const float* a, const float* per_col, float* out, size_t rows, size_t cols) {
    HWY_DYNAMIC_DISPATCH(BinaryPerColImpl)(op, a, per_col, out, rows, cols);
}
void unary(Unary op, const float* a, float* out, size_t n, float lo, float hi) {
    HWY_DYNAMIC_DISPATCH(UnaryImpl)(op, a, out, n, lo, hi);
}
void matmul(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t k,
            bool accumulate) {
    HWY_DYNAMIC_DISPATCH(MatmulImpl)(a, lda, b, ldb, c, ldc, m, n, k, accumulate);
}
void row_reduce(bool max, const float* a, size_t ld, size_t rows, size_t cols, float* out) {
    HWY_DYNAMIC_DISPATCH(RowReduceImpl)(max, a, ld, rows, cols, out);
}
void multiply_add(const float* a, const float* b, const float* c, float* out, size_t n) {
    HWY_DYNAMIC_DISPATCH(MultiplyAddImpl)(a, b, c, out, n);
}
void multiply_add_per_col(const float* a, const float* b, const float* per_col, float* out, size_t rows, size_t cols) {
    HWY_DYNAMIC_DISPATCH(MultiplyAddPerColImpl)(a, b, per_col, out, rows, cols);
}
void scale_rows_cols(const float* x, size_t ldx, const float* per_row, const float* per_col, float* out, size_t rows,
                     size_t cols) {
    HWY_DYNAMIC_DISPATCH(ScaleRowsColsImpl)(x, ldx, per_row, per_col, out, rows, cols);
}
void sum_of_products_per_col(const float* base, const float* const* x_rows, const float* const* w, size_t terms,
                             float* out, size_t rows, size_t cols) {
    HWY_DYNAMIC_DISPATCH(SumOfProductsPerColImpl)(base, x_rows, w, terms, out, rows, cols);
}
void sum_of_products_activation(Binary op, const float* a, size_t lda, Unary activation, const float* base,
                                const float* const* x_rows, const float* const* w, size_t terms, float* out, size_t rows,
                                size_t cols) {
    HWY_DYNAMIC_DISPATCH(SumOfProductsActivationImpl)(op, a, lda, activation, base, x_rows, w, terms, out, rows, cols);
}
void row_dot_weighted(const float* a, size_t lda, const float* per_col, const float* b, size_t ldb, size_t rows,
                      size_t cols, float* out) {
    HWY_DYNAMIC_DISPATCH(RowDotWeightedImpl)(a, lda, per_col, b, ldb, rows, cols, out);
}
void row_dot(const float* a, size_t lda, const float* b, size_t ldb, size_t rows, size_t cols, float* out) {
    HWY_DYNAMIC_DISPATCH(RowDotImpl)(a, lda, b, ldb, rows, cols, out);
}
void bf16_to_f32(const uint16_t* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(Bf16ToF32Impl)(in, out, n); }
void f32_to_bf16(const float* in, uint16_t* out, size_t n) { HWY_DYNAMIC_DISPATCH(F32ToBf16Impl)(in, out, n); }
void copy_rows(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes, size_t rows,
               size_t prefetch_ahead) {
    HWY_DYNAMIC_DISPATCH(CopyRowsImpl)(dst, dst_stride, src, src_stride, row_bytes, rows, prefetch_ahead);
}
void stream_copy_rows(void* dst, size_t dst_stride, const void* src, size_t src_stride, size_t row_bytes, size_t rows) {
    HWY_DYNAMIC_DISPATCH(StreamCopyRowsImpl)(dst, dst_stride, src, src_stride, row_bytes, rows);
}
void stream_copy_unfenced(void* dst, const void* src, size_t bytes) {
    HWY_DYNAMIC_DISPATCH(StreamCopyUnfencedImpl)(dst, src, bytes);
}
void fence_streams() { hwy::FlushStream(); }
const char* target_name() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace ttl::simd
#endif
