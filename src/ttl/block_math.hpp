// Block math: what a compute kernel computes. Expressions over blocks are evaluated in fp32 and
// rounded to the destination buffer's dtype on store, as the chip's packer does.
//
//   o.store(a * b + c);
//   auto ss = ttl::math::reduce_sum(x * x, ttl::ReduceDim::Row);   // valid data: column 0
//   o.store(x * ttl::math::broadcast(inv, ttl::BcastDim::Col, x.shape()));
//   acc += ttl::math::matmul(a, b);
//
// Reduce results are valid only where the chip writes them (column 0 for Row, row 0 for Col,
// [0,0] for Scalar); validate mode fills the rest with NaN so that a missing broadcast fails as
// it does on hardware. Broadcast reads exactly those positions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ttl/dataflow_buffer.hpp"

namespace ttl {

// `a + b * c` (either order) is evaluated as one fused multiply-add: a single rounding, as
// std::fma.
//
// Values: an expression that reads a block must be used while that block is held (before its
// pop or push); keep a value longer by storing it into a block. Validate mode checks this.
//
// Reduce across the columns of each row (Row: result in column 0), across the rows of each
// column (Col: result in row 0), or both (Scalar: result at [0,0]).
enum class ReduceDim : uint8_t { Row, Col, Scalar };
// Replicate column 0 across the columns (Col), row 0 down the rows (Row), or [0,0] (Scalar).
enum class BcastDim : uint8_t { Row, Col, Scalar };

namespace detail {
// Pooled fp32 scratch memory, owned by the thread that allocated it.
class ScratchBuffer {
   public:
    ScratchBuffer() = default;
    explicit ScratchBuffer(size_t floats);
    ScratchBuffer(ScratchBuffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; }
    ScratchBuffer& operator=(ScratchBuffer&& o) noexcept;
    ~ScratchBuffer();
    float* get() const { return data_; }

   private:
    float* data_ = nullptr;
    size_t bytes_ = 0;
};

enum class ExprKind : uint8_t { Value, Binary, Scalar, Unary, Matmul, MultiplyAdd, ScaleRowsCols };
enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Max, Min };
enum class UnaryOp : uint8_t { Neg, Abs, Exp, Log, Sqrt, Rsqrt, Recip, Square, Sigmoid, Silu, Relu, Tanh, Gelu, Clamp, Copy, Sign };
enum class Bcast : uint8_t { None, Row, Col, Scalar };

struct ExprNode;

// An operand of an expression: fp32 data of `shape` tiles (row-major over the block), a
// broadcast view of one, a row shift of two, or an expression not evaluated yet (`pending`),
// which the consumer evaluates a few rows at a time so intermediates stay in L1.
struct DfbState;
struct Operand {
    const float* data = nullptr;
    // A view of a block's memory (validate mode checks the block is still held when it is read).
    const DfbState* view_of = nullptr;
    int view_slot = 0;
    uint32_t view_generation = 0;
    std::shared_ptr<const ScratchBuffer> owner;  // null for a view of a block's memory
    // A deferred read (ttl/copy.cpp): data's rows lie `stride` floats apart in a tensor. 0 when
    // they follow each other, as in a block. Only plain operands (no broadcast, shift or pending
    // expression) have one: whatever reshapes an operand takes it flat() first.
    size_t stride = 0;
    bool cold = false;      // a deferred read's first use: its rows come from DRAM (or the prefetches)
    TileShape shape;        // of `data`
    Bcast bcast = Bcast::None;
    TileShape view_shape;   // shape seen by users (== shape unless broadcast)
    // A row shift (row_shift): logical row i is data's row i - shift for i >= shift, else row
    // (rows - shift + i) of *prev. Evaluated on the fly by the kernels that understand it.
    int shift = 0;
    std::shared_ptr<const Operand> prev;
    std::shared_ptr<const ExprNode> pending;
};
void check_live(const Operand& v);  // validate mode: the viewed block is still held
}  // namespace detail

class BlockExpr {
   public:
    // Reading a block (compute kernels only).
    BlockExpr(const Block& block);  // NOLINT(google-explicit-constructor): blocks are values in expressions
    BlockExpr(const BlockExpr&) = default;
    BlockExpr(BlockExpr&&) noexcept = default;
    BlockExpr& operator=(const BlockExpr&) = default;
    BlockExpr& operator=(BlockExpr&&) noexcept = default;

    TileShape shape() const { return shape_; }
    // Value-level accumulation (`y = fill(0, s); y += matmul(a, b);`).
    BlockExpr& operator+=(const BlockExpr& other);

