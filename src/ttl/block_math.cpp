// Block expressions: evaluated eagerly, one level lazy, so that `o.store(a op b)`, a
// broadcast operand and `o += matmul(a, b)` write straight into the destination block.
#include "ttl/block_math.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "ttl/detail/state.hpp"
#include "ttl/simd/tile_ops.hpp"

namespace ttl {

using namespace detail;

namespace detail {

namespace {
// Per-thread free lists of scratch memory by power-of-two size class. Fibers never migrate
// between threads, and a buffer freed on another thread simply joins that thread's lists.
struct ScratchPool {
    static constexpr int kClasses = 40;
    std::vector<float*> free[kClasses];
    ~ScratchPool() {
        for (auto& v : free)
            for (float* p : v) ::operator delete(p, std::align_val_t(64));
    }
};
thread_local ScratchPool t_scratch;

int size_class(size_t bytes, size_t* rounded) {
    size_t s = 4096;
    int c = 0;
    while (s < bytes) {
        s <<= 1;
        ++c;
    }
    *rounded = s;
    return c;
}
}  // namespace

ScratchBuffer::ScratchBuffer(size_t floats) {
    size_t rounded;
    int c = size_class(floats * sizeof(float), &rounded);
    bytes_ = rounded;
    auto& list = t_scratch.free[c];
    if (!list.empty()) {
        data_ = list.back();
        list.pop_back();
    } else {
        data_ = static_cast<float*>(::operator new(rounded, std::align_val_t(64)));
    }
}

ScratchBuffer& ScratchBuffer::operator=(ScratchBuffer&& o) noexcept {
    if (this != &o) {
        this->~ScratchBuffer();
        data_ = o.data_;
        bytes_ = o.bytes_;
        o.data_ = nullptr;
    }
    return *this;
}

ScratchBuffer::~ScratchBuffer() {
    if (!data_) return;
    size_t rounded;
    int c = size_class(bytes_, &rounded);
    auto& list = t_scratch.free[c];
    if (list.size() < 16)
        list.push_back(data_);
    else
        ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
}

}  // namespace detail

void detail::check_live(const Operand& v) {
    if (v.prev) check_live(*v.prev);
    if (!v.view_of || !v.view_of->node->op->validating()) return;
    const SlotState& s = v.view_of->slots[static_cast<size_t>(v.view_slot)];
    if (s.generation != v.view_generation || s.state == BlockState::Free) {
        Task* t = current_task();
        raise(ErrorKind::BlockState, t, t ? t->last_call : std::source_location::current(),
              fmt::format("an expression read a block of '{}' after that block was released: use values while their "
                          "blocks are held, or store them into a block",
                          v.view_of->spec->name));
    }
}

namespace {

constexpr size_t kT = kTileDim;

size_t elems(TileShape s) { return static_cast<size_t>(s.tiles()) * kTileElems; }

Task* task_for_math() {
    Task* t = current_task();
    if (t && t->kind != KernelKind::Compute)
        raise(ErrorKind::WrongThread, t, t->last_call,
              "block math in a data-movement kernel: expressions and store belong to the compute kernel");
    return t;
}

bool validating() {
    Task* t = current_task();
    return t && t->node->op->validating();
}

[[noreturn]] void shape_error(const std::string& what) {
    Task* t = current_task();
    raise(ErrorKind::Shape, t, t ? t->last_call : std::source_location::current(), what);
}

simd::Binary to_simd(BinaryOp op) { return static_cast<simd::Binary>(op); }

const char* binary_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::Add: return "+";
        case BinaryOp::Sub: return "-";
        case BinaryOp::Mul: return "*";
        case BinaryOp::Div: return "/";
        case BinaryOp::Max: return "max";
        case BinaryOp::Min: return "min";
    }
    return "?";
}

