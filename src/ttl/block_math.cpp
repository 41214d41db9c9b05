// Block expressions: evaluated eagerly, one level lazy, so that `o.store(a op b)`, a
// broadcast operand and `o += matmul(a, b)` write straight into the destination block; in fast
// mode row sums of products wait to run together (detail/pending_row_dots.hpp).
#include "ttl/block_math.hpp"
#include "ttl/detail/pending_row_dots.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ttl/detail/state.hpp"
#include "ttl/simd/prefetch.hpp"
#include "ttl/simd/tile_ops.hpp"

namespace ttl {

namespace {
// Expression nodes, their scratch owners and row-shift operands come and go by the thousand per
// kernel (a few per block): their blocks (object and shared count together) go back to a
// per-thread free list, one per type, instead of the heap.
struct FreeBlocks {
    void* head = nullptr;
    ~FreeBlocks() {
        while (head) ::operator delete(std::exchange(head, *static_cast<void**>(head)));
    }
};
template <class T>
struct RecyclingAllocator {
    using value_type = T;
    RecyclingAllocator() = default;
    template <class U>
    RecyclingAllocator(const RecyclingAllocator<U>&) {}
    static FreeBlocks& free_blocks() {
        thread_local FreeBlocks f;
        return f;
    }
    T* allocate(size_t n) {
        static_assert(sizeof(T) >= sizeof(void*));
        FreeBlocks& f = free_blocks();
        if (n != 1 || !f.head) return static_cast<T*>(::operator new(n * sizeof(T)));
        return static_cast<T*>(std::exchange(f.head, *static_cast<void**>(f.head)));
    }
    void deallocate(T* p, size_t n) {
        if (n != 1) return ::operator delete(p);
        FreeBlocks& f = free_blocks();
        *reinterpret_cast<void**>(p) = f.head;
        f.head = p;
    }
    template <class U>
    bool operator==(const RecyclingAllocator<U>&) const { return true; }
};
template <class T, class... Args>
std::shared_ptr<T> make_recycled(Args&&... args) {
    return std::allocate_shared<T>(RecyclingAllocator<T>(), std::forward<Args>(args)...);
}
}  // namespace

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

// reduce_sum's row dots left for later (pending_row_dots.hpp), in the order they were asked for.
struct PendingRowDot {
    Operand a, w, b;  // sum over a row of a * w * b (w: a row vector, or no data: a plain dot)
    Operand result;   // keeps the result's buffer, whose column 0 gets the sums, `ocols` apart
    float* out;
    size_t rows, cols, ocols;
    float scale;
};
thread_local std::vector<PendingRowDot> t_row_dots;

void queue_row_dot(const Operand& a, const Operand* w, const Operand& b, Operand result, float* out, size_t rows,
                   size_t cols, size_t ocols, float scale) {
    t_row_dots.push_back({a, w ? *w : Operand{}, b, std::move(result), out, rows, cols, ocols, scale});
    constexpr size_t kMaxPending = 8;
    if (++t_row_dots_pending == kMaxPending) settle_row_dots_now();
}

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
    // Keep up to 1 MiB (at least 16 buffers) per class: a deep expression (a polynomial in
    // Horner form) holds two buffers per level while it evaluates, and handing them back to
    // malloc made it consolidate its free lists at every evaluation.
    if (list.size() < std::max<size_t>(16, (size_t{1} << 20) / rounded))
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

namespace detail {

// An expression node: an operation over operands, or (Value) an operand itself.
struct ExprNode {
    // User-provided, so that make_recycled's value-initialisation runs only the member
    // initialisers instead of first zeroing the whole node (~400 bytes, a rep stos per node).
    ExprNode() {}
    ExprKind kind = ExprKind::Value;
    TileShape shape;
    Operand a, b, c;
    BinaryOp bop = BinaryOp::Add;
    UnaryOp uop = UnaryOp::Neg;
    float scalar = 0, lo = 0, hi = 0;
    bool scalar_first = false;
    mutable std::shared_ptr<const ScratchBuffer> memo;  // the whole value, once evaluated