    // Internal: evaluation.
    void evaluate_into(float* out) const;  // writes shape().tiles() * 1024 floats
    bool is_matmul() const;
    detail::ExprKind kind() const;
    detail::BinaryOp binary_op() const;
    const detail::Operand& lhs() const;
    const detail::Operand& rhs() const;
    // The value as an operand: evaluated now (and remembered) unless it already is data.
    detail::Operand materialize() const;
    // The value as an operand of another expression: elementwise expressions stay pending.
    detail::Operand as_operand() const;

    static BlockExpr value(detail::Operand v);
    static BlockExpr binary(detail::BinaryOp op, detail::Operand a, detail::Operand b);
    static BlockExpr scalar(detail::BinaryOp op, detail::Operand a, float s, bool scalar_first);
    static BlockExpr unary(detail::UnaryOp op, detail::Operand a, float lo = 0, float hi = 0);
    static BlockExpr matmul(detail::Operand a, detail::Operand b);
    static BlockExpr multiply_add(detail::Operand a, detail::Operand b, detail::Operand c);  // a + b * c
    // x * per_row * per_col, with a column-broadcast and a row-broadcast operand
    static BlockExpr scale_rows_cols(detail::Operand x, detail::Operand per_row, detail::Operand per_col);

   private:
    explicit BlockExpr(std::shared_ptr<detail::ExprNode> node);
    // Shared by copies, so a value evaluated once (its memo) serves every expression using it.
    std::shared_ptr<detail::ExprNode> node_;
    TileShape shape_;
};

BlockExpr operator+(const BlockExpr& a, const BlockExpr& b);
BlockExpr operator-(const BlockExpr& a, const BlockExpr& b);
BlockExpr operator*(const BlockExpr& a, const BlockExpr& b);
BlockExpr operator/(const BlockExpr& a, const BlockExpr& b);
BlockExpr operator-(const BlockExpr& a);
BlockExpr operator+(const BlockExpr& a, float s);
BlockExpr operator-(const BlockExpr& a, float s);
BlockExpr operator*(const BlockExpr& a, float s);
BlockExpr operator/(const BlockExpr& a, float s);
BlockExpr operator+(float s, const BlockExpr& a);
BlockExpr operator-(float s, const BlockExpr& a);
BlockExpr operator*(float s, const BlockExpr& a);
BlockExpr operator/(float s, const BlockExpr& a);

namespace math {
BlockExpr abs(const BlockExpr& x);
BlockExpr neg(const BlockExpr& x);
BlockExpr exp(const BlockExpr& x);
BlockExpr log(const BlockExpr& x);
BlockExpr sqrt(const BlockExpr& x);
BlockExpr rsqrt(const BlockExpr& x);
BlockExpr recip(const BlockExpr& x);
BlockExpr square(const BlockExpr& x);
BlockExpr sigmoid(const BlockExpr& x);
BlockExpr silu(const BlockExpr& x);
BlockExpr relu(const BlockExpr& x);
BlockExpr gelu(const BlockExpr& x);
BlockExpr tanh(const BlockExpr& x);
BlockExpr max(const BlockExpr& a, const BlockExpr& b);
BlockExpr min(const BlockExpr& a, const BlockExpr& b);
BlockExpr clamp(const BlockExpr& x, float lo, float hi);
BlockExpr sign(const BlockExpr& x);  // -1, 0 or 1 (0 for NaN as PyTorch's sign)

// ttl extension: the rows of `cur` moved down by `rows`, the top `rows` filled from the bottom
// of `prev` — a causal shift along a stream of row blocks (time-major sequences). TT-Lang has
// no such op: the Engram seed pre-shifts its input on the host; on the chip a data-movement
// kernel does it with raw element reads. 0 <= rows <= block rows.
BlockExpr row_shift(const BlockExpr& prev, const BlockExpr& cur, int rows);

BlockExpr reduce_sum(const BlockExpr& x, ReduceDim dim);
BlockExpr reduce_max(const BlockExpr& x, ReduceDim dim);
// TT-Lang's older form: the scaler tile's [0,0] value multiplies the result (ones for a sum,
// 1/N for a mean).
BlockExpr reduce_sum(const BlockExpr& x, const BlockExpr& scaler, ReduceDim dim);
BlockExpr reduce_max(const BlockExpr& x, const BlockExpr& scaler, ReduceDim dim);
BlockExpr broadcast(const BlockExpr& x, BcastDim dim, TileShape shape);
BlockExpr transpose(const BlockExpr& x);
// (M, K) x (K, N) tiles -> (M, N). Any M, K, N: non-square blocks are first-class.
BlockExpr matmul(const BlockExpr& a, const BlockExpr& b);
BlockExpr fill(float value, TileShape shape);
}  // namespace math

}  // namespace ttl