// Writes the broadcast view of `v` (view_shape) in full into out.
void expand(const Operand& v, float* out) {
    check_live(v);
    if (v.shift) {  // a row shift of two plain blocks
        const size_t cols = static_cast<size_t>(v.shape.cols) * kT, rows = static_cast<size_t>(v.shape.rows) * kT;
        const size_t top = static_cast<size_t>(v.shift);
        std::memcpy(out, v.prev->data + (rows - top) * cols, top * cols * sizeof(float));
        std::memcpy(out + top * cols, v.data, (rows - top) * cols * sizeof(float));
        return;
    }
    const TileShape vs = v.view_shape, ss = v.shape;
    const size_t out_cols = static_cast<size_t>(vs.cols) * kT, src_cols = static_cast<size_t>(ss.cols) * kT;
    for (int ti = 0; ti < vs.rows; ++ti)
        for (int tj = 0; tj < vs.cols; ++tj) {
            const size_t si = ss.rows == 1 ? 0 : static_cast<size_t>(ti), sj = ss.cols == 1 ? 0 : static_cast<size_t>(tj);
            const float* src = v.data + si * kT * src_cols + sj * kT;
            float* dst = out + static_cast<size_t>(ti) * kT * out_cols + static_cast<size_t>(tj) * kT;
            for (size_t r = 0; r < kT; ++r)
                for (size_t c = 0; c < kT; ++c) {
                    float x;
                    switch (v.bcast) {
                        case Bcast::Col: x = src[r * src_cols]; break;  // column 0
                        case Bcast::Row: x = src[c]; break;             // row 0
                        case Bcast::Scalar: x = src[0]; break;
                        default: x = src[r * src_cols + c]; break;
                    }
                    dst[r * out_cols + c] = x;
                }
        }
}

// A pointer to the full (non-broadcast) data of v, expanding into `scratch` if needed.
const float* full(const Operand& v, ScratchBuffer& scratch) {
    check_live(v);
    if (v.bcast == Bcast::None && v.shift == 0) return v.data;
    scratch = ScratchBuffer(elems(v.view_shape));
    expand(v, scratch.get());
    return scratch.get();
}

Operand own(ScratchBuffer buf, TileShape shape) {
    Operand o;
    o.data = buf.get();
    o.owner = std::make_shared<const ScratchBuffer>(std::move(buf));
    o.shape = o.view_shape = shape;
    return o;
}

Operand operand_of(const BlockExpr& e) { return e.materialize(); }

bool commutative(BinaryOp op) {
    return op == BinaryOp::Add || op == BinaryOp::Mul || op == BinaryOp::Max || op == BinaryOp::Min;
}

void eval_binary(BinaryOp op, const Operand& a, const Operand& b, float* out) {
    check_live(a);
    check_live(b);
    const TileShape s = a.view_shape;
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    auto plain = [](const Operand& v) { return v.bcast == Bcast::None && v.shift == 0; };
    if (plain(a) && plain(b)) {
        simd::binary(to_simd(op), a.data, b.data, out, rows * cols);
        return;
    }
    if (a.shift && b.bcast == Bcast::Row && b.shape.rows == 1 && b.shape.cols == s.cols) {
        // Row-shifted operand times a row vector: the two row ranges come from prev and cur.
        const size_t top = static_cast<size_t>(a.shift);
        simd::binary_per_col(to_simd(op), a.prev->data + (rows - top) * cols, b.data, out, top, cols);
        simd::binary_per_col(to_simd(op), a.data, b.data, out + top * cols, rows - top, cols);
        return;
    }
    if (a.bcast != Bcast::None && plain(b) && commutative(op)) {
        eval_binary(op, b, a, out);
        return;
    }
    if (plain(a)) {
        if (b.bcast == Bcast::Scalar && b.shape.tiles() == 1) {
            simd::binary_scalar(to_simd(op), a.data, b.data[0], out, rows * cols, false);
            return;
        }
        if (b.bcast == Bcast::Col && b.shape.cols == 1 && b.shape.rows == s.rows) {
            std::vector<float> per_row(rows);
            for (size_t r = 0; r < rows; ++r) per_row[r] = b.data[r * kT];
            simd::binary_per_row(to_simd(op), a.data, per_row.data(), out, rows, cols);
            return;
        }
        if (b.bcast == Bcast::Row && b.shape.rows == 1 && b.shape.cols == s.cols) {
            simd::binary_per_col(to_simd(op), a.data, b.data, out, rows, cols);
            return;
        }
    }
    ScratchBuffer sa, sb;
    simd::binary(to_simd(op), full(a, sa), full(b, sb), out, rows * cols);
}