    size_t rows() const { return static_cast<size_t>(shape.rows) * kTileDim; }
    size_t cols() const { return static_cast<size_t>(shape.cols) * kTileDim; }
    // Rows [r0, r1) of the value into out ((r1 - r0) x cols floats).
    void evaluate_rows(size_t r0, size_t r1, float* out) const;
};

}  // namespace detail

namespace {

constexpr size_t kT = kTileDim;

size_t elems(TileShape s) { return static_cast<size_t>(s.tiles()) * kTileElems; }

// Rows evaluated at once: a strip of about 64 KB. Per-strip costs (scratch, the walk over the
// expression) outweighed L1 locality at 8 KB: measured 2 to 64 K floats, 16 K was fastest for
// the Engram conv (17% over 2 K) and the RMSNorm stream kernel; L2 holds the intermediates.
size_t strip_rows(size_t cols) { return std::max<size_t>(1, 16384 / cols); }

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

Operand own(ScratchBuffer buf, TileShape shape) {
    Operand o;
    o.data = buf.get();
    o.owner = make_recycled<ScratchBuffer>(std::move(buf));
    o.shape = o.view_shape = shape;
    return o;
}

bool plain(const Operand& v) { return !v.pending && v.bcast == Bcast::None && v.shift == 0; }
bool commutative(BinaryOp op) {
    return op == BinaryOp::Add || op == BinaryOp::Mul || op == BinaryOp::Max || op == BinaryOp::Min;
}
// A row vector broadcast down the rows: row 0 of a one-tile-row block.
bool row_vector(const Operand& v, TileShape s) {
    return !v.pending && v.bcast == Bcast::Row && v.shape.rows == 1 && v.shape.cols == s.cols;
}
// A column vector broadcast across the columns: column 0 of a one-tile-column block.
bool col_vector(const Operand& v, TileShape s) {
    return !v.pending && v.bcast == Bcast::Col && v.shape.cols == 1 && v.shape.rows == s.rows;
}
bool scalar_value(const Operand& v) { return !v.pending && v.bcast == Bcast::Scalar && v.shape.tiles() == 1; }

// Rows [r0, r1) of a broadcast view (view_shape), written in full.
void expand_rows(const Operand& v, size_t r0, size_t r1, float* out) {
    const TileShape vs = v.view_shape, ss = v.shape;
    const size_t out_cols = static_cast<size_t>(vs.cols) * kT, src_cols = static_cast<size_t>(ss.cols) * kT;
    for (size_t r = r0; r < r1; ++r) {
        const size_t ti = r / kT, ri = r % kT;
        const size_t si = ss.rows == 1 ? 0 : ti;
        for (size_t tj = 0; tj < static_cast<size_t>(vs.cols); ++tj) {
            const size_t sj = ss.cols == 1 ? 0 : tj;
            const float* src = v.data + si * kT * src_cols + sj * kT;
            float* dst = out + (r - r0) * out_cols + tj * kT;
            for (size_t c = 0; c < kT; ++c) {
                switch (v.bcast) {
                    case Bcast::Col: dst[c] = src[ri * src_cols]; break;  // column 0
                    case Bcast::Row: dst[c] = src[c]; break;              // row 0
                    case Bcast::Scalar: dst[c] = src[0]; break;
                    case Bcast::None: dst[c] = src[ri * src_cols + c]; break;
                }
            }
        }
    }
}

// Rows [r0, r1) of an operand as contiguous floats: a pointer into its data where it can be,
// else evaluated into `scratch`.
const float* strip(const Operand& v, size_t r0, size_t r1, ScratchBuffer& scratch) {
    const size_t cols = static_cast<size_t>(v.view_shape.cols) * kT, n = (r1 - r0) * cols;
    if (v.pending) {
        if (v.pending->memo) return v.pending->memo->get() + r0 * cols;
        scratch = ScratchBuffer(n);
        v.pending->evaluate_rows(r0, r1, scratch.get());
        return scratch.get();
    }
    check_live(v);
    if (v.stride) {  // a deferred read: its rows, packed (strided_strip() reads them in place)
        const float* p = v.data + r0 * v.stride;
        if (r1 - r0 == 1 || v.stride == cols) return p;
        scratch = ScratchBuffer(n);
        simd::copy_rows(scratch.get(), cols * sizeof(float), p, v.stride * sizeof(float), cols * sizeof(float), r1 - r0, 0);
        return scratch.get();
    }
    if (v.shift) {  // rows before `shift` come from the bottom of prev
        const size_t total = static_cast<size_t>(v.shape.rows) * kT, s = static_cast<size_t>(v.shift);
        if (r0 >= s) return v.data + (r0 - s) * cols;
        if (r1 <= s) return v.prev->data + (total - s + r0) * cols;
        scratch = ScratchBuffer(n);
        std::memcpy(scratch.get(), v.prev->data + (total - s + r0) * cols, (s - r0) * cols * sizeof(float));
        std::memcpy(scratch.get() + (s - r0) * cols, v.data, (r1 - s) * cols * sizeof(float));
        return scratch.get();
    }
    if (v.bcast == Bcast::None) return v.data + r0 * cols;
    scratch = ScratchBuffer(n);
    expand_rows(v, r0, r1, scratch.get());
    return scratch.get();
}

// Rows [r0, r1) of an operand for kernels that take a row stride: a deferred read in place,
// `ld` floats from row to row; anything else as strip() gives it (ld = the operand's width).
const float* strided_strip(const Operand& v, size_t r0, size_t r1, ScratchBuffer& scratch, size_t& ld) {
    if (v.stride) {
        check_live(v);
        ld = v.stride;
        return v.data + r0 * v.stride;
    }
    ld = static_cast<size_t>(v.view_shape.cols) * kT;
    return strip(v, r0, r1, scratch);
}

// An operand that a fused kernel may evaluate in place of its node: pending, not yet evaluated
// as a whole, and seen unshifted and unbroadcast.
bool inlinable(const Operand& v, TileShape s) {
    return v.pending && !v.pending->memo && v.bcast == Bcast::None && v.shift == 0 && v.view_shape == s;
}

// An operand that is an activation (silu, say) of something else, fusable into its consumer.
bool activation_of(const Operand& v, TileShape s) {
    return inlinable(v, s) && v.pending->kind == ExprKind::Unary &&
           simd::fusable_activation(static_cast<simd::Unary>(v.pending->uop));
}

// What a consumer applies to a product chain's value on the way out: out = a op activation(chain).
struct ChainEpilogue {
    BinaryOp op;
    const float* a;  // rows [r0, r1), lda floats apart
    size_t lda;
    UnaryOp activation;
};

// A sum of products with row-vector factors, x0 * w0 + x1 * w1 + ... (a FIR filter over row
// shifts, as a depthwise conv writes it), as one pass over the strip instead of one per term,
// with the consumer's epilogue, if any, in the same pass. False when `top` is not such a chain of
// at least two terms.
bool evaluate_product_chain(const detail::ExprNode& top, size_t r0, size_t r1, float* out,
                            const ChainEpilogue* epilogue = nullptr) {
    constexpr size_t kMaxTerms = simd::kMaxProductTerms;  // a longer chain: the rest is the base
    const Operand* xs[kMaxTerms];
    const Operand* ws[kMaxTerms];
    size_t terms = 0;
    const Operand* base = nullptr;  // what the innermost term adds to (null: nothing)
    // The product factors of a node, the row vector second; false if it has none.
    auto split = [](const Operand& p, const Operand& q, TileShape s, const Operand*& x, const Operand*& w) {
        x = &p;
        w = &q;
        if (row_vector(*x, s)) std::swap(x, w);
        return row_vector(*w, s);
    };
    // A link of the chain: a + x * w (MultiplyAdd) or, innermost, x * w, with w a row vector.
    auto link = [&](const detail::ExprNode& n, const Operand*& x, const Operand*& w) {
        if (terms == kMaxTerms) return false;
        if (n.kind == ExprKind::MultiplyAdd) return split(n.b, n.c, n.shape, x, w);
        return n.kind == ExprKind::Binary && n.bop == BinaryOp::Mul && split(n.a, n.b, n.shape, x, w);
    };
    const Operand *x = nullptr, *w = nullptr;
    if (!link(top, x, w)) return false;
    for (const detail::ExprNode* n = &top;;) {
        xs[terms] = x;
        ws[terms++] = w;
        if (n->kind != ExprKind::MultiplyAdd) break;  // x * w: the innermost term
        const Operand& acc = n->a;
        if (inlinable(acc, n->shape) && link(*acc.pending, x, w)) {
            n = acc.pending.get();
            continue;
        }
        base = &acc;
        break;
    }
    if (terms < 2) return false;
    const size_t rows = r1 - r0, cols = top.cols();
    ScratchBuffer base_strip, x_strips[kMaxTerms];
    // Term t's row r at x_rows[t * rows + r]: on the stack for a strip of a few tile rows.
    constexpr size_t kInlineRows = 256;
    const float* inline_rows[kInlineRows];
    std::vector<const float*> heap_rows(terms * rows > kInlineRows ? terms * rows : 0);
    const float** x_rows = heap_rows.empty() ? inline_rows : heap_rows.data();
    const float* w_rows[kMaxTerms];
    for (size_t t = 0; t < terms; ++t) {  // innermost term first: the order the unfused evaluation adds in
        const Operand& v = *xs[terms - 1 - t];
        const float** row = x_rows + t * rows;
        if (!v.pending && v.shift && v.bcast == Bcast::None) {
            // A row shift, read in place: rows before the shift come from the bottom of prev.
            check_live(v);
            const size_t total = static_cast<size_t>(v.shape.rows) * kT, shift = static_cast<size_t>(v.shift);
            for (size_t r = 0; r < rows; ++r)
                row[r] = r0 + r >= shift ? v.data + (r0 + r - shift) * cols : v.prev->data + (total - shift + r0 + r) * cols;
        } else {
            size_t ld;
            const float* x = strided_strip(v, r0, r1, x_strips[t], ld);
            for (size_t r = 0; r < rows; ++r) row[r] = x + r * ld;
        }
        check_live(*ws[terms - 1 - t]);
        w_rows[t] = ws[terms - 1 - t]->data;
    }
    const float* b = base ? strip(*base, r0, r1, base_strip) : nullptr;
    if (epilogue)
        simd::sum_of_products_activation(to_simd(epilogue->op), epilogue->a, epilogue->lda,
                                         static_cast<simd::Unary>(epilogue->activation), b, x_rows, w_rows, terms, out, rows,
                                         cols);
    else
        simd::sum_of_products_per_col(b, x_rows, w_rows, terms, out, rows, cols);
    return true;
}

// out = a op b over rows [r0, r1), with broadcast operands applied on the fly.
void binary_rows(BinaryOp op, const Operand& a, const Operand& b, TileShape s, size_t r0, size_t r1, float* out) {
    const size_t cols = static_cast<size_t>(s.cols) * kT, rows = r1 - r0;
    if (!row_vector(b, s) && !col_vector(b, s) && !scalar_value(b) && commutative(op) &&
        (row_vector(a, s) || col_vector(a, s) || scalar_value(a))) {
        binary_rows(op, b, a, s, r0, r1, out);
        return;
    }
    if (commutative(op) && activation_of(a, s) && !activation_of(b, s)) {
        binary_rows(op, b, a, s, r0, r1, out);
        return;
    }
    ScratchBuffer sa, sb;
    if (activation_of(b, s) && !row_vector(a, s) && !col_vector(a, s) && !scalar_value(a)) {
        // a op f(y): the activation applied on the way, in the same pass
        const detail::ExprNode& f = *b.pending;
        size_t lda;
        const float* x = strided_strip(a, r0, r1, sa, lda);
        const ChainEpilogue epilogue{op, x, lda, f.uop};
        if (inlinable(f.a, s) && evaluate_product_chain(*f.a.pending, r0, r1, out, &epilogue)) return;
        if (lda != cols) x = strip(a, r0, r1, sa);  // a deferred read, packed
        simd::binary_activation(to_simd(op), x, static_cast<simd::Unary>(f.uop), strip(f.a, r0, r1, sb), out, rows * cols);
        return;
    }
    if (col_vector(b, s)) {
        check_live(b);
        size_t lda;
        const float* x = strided_strip(a, r0, r1, sa, lda);
        ScratchBuffer per_row(rows);
        for (size_t r = 0; r < rows; ++r) per_row.get()[r] = b.data[(r0 + r) * kT];
        simd::binary_per_row(to_simd(op), x, lda, per_row.get(), out, rows, cols, a.stride && a.cold);
        return;
    }
    const float* x = strip(a, r0, r1, sa);
    if (row_vector(b, s)) {
        check_live(b);
        simd::binary_per_col(to_simd(op), x, b.data, out, rows, cols);
    } else if (scalar_value(b)) {
        check_live(b);
        simd::binary_scalar(to_simd(op), x, b.data[0], out, rows * cols, false);
    } else {
        simd::binary(to_simd(op), x, strip(b, r0, r1, sb), out, rows * cols);
    }
}

}  // namespace

void detail::ExprNode::evaluate_rows(size_t r0, size_t r1, float* out) const {
    const size_t cols = this->cols(), n = (r1 - r0) * cols;
    if (memo) {
        std::memcpy(out, memo->get() + r0 * cols, n * sizeof(float));
        return;
    }
    ScratchBuffer s1, s2, s3;
    switch (kind) {
        case ExprKind::Value: {
            size_t ld;
            const float* x = strided_strip(a, r0, r1, s1, ld);
            if (x != out) simd::copy_rows(out, cols * sizeof(float), x, ld * sizeof(float), cols * sizeof(float), r1 - r0, 0);
            return;
        }
        case ExprKind::Binary: binary_rows(bop, a, b, shape, r0, r1, out); return;
        case ExprKind::Scalar:
            simd::binary_scalar(to_simd(bop), strip(a, r0, r1, s1), scalar, out, n, scalar_first);
            return;
        case ExprKind::Unary:
            simd::unary(static_cast<simd::Unary>(uop), strip(a, r0, r1, s1), out, n, lo, hi);
            return;
        case ExprKind::MultiplyAdd: {  // a + b * c
            if (evaluate_product_chain(*this, r0, r1, out)) return;
            const float* x = strip(a, r0, r1, s1);
            const Operand* p = &b;
            const Operand* q = &c;
            if (row_vector(*p, shape)) std::swap(p, q);
            if (row_vector(*q, shape)) {
                check_live(*q);
                simd::multiply_add_per_col(x, strip(*p, r0, r1, s2), q->data, out, r1 - r0, cols);
            } else {
                simd::multiply_add(x, strip(*p, r0, r1, s2), strip(*q, r0, r1, s3), out, n);
            }
            return;
        }
        case ExprKind::ScaleRowsCols: {  // a * column vector b * row vector c
            check_live(b);
            check_live(c);
            ScratchBuffer per_row(r1 - r0);
            for (size_t r = r0; r < r1; ++r) per_row.get()[r - r0] = b.data[r * kT];
            size_t lda;
            const float* x = strided_strip(a, r0, r1, s1, lda);
            simd::scale_rows_cols(x, lda, per_row.get(), c.data, out, r1 - r0, cols);
            return;
        }
        case ExprKind::Matmul: {  // rows r0..r1 of a @ b
            check_live(a);
            check_live(b);
            const size_t k = static_cast<size_t>(a.shape.cols) * kT;
            simd::matmul(a.data + r0 * k, k, b.data, cols, out, cols, r1 - r0, cols, k, false);
            return;
        }
    }
}

BlockExpr::BlockExpr(std::shared_ptr<detail::ExprNode> node) : node_(std::move(node)), shape_(node_->shape) {}

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
    auto node = make_recycled<detail::ExprNode>();
    node->shape = block.shape();
    node->a.shape = node->a.view_shape = node->shape;
    if (DfbState::DeferredRead& read = d.deferred[static_cast<size_t>(block.slot())]; read.src) {
        node->a.data = read.src;  // read where it lies in the tensor, from now on
        node->a.stride = read.stride;
        node->a.cold = !std::exchange(read.used, true);
        simd::background_reads.started(reinterpret_cast<const char*>(read.src));
    } else if (block.dtype() == DType::F32) {
        node->a.data = static_cast<const float*>(block.data());
        if (d.node->op->validating()) {
            node->a.view_of = &d;
            node->a.view_slot = block.slot();
            node->a.view_generation = d.slots[static_cast<size_t>(block.slot())].generation;
        }
    } else {
        ScratchBuffer buf(elems(node->shape));
        simd::bf16_to_f32(static_cast<const uint16_t*>(block.data()), buf.get(), elems(node->shape));
        node->a = own(std::move(buf), node->shape);
    }
    node_ = std::move(node);
    shape_ = node_->shape;
}

