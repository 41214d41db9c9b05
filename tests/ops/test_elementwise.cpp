#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Inputs spread uniformly over [lo, hi] plus magnitudes from 1e-6 to the range's edge on a log scale,
// both signs where the range allows: small arguments are where relative accuracy breaks first.
Tensor spread_inputs(double lo, double hi) {
    std::vector<float> v;
    for (int i = 0; i <= 4000; ++i) v.push_back(static_cast<float>(lo + (hi - lo) * i / 4000.0));
    for (double m = 1e-6; m < std::max(std::abs(lo), std::abs(hi)); m *= 1.01) {
        if (m <= hi) v.push_back(static_cast<float>(m));
        if (-m >= lo) v.push_back(static_cast<float>(-m));
    }
    v.push_back(0.0f);
    // An odd length, so that the vector tail is exercised too.
    if (v.size() % 2 == 0) v.push_back(static_cast<float>(hi));
    return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}

double gelu_erf(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double gelu_tanh_identity(double x) {
    // 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)): the literal form loses all digits in double below x = -6.
    const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
    return x / (1.0 + std::exp(-2.0 * u));
}

struct UnaryCase {
    UnaryOp op;
    double (*reference)(double);
    double lo, hi;     // input range with normal (not subnormal) float results
    double tolerance;  // max relative error against fp64
};

const UnaryCase kUnaryCases[] = {
    {UnaryOp::Neg, [](double x) { return -x; }, -1e30, 1e30, 0.0},
    {UnaryOp::Abs, [](double x) { return std::abs(x); }, -1e30, 1e30, 0.0},
    {UnaryOp::Exp, [](double x) { return std::exp(x); }, -87.0, 88.5, 1e-6},
    {UnaryOp::Log, [](double x) { return std::log(x); }, 1e-30, 1e30, 1e-6},
    {UnaryOp::Sqrt, [](double x) { return std::sqrt(x); }, 0.0, 1e30, 1e-7},
    {UnaryOp::Rsqrt, [](double x) { return 1.0 / std::sqrt(x); }, 1e-30, 1e30, 2e-7},
    {UnaryOp::Reciprocal, [](double x) { return 1.0 / x; }, 1e-30, 1e30, 1e-7},
    {UnaryOp::Sigmoid, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -80.0, 80.0, 1e-6},
    {UnaryOp::Silu, [](double x) { return x / (1.0 + std::exp(-x)); }, -80.0, 80.0, 1e-6},
    {UnaryOp::Relu, [](double x) { return x > 0 ? x : 0.0; }, -1e30, 1e30, 0.0},
    {UnaryOp::Gelu, gelu_erf, -12.0, 1e4, 1e-6},
    // exp(-2u) amplifies the f32 rounding of its computed argument u (a few ulp) by |2u|: 3e-6 at x = -6,
    // 2e-5 at x = -9, where the result is below 1e-30. The erf form keeps its exponent exact instead.
    {UnaryOp::GeluTanh, gelu_tanh_identity, -6.0, 1e4, 4e-6},
    {UnaryOp::Tanh, [](double x) { return std::tanh(x); }, -20.0, 20.0, 1e-6},
    {UnaryOp::Square, [](double x) { return x * x; }, -1e15, 1e15, 1e-7},
};

TEST(Elementwise, UnaryOpsMatchFp64) {
    for (const UnaryCase& c : kUnaryCases) {
        SCOPED_TRACE(std::string(op_name(c.op)));
        const Tensor x = spread_inputs(c.lo, c.hi);
        std::vector<double> want;
        for (double v : values(x)) want.push_back(c.reference(v));
        const Tensor y = unary(c.op, x);
        EXPECT_EQ(y.shape(), x.shape());
        EXPECT_LE(max_relative_error(y, want), c.tolerance);
    }
}

TEST(Elementwise, GeluTanhMatchesTheLiteralFormula) {
    const Tensor x = spread_inputs(-5.0, 5.0);
    std::vector<double> want;
    for (double v : values(x))
        want.push_back(0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
    EXPECT_LE(max_relative_error(gelu_tanh(x), want), 4e-6);
}

TEST(Elementwise, UnaryEdgeCases) {
    auto at = [](UnaryOp op, float x) { return unary(op, Tensor::from_vector({x}, {1})).data<float>()[0]; };
    EXPECT_EQ(at(UnaryOp::Exp, -200.0f), 0.0f);
    EXPECT_EQ(at(UnaryOp::Exp, 89.0f), INFINITY);
    EXPECT_EQ(at(UnaryOp::Exp, 1000.0f), INFINITY);
    EXPECT_EQ(at(UnaryOp::Exp, -INFINITY), 0.0f);
    EXPECT_EQ(at(UnaryOp::Log, 0.0f), -INFINITY);
    EXPECT_EQ(at(UnaryOp::Log, INFINITY), INFINITY);
    EXPECT_TRUE(std::isnan(at(UnaryOp::Log, -1.0f)));
    EXPECT_TRUE(std::isnan(at(UnaryOp::Sqrt, -1.0f)));
    EXPECT_EQ(at(UnaryOp::Reciprocal, 0.0f), INFINITY);
    EXPECT_EQ(at(UnaryOp::Sigmoid, -200.0f), 0.0f);
    EXPECT_EQ(at(UnaryOp::Sigmoid, 200.0f), 1.0f);
    EXPECT_EQ(at(UnaryOp::Silu, 200.0f), 200.0f);
    EXPECT_EQ(at(UnaryOp::Silu, -200.0f), 0.0f);
    EXPECT_EQ(at(UnaryOp::Tanh, 50.0f), 1.0f);
    EXPECT_EQ(at(UnaryOp::Tanh, -50.0f), -1.0f);
    EXPECT_EQ(at(UnaryOp::Gelu, 30.0f), 30.0f);
    EXPECT_EQ(at(UnaryOp::Gelu, -30.0f), 0.0f);
    EXPECT_EQ(at(UnaryOp::GeluTanh, 30.0f), 30.0f);
    EXPECT_EQ(at(UnaryOp::GeluTanh, -30.0f), 0.0f);
    EXPECT_EQ(at(UnaryOp::Relu, -3.0f), 0.0f);
    // Infinities as torch: f(+inf) = +inf for the activations; x * (something -> 0) is NaN at -inf.
    for (UnaryOp op : {UnaryOp::Gelu, UnaryOp::GeluTanh, UnaryOp::Silu}) {
        EXPECT_EQ(at(op, INFINITY), INFINITY) << op_name(op);
        EXPECT_TRUE(std::isnan(at(op, -INFINITY))) << op_name(op);
    }
    EXPECT_EQ(at(UnaryOp::Sigmoid, -INFINITY), 0.0f);
    EXPECT_EQ(at(UnaryOp::Tanh, INFINITY), 1.0f);
    for (int op = 0; op < static_cast<int>(UnaryOp::Clamp); ++op) {
        SCOPED_TRACE(std::string(op_name(static_cast<UnaryOp>(op))));
        EXPECT_TRUE(std::isnan(at(static_cast<UnaryOp>(op), kNaN)));
    }
    EXPECT_TRUE(std::isnan(clamp(Tensor::from_vector({kNaN}, {1}), -1.0f, 1.0f).data<float>()[0]));
}

TEST(Elementwise, Clamp) {
    const Tensor x = random_tensor({5, 33}, 1, -3.0f, 3.0f);
    const Tensor y = clamp(x, -0.5f, 1.25f);
    const std::vector<double> in = values(x);
    std::vector<double> want;
    for (double v : in) want.push_back(std::min(std::max(v, -0.5), 1.25));
    EXPECT_EQ(max_relative_error(y, want), 0.0);
}

// fp64 reference of op(a, b) with PyTorch broadcasting, by explicit index arithmetic.
std::vector<double> broadcast_reference(BinaryOp op, const std::vector<double>& a, const Shape& sa,
                                        const std::vector<double>& b, const Shape& sb, const Shape& out) {
    auto apply = [op](double x, double y) {
        switch (op) {
            case BinaryOp::Add: return x + y;
            case BinaryOp::Sub: return x - y;
            case BinaryOp::Mul: return x * y;
            case BinaryOp::Div: return x / y;
            case BinaryOp::Maximum: return std::max(x, y);
            case BinaryOp::Minimum: return std::min(x, y);
        }
        return 0.0;
    };
    auto source_index = [&out](const Shape& s, const std::vector<int64_t>& index) {
        int64_t flat = 0;
        const size_t offset = out.size() - s.size();
        for (size_t d = 0; d < s.size(); ++d) flat = flat * s[d] + (s[d] == 1 ? 0 : index[d + offset]);
        return flat;
    };
    int64_t total = 1;
    for (int64_t d : out) total *= d;
    std::vector<double> result(total);
    std::vector<int64_t> index(out.size());
    for (int64_t i = 0; i < total; ++i) {
        int64_t rest = i;
        for (size_t d = out.size(); d-- > 0;) {
            index[d] = rest % out[d];
            rest /= out[d];
        }
        result[i] = apply(a[source_index(sa, index)], b[source_index(sb, index)]);
    }
    return result;
}

TEST(Elementwise, BinaryBroadcastingMatchesFp64) {
    struct ShapeCase {
        Shape a, b, out;
    };
    const ShapeCase cases[] = {
        {{3, 37, 45}, {3, 37, 45}, {3, 37, 45}},  // same shape
        {{3, 37, 45}, {45}, {3, 37, 45}},         // trailing vector
        {{45}, {3, 37, 45}, {3, 37, 45}},         // trailing vector on the left
        {{3, 37, 45}, {}, {3, 37, 45}},           // 0-d tensor
        {{1}, {5, 7}, {5, 7}},                    // one-element tensor
        {{3, 1, 45}, {3, 37, 45}, {3, 37, 45}},   // middle dimension
        {{37, 1}, {3, 1, 45}, {3, 37, 45}},       // both operands stretch
        {{2, 1, 3, 1}, {1, 5, 1, 7}, {2, 5, 3, 7}},
        {{1, 1, 1}, {1, 1}, {1, 1, 1}},
    };
    uint32_t seed = 10;
    for (const ShapeCase& c : cases) {
        for (BinaryOp op :
             {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum}) {
            SCOPED_TRACE(fmt::format("{} {} {}", op_name(op), ttl::shape_str(c.a), ttl::shape_str(c.b)));
            const Tensor a = random_tensor(c.a, ++seed, 0.5f, 2.0f);
            const Tensor b = random_tensor(c.b, ++seed, -2.0f, -0.5f);
            const Tensor y = binary(op, a, b);
            ASSERT_EQ(y.shape(), c.out);
            // One rounding of an exact fp64 result: within half an ulp.
            EXPECT_LE(max_relative_error(y, broadcast_reference(op, values(a), c.a, values(b), c.b, c.out)), 6e-8);
        }
    }
}

TEST(Elementwise, ScalarOperandsOnEitherSide) {
    const Tensor x = random_tensor({4, 19}, 3, 0.5f, 2.0f);
    const std::vector<double> v = values(x);
    auto each = [&v](auto f) {
        std::vector<double> r;
        for (double e : v) r.push_back(f(e));
        return r;
    };
    EXPECT_LE(max_relative_error(add(x, 2.5f), each([](double e) { return e + 2.5; })), 6e-8);
    EXPECT_LE(max_relative_error(sub(x, 2.5f), each([](double e) { return e - 2.5; })), 6e-8);
    EXPECT_LE(max_relative_error(sub(2.5f, x), each([](double e) { return 2.5 - e; })), 6e-8);
    EXPECT_LE(max_relative_error(mul(x, -3.0f), each([](double e) { return e * -3.0; })), 6e-8);
    EXPECT_LE(max_relative_error(div(x, 3.0f), each([](double e) { return e / 3.0; })), 6e-8);
    EXPECT_LE(max_relative_error(div(3.0f, x), each([](double e) { return 3.0 / e; })), 6e-8);
    EXPECT_LE(max_relative_error(maximum(x, 1.0f), each([](double e) { return std::max(e, 1.0); })), 0.0);
    EXPECT_LE(max_relative_error(minimum(1.0f, x), each([](double e) { return std::min(e, 1.0); })), 0.0);
}

TEST(Elementwise, MaximumAndMinimumPropagateNaN) {
    const Tensor a = Tensor::from_vector({kNaN, 1.0f, 2.0f}, {3});
    const Tensor b = Tensor::from_vector({0.0f, kNaN, 1.0f}, {3});
    for (const Tensor& y : {maximum(a, b), minimum(a, b)}) {
        EXPECT_TRUE(std::isnan(y.data<float>()[0]));
        EXPECT_TRUE(std::isnan(y.data<float>()[1]));
    }
    EXPECT_EQ(maximum(a, b).data<float>()[2], 2.0f);
    EXPECT_EQ(minimum(a, b).data<float>()[2], 1.0f);
}

TEST(Elementwise, Bf16InputsComputeInF32AndRoundOnce) {
    // Inputs are exact bf16 values; the only error allowed is the final rounding to bf16 (8 significant
    // bits, to nearest even): at most 2^-8 relative.
    const Tensor x = random_tensor({7, 61}, 4, -4.0f, 4.0f, DType::BF16);
    const Tensor y = silu(x);
    EXPECT_EQ(y.dtype(), DType::BF16);
    std::vector<double> want;
    for (double v : values(x)) want.push_back(v / (1.0 + std::exp(-v)));
    EXPECT_LE(max_relative_error(y, want), std::ldexp(1.0, -8));

    const Tensor w = random_tensor({61}, 5, 0.5f, 2.0f, DType::BF16);
    const Tensor p = mul(x, w);
    EXPECT_EQ(p.dtype(), DType::BF16);
    EXPECT_LE(max_relative_error(
                  p, broadcast_reference(BinaryOp::Mul, values(x), x.shape(), values(w), w.shape(), x.shape())),
              std::ldexp(1.0, -8));

    // bf16 with f32 promotes to f32: then the result is exact to f32 rounding.
    const Tensor w32 = random_tensor({61}, 6, 0.5f, 2.0f);
    const Tensor q = mul(x, w32);
    EXPECT_EQ(q.dtype(), DType::F32);
    EXPECT_LE(max_relative_error(
                  q, broadcast_reference(BinaryOp::Mul, values(x), x.shape(), values(w32), w32.shape(), x.shape())),
              6e-8);
}

TEST(Elementwise, IntoVariantsWriteInPlaceAndIntoBf16) {
    Tensor x = random_tensor({9, 17}, 7);
    const Tensor expected = silu(x);
    silu_into(x, x);
    EXPECT_TRUE(same_bytes(x, expected));

    Tensor acc = random_tensor({9, 17}, 8);
    const Tensor bias = random_tensor({17}, 9);
    const Tensor expected_sum = add(acc, bias);
    add_into(acc, acc, bias);
    EXPECT_TRUE(same_bytes(acc, expected_sum));

    Tensor out16({9, 17}, DType::BF16);
    mul_into(out16, x, 2.0f);
    EXPECT_TRUE(same_bytes(out16, mul(x, 2.0f).to(DType::BF16)));
}

TEST(Elementwise, ConversionsRoundToNearestEven) {
    // Random values plus ties (both ways), infinities, NaN, FLT_MAX (rounds up to inf), subnormals, -0.
    const Tensor random = random_tensor({1001}, 13, -1e3f, 1e3f);
    std::vector<float> v(random.span<float>().begin(), random.span<float>().end());
    for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x7f7fffffu, 0x00000001u, 0x00400000u, 0x80000000u})
        v.push_back(std::bit_cast<float>(bits));
    v.insert(v.end(), {INFINITY, -INFINITY, kNaN});
    const Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    const Tensor y = to_bf16(x);
    ASSERT_EQ(y.dtype(), DType::BF16);
    const uint16_t* bits = static_cast<const uint16_t*>(y.raw());
    for (size_t i = 0; i < v.size(); ++i) {
        if (std::isnan(v[i])) {
            EXPECT_TRUE(std::isnan(ttl::bf16_bits_to_float(bits[i])));
        } else {
            EXPECT_EQ(bits[i], ttl::float_to_bf16_bits(v[i])) << "value " << v[i];
        }
    }
    EXPECT_TRUE(same_bytes(to_f32(y), y.to(DType::F32)));
    EXPECT_EQ(to_f32(x).raw(), x.raw());  // already f32: shared, not copied
}