// out = a + b * c
void eval_multiply_add(const Operand& a, const Operand& b, const Operand& c, float* out) {
    const TileShape s = a.view_shape;
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    ScratchBuffer sa;
    const float* ad = full(a, sa);
    const Operand* x = &b;
    const Operand* y = &c;
    if (x->bcast == Bcast::Row) std::swap(x, y);
    check_live(*x);
    check_live(*y);
    if (x->bcast == Bcast::None && y->bcast == Bcast::Row && y->shape.rows == 1 && y->shape.cols == s.cols) {
        if (x->shift) {
            const size_t top = static_cast<size_t>(x->shift);
            simd::multiply_add_per_col(ad, x->prev->data + (rows - top) * cols, y->data, out, top, cols);
            simd::multiply_add_per_col(ad + top * cols, x->data, y->data, out + top * cols, rows - top, cols);
        } else {
            simd::multiply_add_per_col(ad, x->data, y->data, out, rows, cols);
        }
        return;
    }
    ScratchBuffer sb, sc;
    simd::multiply_add(ad, full(b, sb), full(c, sc), out, rows * cols);
}

BlockExpr make_binary(BinaryOp op, const BlockExpr& a, const BlockExpr& b) {
    task_for_math();
    if (a.shape() != b.shape())
        shape_error(fmt::format("'{}' of blocks of {}x{} and {}x{} tiles: shapes must match; use "
                                "ttl::math::broadcast to widen a reduced block",
                                binary_name(op), a.shape().rows, a.shape().cols, b.shape().rows, b.shape().cols));
    // x * broadcast(col vector) * broadcast(row vector) (RMSNorm) in one pass.
    if (op == BinaryOp::Mul && a.kind() == ExprKind::Binary && a.binary_op() == BinaryOp::Mul) {
        auto per_row = [&](const Operand& v) { return v.bcast == Bcast::Col && v.shape.cols == 1 && v.shape.rows == a.shape().rows; };
        auto per_col = [&](const Operand& v) { return v.bcast == Bcast::Row && v.shape.rows == 1 && v.shape.cols == a.shape().cols; };
        auto plain = [](const Operand& v) { return v.bcast == Bcast::None && v.shift == 0; };
        const Operand bo = operand_of(b);
        if (per_col(bo) && plain(a.lhs()) && per_row(a.rhs())) return BlockExpr::scale_rows_cols(a.lhs(), a.rhs(), bo);
        if (per_col(bo) && plain(a.rhs()) && per_row(a.lhs())) return BlockExpr::scale_rows_cols(a.rhs(), a.lhs(), bo);
    }
    // a + b * c in one pass: keep the pending product's operands.
    if (op == BinaryOp::Add && b.kind() == ExprKind::Binary && b.binary_op() == BinaryOp::Mul)
        return BlockExpr::multiply_add(operand_of(a), b.lhs(), b.rhs());
    if (op == BinaryOp::Add && a.kind() == ExprKind::Binary && a.binary_op() == BinaryOp::Mul)
        return BlockExpr::multiply_add(operand_of(b), a.lhs(), a.rhs());
    return BlockExpr::binary(op, operand_of(a), operand_of(b));
}

BlockExpr make_scalar(BinaryOp op, const BlockExpr& a, float s, bool scalar_first) {
    task_for_math();
    return BlockExpr::scalar(op, operand_of(a), s, scalar_first);
}

BlockExpr make_unary(UnaryOp op, const BlockExpr& a, float lo = 0, float hi = 0) {
    task_for_math();
    return BlockExpr::unary(op, operand_of(a), lo, hi);
}

}  // namespace

