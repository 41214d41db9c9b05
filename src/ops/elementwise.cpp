#include "ops/elementwise.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "ops/detail.hpp"
#include "ops/simd_kernels.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

std::string_view op_name(UnaryOp op) {
    static constexpr std::array<std::string_view, 15> names = {"neg",   "abs",        "exp",     "log",    "sqrt",
                                                               "rsqrt", "reciprocal", "sigmoid", "silu",   "relu",
                                                               "gelu",  "gelu_tanh",  "tanh",    "square", "clamp"};
    return names.at(static_cast<size_t>(op));
}

std::string_view op_name(BinaryOp op) {
    static constexpr std::array<std::string_view, 6> names = {"add", "sub", "mul", "div", "maximum", "minimum"};
    return names.at(static_cast<size_t>(op));
}

namespace {

// Converts between f32 and bf16 storage of the same shape, in parallel.
void convert_storage(const Tensor& x, Tensor& out) {
    if (x.dtype() == out.dtype()) {
        if (x.raw() != out.raw()) std::memcpy(out.raw(), x.raw(), x.nbytes());
        return;
    }
    runtime::parallel_for(
        x.numel(),
        [&](int64_t begin, int64_t end) {
            if (x.dtype() == DType::BF16)
                simd::bf16_to_f32(static_cast<const uint16_t*>(x.raw()) + begin, out.data<float>() + begin,
                                  end - begin);
            else
                simd::f32_to_bf16(x.data<float>() + begin, static_cast<uint16_t*>(out.raw()) + begin, end - begin);
        },
        detail::kElementGrain);
}

// A binary operand: a tensor, or a float scalar (shape []).
struct Operand {
    const Tensor* tensor = nullptr;
    float scalar = 0.0f;

    Shape shape() const { return tensor ? tensor->shape() : Shape{}; }
    bool is_bf16() const { return tensor && tensor->dtype() == DType::BF16; }
    std::string describe() const { return tensor ? tensor->describe() : fmt::format("scalar {}", scalar); }
};

Shape broadcast_shape(BinaryOp op, const Operand& a, const Operand& b) {
    const Shape sa = a.shape(), sb = b.shape();
    const size_t rank = std::max(sa.size(), sb.size());
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        // i counts from the last dimension.
        const int64_t da = i < sa.size() ? sa[sa.size() - 1 - i] : 1;
        const int64_t db = i < sb.size() ? sb[sb.size() - 1 - i] : 1;
        if (da != db && da != 1 && db != 1)
            fail("{}: a {} and b {} cannot be broadcast together (dimension -{}: {} vs {})", op_name(op), a.describe(),
                 b.describe(), i + 1, da, db);
        out[rank - 1 - i] = da == 1 ? db : da;
    }
    return out;
}

// The result's dimensions with size-1 ones dropped and neighbours merged wherever both operands are
// laid out contiguously across them. The innermost dimension then has stride 1 (or 0: broadcast)
// in each operand, which is what the vector kernels take.
struct BroadcastLoop {
    std::vector<int64_t> sizes;
    std::vector<int64_t> a_strides, b_strides;  // in elements; 0 along broadcast dimensions
};

std::vector<int64_t> aligned_strides(const Shape& shape, size_t rank) {
    std::vector<int64_t> strides(rank, 0);
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        strides[rank - shape.size() + i] = shape[i] == 1 ? 0 : stride;
        stride *= shape[i];
    }
    return strides;
}

BroadcastLoop plan_broadcast(const Shape& out, const Shape& a, const Shape& b) {
    const std::vector<int64_t> sa = aligned_strides(a, out.size()), sb = aligned_strides(b, out.size());
    BroadcastLoop loop;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 1) continue;
        if (!loop.sizes.empty() && loop.a_strides.back() == sa[i] * out[i] && loop.b_strides.back() == sb[i] * out[i]) {
            loop.sizes.back() *= out[i];
            loop.a_strides.back() = sa[i];
            loop.b_strides.back() = sb[i];
        } else {
            loop.sizes.push_back(out[i]);
            loop.a_strides.push_back(sa[i]);
            loop.b_strides.push_back(sb[i]);
        }
    }
    if (loop.sizes.empty()) loop = {{1}, {0}, {0}};
    return loop;
}

void run_broadcast(BinaryOp op, const BroadcastLoop& loop, const float* a, const float* b, float* y) {
    const int outer_dims = static_cast<int>(loop.sizes.size()) - 1;
    const int64_t inner = loop.sizes.back();
    const bool a_scalar = loop.a_strides.back() == 0, b_scalar = loop.b_strides.back() == 0;
    int64_t total = 1;
    for (int64_t s : loop.sizes) total *= s;

    runtime::parallel_for(
        total,
        [&](int64_t begin, int64_t end) {
            // Odometer over the outer dimensions, starting at element `begin`.
            std::vector<int64_t> index(outer_dims);
            int64_t a_offset = 0, b_offset = 0;
            int64_t rest = begin / inner;
            for (int d = outer_dims - 1; d >= 0; --d) {
                index[d] = rest % loop.sizes[d];
                rest /= loop.sizes[d];
                a_offset += index[d] * loop.a_strides[d];
                b_offset += index[d] * loop.b_strides[d];
            }
            int64_t offset = begin % inner;
            for (int64_t pos = begin; pos < end;) {
                const int64_t len = std::min(inner - offset, end - pos);
                simd::binary(op, a + a_offset + (a_scalar ? 0 : offset), a_scalar,
                             b + b_offset + (b_scalar ? 0 : offset), b_scalar, y + pos, static_cast<size_t>(len));
                pos += len;
                offset = 0;
                for (int d = outer_dims - 1; d >= 0; --d) {
                    a_offset += loop.a_strides[d];
                    b_offset += loop.b_strides[d];
                    if (++index[d] < loop.sizes[d]) break;
                    a_offset -= loop.a_strides[d] * loop.sizes[d];
                    b_offset -= loop.b_strides[d] * loop.sizes[d];
                    index[d] = 0;
                }
            }
        },
        detail::kElementGrain);
}