TEST(Elementwise, ErrorsNameOpArgumentAndShapes) {
    const Tensor a = random_tensor({2, 3}, 1), b = random_tensor({4}, 2);
    EXPECT_INVALID_ARGUMENT(add(a, b), "add: a f32[2, 3] and b f32[4] cannot be broadcast", "dimension -1: 3 vs 4");
    EXPECT_INVALID_ARGUMENT(silu(Tensor({3}, DType::I64)), "silu: x i64[3] has dtype i64; expected f32 or bf16");
    EXPECT_INVALID_ARGUMENT(mul(a, Tensor({3}, DType::I32)), "mul: b i32[3]", "expected f32 or bf16");
    Tensor wrong({2, 4});
    EXPECT_INVALID_ARGUMENT(add_into(wrong, a, a), "add_into: out f32[2, 4] does not match the result shape [2, 3]");
    Tensor ints({2, 3}, DType::I32);
    EXPECT_INVALID_ARGUMENT(exp_into(ints, a), "exp_into: out i32[2, 3] has dtype i32; expected f32 or bf16");
    EXPECT_INVALID_ARGUMENT(unary(UnaryOp::Clamp, a), "clamp", "call clamp(x, lo, hi)");
    EXPECT_INVALID_ARGUMENT(exp(Tensor()), "exp: x is an undefined tensor");
}

TEST(Elementwise, SameBitsOnOneAndTwoThreads) {
    const Tensor x = random_tensor({300, 517}, 11, -6.0f, 6.0f);
    const Tensor row = random_tensor({517}, 12);
    for (int i = 0; i < static_cast<int>(UnaryOp::Clamp); ++i) {
        const UnaryOp op = static_cast<UnaryOp>(i);
        auto [one, two] = on_one_and_two_threads([&] { return unary(op, x); });
        EXPECT_TRUE(same_bytes(one, two)) << op_name(op);
    }
    auto [one_c, two_c] = on_one_and_two_threads([&] { return clamp(x, -1.0f, 2.0f); });
    EXPECT_TRUE(same_bytes(one_c, two_c));
    auto [one, two] = on_one_and_two_threads([&] { return div(x, row); });
    EXPECT_TRUE(same_bytes(one, two));
    auto [one16, two16] = on_one_and_two_threads([&] { return to_bf16(x); });
    EXPECT_TRUE(same_bytes(one16, two16));
}

}  // namespace
}  // namespace ttlm::ops::test