BlockExpr::BlockExpr(const Block& block) {
    Task* t = task_for_math();
    if (!block.dfb())
        throw Error(ErrorKind::BlockState, "ttl: a moved-from or released block used in an expression");
    DfbState& d = *block.dfb();
    if (t && d.node->op->validating()) {
        SlotState& s = d.slots[static_cast<size_t>(block.slot())];
        std::source_location loc = t->last_call;
        switch (s.state) {
            case BlockState::MustWrite:
                raise(ErrorKind::BlockState, t, loc,
                      fmt::format("read of a block of '{}' that was reserved but never written (it holds garbage)",
                                  d.spec->name));
            case BlockState::CopyWriting:
                raise(ErrorKind::BlockState, t, loc,
                      fmt::format("use of a block of '{}' before its copy completed (copy at {}): call wait() on the "
                                  "transfer first",
                                  d.spec->name, where_str(s.copy_at)));
            case BlockState::Free:
                raise(ErrorKind::BlockState, t, loc,
                      fmt::format("use of a block of '{}' after it was pushed or popped", d.spec->name));
            default: break;
        }
        s.ever_read = true;
        s.state = BlockState::ReadWrite;
    }
    shape_ = block.shape();
    a_.shape = a_.view_shape = shape_;
    if (block.dtype() == DType::F32) {
        a_.data = static_cast<const float*>(block.data());
        if (d.node->op->validating()) {
            a_.view_of = &d;
            a_.view_slot = block.slot();
            a_.view_generation = d.slots[static_cast<size_t>(block.slot())].generation;
        }
    } else {
        ScratchBuffer buf(elems(shape_));
        simd::bf16_to_f32(static_cast<const uint16_t*>(block.data()), buf.get(), elems(shape_));
        a_ = own(std::move(buf), shape_);
    }
}

BlockExpr BlockExpr::value(Operand v) {
    BlockExpr e;
    e.shape_ = v.view_shape;
    e.a_ = std::move(v);
    return e;
}

BlockExpr BlockExpr::binary(BinaryOp op, Operand a, Operand b) {
    BlockExpr e;
    e.kind_ = ExprKind::Binary;
    e.binary_ = op;
    e.shape_ = a.view_shape;
    e.a_ = std::move(a);
    e.b_ = std::move(b);
    return e;
}

BlockExpr BlockExpr::scalar(BinaryOp op, Operand a, float s, bool scalar_first) {
    BlockExpr e;
    e.kind_ = ExprKind::Scalar;
    e.binary_ = op;
    e.scalar_ = s;
    e.scalar_first_ = scalar_first;
    e.shape_ = a.view_shape;
    e.a_ = std::move(a);
    return e;
}

BlockExpr BlockExpr::unary(UnaryOp op, Operand a, float lo, float hi) {
    BlockExpr e;
    e.kind_ = ExprKind::Unary;
    e.unary_ = op;
    e.lo_ = lo;
    e.hi_ = hi;
    e.shape_ = a.view_shape;
    e.a_ = std::move(a);
    return e;
}

BlockExpr BlockExpr::multiply_add(Operand a, Operand b, Operand c) {
    BlockExpr e;
    e.kind_ = ExprKind::MultiplyAdd;
    e.shape_ = a.view_shape;
    e.a_ = std::move(a);
    e.b_ = std::move(b);
    e.c_ = std::move(c);
    return e;
}

BlockExpr BlockExpr::scale_rows_cols(Operand x, Operand per_row, Operand per_col) {
    BlockExpr e;
    e.kind_ = ExprKind::ScaleRowsCols;
    e.shape_ = x.view_shape;
    e.a_ = std::move(x);
    e.b_ = std::move(per_row);
    e.c_ = std::move(per_col);
    return e;
}

BlockExpr BlockExpr::matmul(Operand a, Operand b) {
    BlockExpr e;
    e.kind_ = ExprKind::Matmul;
    e.shape_ = {a.view_shape.rows, b.view_shape.cols};
    e.a_ = std::move(a);
    e.b_ = std::move(b);
    return e;
}