bool BlockExpr::is_matmul() const { return node_->kind == ExprKind::Matmul; }
ExprKind BlockExpr::kind() const { return node_->kind; }
BinaryOp BlockExpr::binary_op() const { return node_->bop; }
const Operand& BlockExpr::lhs() const { return node_->a; }
const Operand& BlockExpr::rhs() const { return node_->b; }

namespace {
std::shared_ptr<ExprNode> node_of(ExprKind kind, TileShape shape) {
    auto n = make_recycled<detail::ExprNode>();
    n->kind = kind;
    n->shape = shape;
    return n;
}
}  // namespace

BlockExpr BlockExpr::value(Operand v) {
    auto n = node_of(ExprKind::Value, v.view_shape);
    n->a = std::move(v);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::binary(BinaryOp op, Operand a, Operand b) {
    auto n = node_of(ExprKind::Binary, a.view_shape);
    n->bop = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::scalar(BinaryOp op, Operand a, float s, bool scalar_first) {
    auto n = node_of(ExprKind::Scalar, a.view_shape);
    n->bop = op;
    n->scalar = s;
    n->scalar_first = scalar_first;
    n->a = std::move(a);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::unary(UnaryOp op, Operand a, float lo, float hi) {
    auto n = node_of(ExprKind::Unary, a.view_shape);
    n->uop = op;
    n->lo = lo;
    n->hi = hi;
    n->a = std::move(a);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::multiply_add(Operand a, Operand b, Operand c) {
    auto n = node_of(ExprKind::MultiplyAdd, a.view_shape);
    n->a = std::move(a);
    n->b = std::move(b);
    n->c = std::move(c);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::scale_rows_cols(Operand x, Operand per_row, Operand per_col) {
    auto n = node_of(ExprKind::ScaleRowsCols, x.view_shape);
    n->a = std::move(x);
    n->b = std::move(per_row);
    n->c = std::move(per_col);
    return BlockExpr(std::move(n));
}

BlockExpr BlockExpr::matmul(Operand a, Operand b) {
    auto n = node_of(ExprKind::Matmul, TileShape{a.view_shape.rows, b.view_shape.cols});
    n->a = std::move(a);
    n->b = std::move(b);
    return BlockExpr(std::move(n));
}

namespace {
// Whether evaluating `v` reads [dst, dst_end) other than element for element: row-shifted,
// broadcast, or as a matmul operand. Written in place, such a value would read elements the
// store has already overwritten (o.store(row_shift(p, o, 1) * w + o * v), say).
bool reads_across(const Operand& v, uintptr_t dst, uintptr_t dst_end, bool whole) {
    if (v.pending) {
        const ExprNode& n = *v.pending;
        if (n.memo) return false;
        const bool matmul = n.kind == ExprKind::Matmul;
        return reads_across(n.a, dst, dst_end, matmul) || reads_across(n.b, dst, dst_end, matmul) ||
               reads_across(n.c, dst, dst_end, matmul);
    }
    auto inside = [&](const float* p) { return p && reinterpret_cast<uintptr_t>(p) >= dst && reinterpret_cast<uintptr_t>(p) < dst_end; };
    if (!inside(v.data) && !(v.prev && inside(v.prev->data))) return false;
    return whole || v.shift != 0 || v.bcast != Bcast::None;
}
}  // namespace

void BlockExpr::evaluate_into(float* out) const {
    settle_row_dots();
    const ExprNode& n = *node_;
    const size_t rows = n.rows(), cols = n.cols(), step = strip_rows(cols);
    Operand self;
    self.pending = node_;
    if (reads_across(self, reinterpret_cast<uintptr_t>(out), reinterpret_cast<uintptr_t>(out + rows * cols), false)) {
        ScratchBuffer staged(rows * cols);
        evaluate_into(staged.get());
        std::memcpy(out, staged.get(), rows * cols * sizeof(float));
        return;
    }
    if (n.memo) {
        std::memcpy(out, n.memo->get(), rows * cols * sizeof(float));
        return;
    }
    if (n.kind == ExprKind::Matmul) {  // one call: the micro-kernel blocks rows itself
        n.evaluate_rows(0, rows, out);
        return;
    }
    for (size_t r = 0; r < rows; r += step) n.evaluate_rows(r, std::min(rows, r + step), out + r * cols);
}

Operand BlockExpr::materialize() const {
    const ExprNode& n = *node_;
    if (n.kind == ExprKind::Value && !n.a.pending) return n.a;  // data already (a block view, or scratch)
    if (!n.memo) {
        ScratchBuffer buf(elems(shape_));
        evaluate_into(buf.get());
        n.memo = make_recycled<ScratchBuffer>(std::move(buf));
    }
    Operand o;
    o.data = n.memo->get();
    o.owner = n.memo;
    o.shape = o.view_shape = shape_;
    return o;
}

Operand BlockExpr::as_operand() const {
    const ExprNode& n = *node_;
    switch (n.kind) {
        case ExprKind::Value: return n.a;
        case ExprKind::Matmul: return materialize();
        default: break;
    }
    if (n.memo) return materialize();
    Operand o;
    o.pending = node_;
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

namespace {

BlockExpr make_binary(BinaryOp op, const BlockExpr& a, const BlockExpr& b) {
    task_for_math();
    if (a.shape() != b.shape())
        shape_error(fmt::format("'{}' of blocks of {}x{} and {}x{} tiles: shapes must match; use "
                                "ttl::math::broadcast to widen a reduced block",
                                binary_name(op), a.shape().rows, a.shape().cols, b.shape().rows, b.shape().cols));
    // x * broadcast(col vector) * broadcast(row vector) (RMSNorm) in one pass.
    if (op == BinaryOp::Mul && a.kind() == ExprKind::Binary && a.binary_op() == BinaryOp::Mul) {
        const Operand bo = b.as_operand();
        const TileShape s = a.shape();
        if (row_vector(bo, s) && plain(a.lhs()) && col_vector(a.rhs(), s)) return BlockExpr::scale_rows_cols(a.lhs(), a.rhs(), bo);
        if (row_vector(bo, s) && plain(a.rhs()) && col_vector(a.lhs(), s)) return BlockExpr::scale_rows_cols(a.rhs(), a.lhs(), bo);
    }
    // a + b * c in one pass: keep the pending product's operands.
    if (op == BinaryOp::Add && b.kind() == ExprKind::Binary && b.binary_op() == BinaryOp::Mul)
        return BlockExpr::multiply_add(a.as_operand(), b.lhs(), b.rhs());
    if (op == BinaryOp::Add && a.kind() == ExprKind::Binary && a.binary_op() == BinaryOp::Mul)
        return BlockExpr::multiply_add(b.as_operand(), a.lhs(), a.rhs());
    return BlockExpr::binary(op, a.as_operand(), b.as_operand());
}

BlockExpr make_scalar(BinaryOp op, const BlockExpr& a, float s, bool scalar_first) {
    task_for_math();
    return BlockExpr::scalar(op, a.as_operand(), s, scalar_first);
}

BlockExpr make_unary(UnaryOp op, const BlockExpr& a, float lo = 0, float hi = 0) {
    task_for_math();
    return BlockExpr::unary(op, a.as_operand(), lo, hi);
}

// A plain (not broadcast, not shifted, not pending) operand.
// A plain operand whose rows follow each other (not a deferred read) either.
Operand flat(const BlockExpr& e) {
    Operand o = e.materialize();
    if (plain(o) && !o.stride) return o;
    settle_row_dots();  // o is read now, and may be one of their results
    const size_t rows = static_cast<size_t>(o.view_shape.rows) * kT, cols = static_cast<size_t>(o.view_shape.cols) * kT;
    ScratchBuffer buf;
    const float* p = strip(o, 0, rows, buf);
    if (p == buf.get()) return own(std::move(buf), o.view_shape);  // strip() packed it
    buf = ScratchBuffer(rows * cols);
    std::memcpy(buf.get(), p, rows * cols * sizeof(float));
    return own(std::move(buf), o.view_shape);
}

}  // namespace

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
    Operand c = flat(cur);
    if (rows == 0) return BlockExpr::value(std::move(c));
    c.shift = rows;
    c.prev = make_recycled<Operand>(flat(prev));
    return BlockExpr::value(std::move(c));
}

namespace {

BlockExpr reduce(const BlockExpr& x, ReduceDim dim, bool is_max, float scale) {
    task_for_math();
    const TileShape s = x.shape();
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    const TileShape os = dim == ReduceDim::Row ? TileShape{s.rows, 1} : dim == ReduceDim::Col ? TileShape{1, s.cols} : TileShape{1, 1};
    ScratchBuffer out(elems(os));
    // Only the positions the chip writes are meaningful; the rest is garbage there, NaN in
    // validate mode (so a missing broadcast shows), zero in fast mode.
    const float filler = validating() ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    std::fill(out.get(), out.get() + elems(os), filler);
    const size_t ocols = static_cast<size_t>(os.cols) * kT;
    ScratchBuffer row_values(rows);
    float* r = row_values.get();
    if (dim != ReduceDim::Col) {
        // Row sums strip by strip: the input expression is never written out whole.
        const bool dot = !is_max && x.kind() == ExprKind::Binary && x.binary_op() == BinaryOp::Mul &&
                         x.lhs().bcast == Bcast::None && x.rhs().bcast == Bcast::None;
        // (a * w) * b with w a row vector (a weighted dot, as an attention score or a gate writes
        // it): the weighted product is never stored either.
        const Operand *wa = nullptr, *ww = nullptr, *wb = nullptr;
        if (dot) {
            for (auto [p, q] : {std::pair{&x.lhs(), &x.rhs()}, std::pair{&x.rhs(), &x.lhs()}}) {
                if (!inlinable(*p, s) || p->pending->kind != ExprKind::Binary || p->pending->bop != BinaryOp::Mul) continue;
                const detail::ExprNode& m = *p->pending;
                if (row_vector(m.b, s) && !row_vector(m.a, s)) wa = &m.a, ww = &m.b;
                else if (row_vector(m.a, s) && !row_vector(m.b, s)) wa = &m.b, ww = &m.a;
                else continue;
                wb = q;
                break;
            }
        }
        // Fast mode, a row sum of plain operands (blocks, deferred reads): left for later, to run
        // with the row sums that follow it (pending_row_dots.hpp).
        if (dim == ReduceDim::Row && !validating() &&
            (wa ? plain(*wa) && plain(*wb) : dot && plain(x.lhs()) && plain(x.rhs()))) {
            float* col0 = out.get();
            BlockExpr result = BlockExpr::value(own(std::move(out), os));
            queue_row_dot(wa ? *wa : x.lhs(), wa ? ww : nullptr, wa ? *wb : x.rhs(), result.as_operand(), col0, rows, cols,
                          ocols, scale);
            return result;
        }
        settle_row_dots();  // what this one reads may be theirs
        const Operand in = x.as_operand();
        const size_t step = strip_rows(cols);
        for (size_t r0 = 0; r0 < rows; r0 += step) {
            const size_t r1 = std::min(rows, r0 + step);
            ScratchBuffer s1, s2;
            size_t lda, ldb;
            if (wa) {
                check_live(*ww);
                const float* pa = strided_strip(*wa, r0, r1, s1, lda);
                const float* pb = strided_strip(*wb, r0, r1, s2, ldb);
                simd::row_dot_weighted(pa, lda, ww->data, pb, ldb, r1 - r0, cols, r + r0);
            } else if (dot) {  // sum of a product: a row dot, the product never stored
                const float* pa = strided_strip(x.lhs(), r0, r1, s1, lda);
                const float* pb = strided_strip(x.rhs(), r0, r1, s2, ldb);
                simd::row_dot(pa, lda, pb, ldb, r1 - r0, cols, r + r0);
            } else {
                const float* pa = strided_strip(in, r0, r1, s1, lda);
                simd::row_reduce(is_max, pa, lda, r1 - r0, cols, r + r0);
            }
        }
    }
    if (dim == ReduceDim::Row) {
        for (size_t i = 0; i < rows; ++i) out.get()[i * ocols] = r[i] * scale;
    } else if (dim == ReduceDim::Col) {
        const Operand in = x.materialize();
        ScratchBuffer sf;
        const float* src = strip(in, 0, rows, sf);
        std::vector<float> acc(src, src + cols);
        for (size_t i = 1; i < rows; ++i)
            simd::binary(is_max ? simd::Binary::Max : simd::Binary::Add, acc.data(), src + i * cols, acc.data(), cols);
        for (size_t c = 0; c < cols; ++c) out.get()[c] = acc[c] * scale;
    } else {
        float total = is_max ? -INFINITY : 0.0f;
        for (size_t i = 0; i < rows; ++i) total = is_max ? std::max(total, r[i]) : total + r[i];
        out.get()[0] = total * scale;
    }
    return BlockExpr::value(own(std::move(out), os));
}

float scaler_value(const BlockExpr& scaler) {
    settle_row_dots();  // the scaler is read now, and may be one of their results
    Operand s = scaler.materialize();
    ScratchBuffer sf;
    return strip(s, 0, 1, sf)[0];
}

}  // namespace

}  // namespace math

namespace detail {

void settle_row_dots_now() {
    // Row by row across the pending sums: a row of k, read from memory for sum k*k, is still in
    // L1 for sum k*w*q. Rows in a tensor (deferred reads) are prefetched ahead as simd::row_dot does.
    size_t rows = 0;
    for (const PendingRowDot& d : t_row_dots) rows = std::max(rows, d.rows);
    auto row = [](const Operand& v, size_t r, size_t cols) { return v.data + r * (v.stride ? v.stride : cols); };
    for (size_t r = 0; r < rows; ++r)
        for (const PendingRowDot& d : t_row_dots) {
            if (r >= d.rows) continue;
            if (r + simd::kRowsAhead < d.rows)
                for (const Operand* v : {&d.a, &d.b})
                    if (v->stride) simd::prefetch_row_ahead(row(*v, r, d.cols), v->stride, d.cols);
            float sum;
            if (d.w.data)
                simd::row_dot_weighted(row(d.a, r, d.cols), d.cols, d.w.data, row(d.b, r, d.cols), d.cols, 1, d.cols, &sum);
            else
                simd::row_dot(row(d.a, r, d.cols), d.cols, row(d.b, r, d.cols), d.cols, 1, d.cols, &sum);
            d.out[r * d.ocols] = sum * d.scale;
        }
    t_row_dots.clear();
    t_row_dots_pending = 0;
}

void drop_row_dots() {
    t_row_dots.clear();
    t_row_dots_pending = 0;
}

}  // namespace detail

namespace math {

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
    Operand o = flat(x);
    o.bcast = dim == BcastDim::Row ? Bcast::Row : dim == BcastDim::Col ? Bcast::Col : Bcast::Scalar;
    o.view_shape = shape;
    return BlockExpr::value(std::move(o));
}

BlockExpr transpose(const BlockExpr& x) {
    task_for_math();
    const TileShape s = x.shape();
    const Operand in = flat(x);
    const size_t rows = static_cast<size_t>(s.rows) * kT, cols = static_cast<size_t>(s.cols) * kT;
    settle_row_dots();
    check_live(in);
    ScratchBuffer out(rows * cols);
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) out.get()[c * rows + r] = in.data[r * cols + c];
    return BlockExpr::value(own(std::move(out), {s.cols, s.rows}));
}

BlockExpr matmul(const BlockExpr& a, const BlockExpr& b) {
    Task* t = task_for_math();
    if (a.shape().cols != b.shape().rows)
        shape_error(fmt::format("matmul of {}x{} and {}x{} tiles: inner dimensions differ", a.shape().rows, a.shape().cols,
                                b.shape().rows, b.shape().cols));
    if (t) t->flops += 2.0 * a.shape().rows * a.shape().cols * b.shape().cols * kTileElems * kTileDim;
    return BlockExpr::matmul(flat(a), flat(b));
}

BlockExpr fill(float value, TileShape shape) {
    ScratchBuffer buf(elems(shape));
    std::fill(buf.get(), buf.get() + elems(shape), value);
    return BlockExpr::value(own(std::move(buf), shape));
}

}  // namespace math
}  // namespace ttl