DType result_dtype(const Operand& a, const Operand& b) {
    const bool all_bf16 = (!a.tensor || a.is_bf16()) && (!b.tensor || b.is_bf16());
    return all_bf16 ? DType::BF16 : DType::F32;
}

void check_operand(BinaryOp op, std::string_view arg, const Operand& x) {
    if (x.tensor) detail::check_float(op_name(op), arg, *x.tensor);
}

// Computes op(a, b) into `out`, whose shape and dtype the caller has checked.
void run_binary(Tensor& out, BinaryOp op, const Operand& a, const Operand& b) {
    // bf16 operands are widened once up front; a scalar is a one-element f32 array.
    auto f32_data = [](const Operand& x, Tensor& widened) -> const float* {
        if (!x.tensor) return &x.scalar;
        widened = to_f32(*x.tensor);
        return widened.data<float>();
    };
    Tensor a_f32, b_f32;
    const float* a_data = f32_data(a, a_f32);
    const float* b_data = f32_data(b, b_f32);
    const BroadcastLoop loop = plan_broadcast(out.shape(), a.shape(), b.shape());
    detail::store_f32_result(out, [&](float* y) { run_broadcast(op, loop, a_data, b_data, y); });
}

Tensor binary_new(BinaryOp op, const Operand& a, const Operand& b) {
    check_operand(op, "a", a);
    check_operand(op, "b", b);
    Tensor out = Tensor::empty(broadcast_shape(op, a, b), result_dtype(a, b));
    run_binary(out, op, a, b);
    return out;
}

void binary_into_checked(Tensor& out, BinaryOp op, const Operand& a, const Operand& b) {
    check_operand(op, "a", a);
    check_operand(op, "b", b);
    detail::check_out(fmt::format("{}_into", op_name(op)), out, broadcast_shape(op, a, b), {DType::F32, DType::BF16});
    run_binary(out, op, a, b);
}

// Computes op(x) into `out`, whose shape and dtype the caller has checked.
void run_unary(Tensor& out, UnaryOp op, const Tensor& x, float lo, float hi) {
    const Tensor x_f32 = to_f32(x);
    const float* src = x_f32.data<float>();
    detail::store_f32_result(out, [&](float* y) {
        runtime::parallel_for(
            x.numel(),
            [&](int64_t begin, int64_t end) { simd::unary(op, src + begin, y + begin, end - begin, lo, hi); },
            detail::kElementGrain);
    });
}

void check_unary(std::string_view name, UnaryOp op, const Tensor& x) {
    if (op == UnaryOp::Clamp) fail("{}: UnaryOp::Clamp needs bounds; call clamp(x, lo, hi)", name);
    detail::check_float(name, "x", x);
}

}  // namespace

Tensor to_f32(const Tensor& x) {
    detail::check_float("to_f32", "x", x);
    if (x.dtype() == DType::F32) return x;
    Tensor out = Tensor::empty(x.shape(), DType::F32);
    convert_storage(x, out);
    return out;
}

Tensor to_bf16(const Tensor& x) {
    detail::check_float("to_bf16", "x", x);
    if (x.dtype() == DType::BF16) return x;
    Tensor out = Tensor::empty(x.shape(), DType::BF16);
    convert_storage(x, out);
    return out;
}

void convert_into(Tensor& out, const Tensor& x) {
    detail::check_float("convert_into", "x", x);
    detail::check_out("convert_into", out, x.shape(), {DType::F32, DType::BF16});
    convert_storage(x, out);
}

Tensor unary(UnaryOp op, const Tensor& x) {
    check_unary(op_name(op), op, x);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_unary(out, op, x, 0.0f, 0.0f);
    return out;
}

void unary_into(Tensor& out, UnaryOp op, const Tensor& x) {
    const std::string name = fmt::format("{}_into", op_name(op));
    check_unary(name, op, x);
    detail::check_out(name, out, x.shape(), {DType::F32, DType::BF16});
    run_unary(out, op, x, 0.0f, 0.0f);
}

Tensor clamp(const Tensor& x, float lo, float hi) {
    detail::check_float("clamp", "x", x);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_unary(out, UnaryOp::Clamp, x, lo, hi);
    return out;
}

void clamp_into(Tensor& out, const Tensor& x, float lo, float hi) {
    detail::check_float("clamp_into", "x", x);
    detail::check_out("clamp_into", out, x.shape(), {DType::F32, DType::BF16});
    run_unary(out, UnaryOp::Clamp, x, lo, hi);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) { return binary_new(op, {&a}, {&b}); }
Tensor binary(BinaryOp op, const Tensor& a, float b) { return binary_new(op, {&a}, {nullptr, b}); }
Tensor binary(BinaryOp op, float a, const Tensor& b) { return binary_new(op, {nullptr, a}, {&b}); }

void binary_into(Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b) {
    binary_into_checked(out, op, {&a}, {&b});
}
void binary_into(Tensor& out, BinaryOp op, const Tensor& a, float b) {
    binary_into_checked(out, op, {&a}, {nullptr, b});
}
void binary_into(Tensor& out, BinaryOp op, float a, const Tensor& b) {
    binary_into_checked(out, op, {nullptr, a}, {&b});
}

}  // namespace ttlm::ops