void BlockExpr::evaluate_into(float* out) const {
    const size_t n = elems(shape_);
    if (memo_) {
        std::memcpy(out, memo_->get(), n * sizeof(float));
        return;
    }
    switch (kind_) {
        case ExprKind::Value:
            if (a_.bcast != Bcast::None)
                expand(a_, out);
            else if (a_.data != out)
                std::memcpy(out, a_.data, n * sizeof(float));
            return;
        case ExprKind::Binary: eval_binary(binary_, a_, b_, out); return;
        case ExprKind::MultiplyAdd: eval_multiply_add(a_, b_, c_, out); return;
        case ExprKind::ScaleRowsCols: {
            check_live(a_);
            check_live(b_);
            check_live(c_);
            const size_t rows = static_cast<size_t>(shape_.rows) * kT, cols = static_cast<size_t>(shape_.cols) * kT;
            std::vector<float> per_row(rows);
            for (size_t r = 0; r < rows; ++r) per_row[r] = b_.data[r * kT];  // column 0 of each (R, 1) tile row
            simd::scale_rows_cols(a_.data, per_row.data(), c_.data, out, rows, cols);
            return;
        }
        case ExprKind::Scalar: {
            ScratchBuffer s;
            simd::binary_scalar(to_simd(binary_), full(a_, s), scalar_, out, n, scalar_first_);
            return;
        }
        case ExprKind::Unary: {
            ScratchBuffer s;
            simd::unary(static_cast<simd::Unary>(unary_), full(a_, s), out, n, lo_, hi_);
            return;
        }
        case ExprKind::Matmul: {
            ScratchBuffer sa, sb;
            const size_t m = static_cast<size_t>(a_.view_shape.rows) * kT, k = static_cast<size_t>(a_.view_shape.cols) * kT,
                         nn = static_cast<size_t>(b_.view_shape.cols) * kT;
            simd::matmul(full(a_, sa), k, full(b_, sb), nn, out, nn, m, nn, k, false);
            return;
        }
    }
}

Operand BlockExpr::materialize() const {
    if (kind_ == ExprKind::Value) return a_;  // shares the data (a block view, or counted scratch)
    if (!memo_) {
        ScratchBuffer buf(elems(shape_));
        evaluate_into(buf.get());
        memo_ = std::make_shared<const ScratchBuffer>(std::move(buf));
    }
    Operand o;
    o.data = memo_->get();
    o.owner = memo_;
    o.shape = o.view_shape = shape_;
    return o;
}

BlockExpr& BlockExpr::operator+=(const BlockExpr& other) {
    task_for_math();
    if (other.shape() != shape_)
        shape_error(fmt::format("+= of a {}x{}-tile value into a {}x{}-tile value", other.shape().rows, other.shape().cols,
                                shape_.rows, shape_.cols));
    ScratchBuffer mine(elems(shape_)), theirs(elems(shape_));
    evaluate_into(mine.get());
    other.evaluate_into(theirs.get());
    simd::binary(simd::Binary::Add, mine.get(), theirs.get(), mine.get(), elems(shape_));
    *this = value(own(std::move(mine), shape_));
    return *this;
}

BlockExpr operator+(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Add, a, b); }
BlockExpr operator-(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Sub, a, b); }
BlockExpr operator*(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Mul, a, b); }
BlockExpr operator/(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Div, a, b); }
BlockExpr operator-(const BlockExpr& a) { return make_unary(UnaryOp::Neg, a); }
BlockExpr operator+(const BlockExpr& a, float s) { return make_scalar(BinaryOp::Add, a, s, false); }
BlockExpr operator-(const BlockExpr& a, float s) { return make_scalar(BinaryOp::Sub, a, s, false); }
BlockExpr operator*(const BlockExpr& a, float s) { return make_scalar(BinaryOp::Mul, a, s, false); }
BlockExpr operator/(const BlockExpr& a, float s) { return make_scalar(BinaryOp::Div, a, s, false); }
BlockExpr operator+(float s, const BlockExpr& a) { return make_scalar(BinaryOp::Add, a, s, true); }
BlockExpr operator-(float s, const BlockExpr& a) { return make_scalar(BinaryOp::Sub, a, s, true); }
BlockExpr operator*(float s, const BlockExpr& a) { return make_scalar(BinaryOp::Mul, a, s, true); }
BlockExpr operator/(float s, const BlockExpr& a) { return make_scalar(BinaryOp::Div, a, s, true); }

namespace math {

BlockExpr abs(const BlockExpr& x) { return make_unary(UnaryOp::Abs, x); }
BlockExpr neg(const BlockExpr& x) { return make_unary(UnaryOp::Neg, x); }
BlockExpr exp(const BlockExpr& x) { return make_unary(UnaryOp::Exp, x); }
BlockExpr log(const BlockExpr& x) { return make_unary(UnaryOp::Log, x); }
BlockExpr sqrt(const BlockExpr& x) { return make_unary(UnaryOp::Sqrt, x); }
BlockExpr rsqrt(const BlockExpr& x) { return make_unary(UnaryOp::Rsqrt, x); }
BlockExpr recip(const BlockExpr& x) { return make_unary(UnaryOp::Recip, x); }
BlockExpr square(const BlockExpr& x) { return make_unary(UnaryOp::Square, x); }
BlockExpr sigmoid(const BlockExpr& x) { return make_unary(UnaryOp::Sigmoid, x); }
BlockExpr silu(const BlockExpr& x) { return make_unary(UnaryOp::Silu, x); }
BlockExpr relu(const BlockExpr& x) { return make_unary(UnaryOp::Relu, x); }
BlockExpr gelu(const BlockExpr& x) { return make_unary(UnaryOp::Gelu, x); }
BlockExpr tanh(const BlockExpr& x) { return make_unary(UnaryOp::Tanh, x); }
BlockExpr max(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Max, a, b); }
BlockExpr min(const BlockExpr& a, const BlockExpr& b) { return make_binary(BinaryOp::Min, a, b); }
BlockExpr clamp(const BlockExpr& x, float lo, float hi) { return make_unary(UnaryOp::Clamp, x, lo, hi); }
BlockExpr sign(const BlockExpr& x) { return make_unary(UnaryOp::Sign, x); }

BlockExpr row_shift(const BlockExpr& prev, const BlockExpr& cur, int rows) {
    task_for_math();
    const TileShape s = cur.shape();
    const int total = s.rows * kTileDim;
    if (prev.shape() != s)
        shape_error(fmt::format("row_shift of {}x{} tiles with a previous block of {}x{} tiles: shapes must match", s.rows,
                                s.cols, prev.shape().rows, prev.shape().cols));
    if (rows < 0 || rows > total) shape_error(fmt::format("row_shift by {} rows of a block of {} rows", rows, total));
    auto flat = [](const BlockExpr& e) {  // a plain (not broadcast, not shifted) operand
        Operand o = e.materialize();
        if (o.bcast == Bcast::None && o.shift == 0) return o;
        ScratchBuffer buf(elems(o.view_shape));
        expand(o, buf.get());
        return own(std::move(buf), o.view_shape);
    };
    Operand c = flat(cur);
    if (rows == 0) return BlockExpr::value(std::move(c));
    c.shift = rows;
    c.prev = std::make_shared<const Operand>(flat(prev));
    return BlockExpr::value(std::move(c));
}

namespace {

BlockExpr reduce(const BlockExpr& x, ReduceDim dim, bool is_max, float scale) {
    task_for_math();
    const TileShape s = x.shape();
    auto plain = [](const Operand& v) { return v.bcast == Bcast::None && v.shift == 0; };
    if (dim == ReduceDim::Row && !is_max && x.kind() == ExprKind::Binary && x.binary_op() == BinaryOp::Mul &&
        plain(x.lhs()) && plain(x.rhs())) {  // sum of a product: one pass, nothing materialised
        check_live(x.lhs());
        check_live(x.rhs());
        const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
        std::vector<float> r(rows);
        simd::row_dot(x.lhs().data, x.rhs().data, cols, rows, cols, r.data());
        const TileShape os{s.rows, 1};
        ScratchBuffer out(elems(os));
        const float filler = validating() ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
        std::fill(out.get(), out.get() + elems(os), filler);
        for (size_t i = 0; i < rows; ++i) out.get()[i * kT] = r[i] * scale;
        return BlockExpr::value(own(std::move(out), os));
    }
    Operand in = x.materialize();
    ScratchBuffer sf;
    const float* src = full(in, sf);
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    TileShape os = dim == ReduceDim::Row ? TileShape{s.rows, 1} : dim == ReduceDim::Col ? TileShape{1, s.cols} : TileShape{1, 1};
    ScratchBuffer out(elems(os));
    // Only the positions the chip writes are meaningful; the rest is garbage there, NaN in
    // validate mode (so a missing broadcast shows), zero in fast mode.
    const float filler = validating() ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    std::fill(out.get(), out.get() + elems(os), filler);
    const size_t ocols = static_cast<size_t>(os.cols) * kT;
    if (dim == ReduceDim::Row) {
        std::vector<float> r(rows);
        simd::row_reduce(is_max, src, cols, rows, cols, r.data());
        for (size_t i = 0; i < rows; ++i) out.get()[i * ocols] = r[i] * scale;
    } else if (dim == ReduceDim::Col) {
        std::vector<float> acc(src, src + cols);
        for (size_t i = 1; i < rows; ++i)
            simd::binary(is_max ? simd::Binary::Max : simd::Binary::Add, acc.data(), src + i * cols, acc.data(), cols);
        for (size_t c = 0; c < cols; ++c) out.get()[c] = acc[c] * scale;
    } else {
        std::vector<float> r(rows);
        simd::row_reduce(is_max, src, cols, rows, cols, r.data());
        float total = is_max ? -INFINITY : 0.0f;
        for (float v : r) total = is_max ? std::max(total, v) : total + v;
        out.get()[0] = total * scale;
    }
    return BlockExpr::value(own(std::move(out), os));
}

float scaler_value(const BlockExpr& scaler) {
    Operand s = scaler.materialize();
    ScratchBuffer sf;
    return full(s, sf)[0];
}

}  // namespace

BlockExpr reduce_sum(const BlockExpr& x, ReduceDim dim) { return reduce(x, dim, false, 1.0f); }
BlockExpr reduce_max(const BlockExpr& x, ReduceDim dim) { return reduce(x, dim, true, 1.0f); }
BlockExpr reduce_sum(const BlockExpr& x, const BlockExpr& scaler, ReduceDim dim) {
    return reduce(x, dim, false, scaler_value(scaler));
}
BlockExpr reduce_max(const BlockExpr& x, const BlockExpr& scaler, ReduceDim dim) {
    return reduce(x, dim, true, scaler_value(scaler));
}

BlockExpr broadcast(const BlockExpr& x, BcastDim dim, TileShape shape) {
    task_for_math();
    const TileShape s = x.shape();
    const bool rows_ok = s.rows == shape.rows || s.rows == 1, cols_ok = s.cols == shape.cols || s.cols == 1;
    if (!rows_ok || !cols_ok)
        shape_error(fmt::format("broadcast of a {}x{}-tile block to {}x{} tiles: each dimension must be 1 or equal",
                                s.rows, s.cols, shape.rows, shape.cols));
    Operand o = x.materialize();
    if (o.bcast != Bcast::None) {  // broadcast of a broadcast: expand the inner one first
        ScratchBuffer buf(elems(o.view_shape));
        expand(o, buf.get());
        o = own(std::move(buf), o.view_shape);
    }
    o.bcast = dim == BcastDim::Row ? Bcast::Row : dim == BcastDim::Col ? Bcast::Col : Bcast::Scalar;
    o.view_shape = shape;
    return BlockExpr::value(std::move(o));
}

BlockExpr transpose(const BlockExpr& x) {
    task_for_math();
    const TileShape s = x.shape();
    Operand in = x.materialize();
    ScratchBuffer sf;
    const float* src = full(in, sf);
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    ScratchBuffer out(rows * cols);
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) out.get()[c * rows + r] = src[r * cols + c];
    return BlockExpr::value(own(std::move(out), {s.cols, s.rows}));
}

BlockExpr matmul(const BlockExpr& a, const BlockExpr& b) {
    Task* t = task_for_math();
    if (a.shape().cols != b.shape().rows)
        shape_error(fmt::format("matmul of {}x{} and {}x{} tiles: inner dimensions differ", a.shape().rows, a.shape().cols,
                                b.shape().rows, b.shape().cols));
    if (t) t->flops += 2.0 * a.shape().rows * a.shape().cols * b.shape().cols * kTileElems * kTileDim;
    return BlockExpr::matmul(a.materialize(), b.materialize());
}

BlockExpr fill(float value, TileShape shape) {
    ScratchBuffer buf(elems(shape));
    std::fill(buf.get(), buf.get() + elems(shape), value);
    return BlockExpr::value(own(std::move(buf), shape));
}

}  // namespace math
}  // namespace ttl
