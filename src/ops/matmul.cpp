#include "ops/matmul.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/detail.hpp"
#include "ops/elementwise.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

// oneDNN runs on OpenMP here. Its threads would spin for milliseconds after every call, competing with
// the runtime's workers for the same cores (a SiLU right after a linear ran 40% slower), so oneDNN runs
// single-threaded on the runtime's pinned workers instead, each computing its part of the product.
void use_one_onednn_thread() {
    thread_local const bool applied = [] {  // OpenMP's thread count is per calling thread
        omp_set_num_threads(1);
        return true;
    }();
    (void)applied;
}

dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::memory::data_type onednn_type(DType t) {
    return t == DType::BF16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

// One matrix product as oneDNN sees it: dst[batch, m, n] = src[batch, m, k] @ weights[batch, k, n]
// (+ bias[n]); weights are either [k, n] row-major or, for nn.Linear, [n, k] read transposed.
// A worker's part may be a band of columns of a wider product: `row_length` is then the full width of
// dst (and of row-major weights), which are read and written with that row stride.
struct MatmulKey {
    int64_t batch, m, n, k, row_length;
    bool weights_transposed;
    DType src, weights, dst;
    bool has_bias;
    DType bias;

    bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
    size_t operator()(const MatmulKey& key) const {
        size_t h = 0;
        auto mix = [&h](uint64_t v) { h ^= std::hash<uint64_t>()(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
        for (int64_t v : {key.batch, key.m, key.n, key.k, key.row_length}) mix(static_cast<uint64_t>(v));
        mix(static_cast<uint64_t>(key.weights_transposed) | static_cast<uint64_t>(key.src) << 1 |
            static_cast<uint64_t>(key.weights) << 9 | static_cast<uint64_t>(key.dst) << 17 |
            static_cast<uint64_t>(key.has_bias) << 25 | static_cast<uint64_t>(key.bias) << 26);
        return h;
    }
};

struct MatmulPrimitive {
    dnnl::matmul primitive;
    dnnl::memory::desc src, weights, bias, dst, scratchpad;
};

MatmulPrimitive create_primitive(const MatmulKey& key) {
    using dims = dnnl::memory::dims;
    const bool batched = key.batch > 1;  // a batched product is never split by columns: row_length == n
    auto desc = [&](int64_t rows, int64_t cols, DType t, dims strides) {
        if (batched) strides.insert(strides.begin(), rows * cols);
        return dnnl::memory::desc(batched ? dims{key.batch, rows, cols} : dims{rows, cols}, onednn_type(t), strides);
    };
    MatmulPrimitive p;
    p.src = desc(key.m, key.k, key.src, {key.k, 1});
    p.weights = desc(key.k, key.n, key.weights, key.weights_transposed ? dims{1, key.k} : dims{key.row_length, 1});
    p.dst = desc(key.m, key.n, key.dst, {key.row_length, 1});
    if (key.has_bias)  // one row, shared by every batch
        p.bias = dnnl::memory::desc(batched ? dims{1, 1, key.n} : dims{1, key.n}, onednn_type(key.bias),
                                    batched ? dims{key.n, key.n, 1} : dims{key.n, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-thread scratch: calls may run concurrently
    const dnnl::matmul::desc op = key.has_bias ? dnnl::matmul::desc(p.src, p.weights, p.bias, p.dst)
                                               : dnnl::matmul::desc(p.src, p.weights, p.dst);
    const dnnl::matmul::primitive_desc pd(op, attr, cpu_engine());
    p.scratchpad = pd.scratchpad_desc();
    p.primitive = dnnl::matmul(pd);
    return p;
}

// Least-recently-used cache: models call a handful of shapes over and over, but sequence lengths vary.
class PrimitiveCache {
   public:
    static constexpr size_t kCapacity = 128;

    std::shared_ptr<const MatmulPrimitive> get(const MatmulKey& key) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = index_.find(key); it != index_.end()) {
            entries_.splice(entries_.begin(), entries_, it->second);
            return it->second->second;
        }
        auto primitive = std::make_shared<const MatmulPrimitive>(create_primitive(key));
        entries_.emplace_front(key, primitive);
        index_[key] = entries_.begin();
        if (entries_.size() > kCapacity) {
            index_.erase(entries_.back().first);
            entries_.pop_back();
        }
        return primitive;
    }

    size_t size() {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

   private:
    using Entry = std::pair<MatmulKey, std::shared_ptr<const MatmulPrimitive>>;
    std::mutex mutex_;
    std::list<Entry> entries_;
    std::unordered_map<MatmulKey, std::list<Entry>::iterator, MatmulKeyHash> index_;
};

PrimitiveCache& primitive_cache() {
    static PrimitiveCache cache;
    return cache;
}

void* scratchpad(size_t bytes) {
    struct Free {
        void operator()(void* p) const { std::free(p); }
    };
    thread_local std::unique_ptr<void, Free> buffer;
    thread_local size_t capacity = 0;
    if (bytes > capacity) {
        capacity = (bytes + 4095) / 4096 * 4096;
        buffer.reset(std::aligned_alloc(64, capacity));
        if (!buffer) throw std::bad_alloc();
    }
    return buffer.get();
}

void execute(const MatmulKey& key, const void* src, const void* weights, const void* bias, void* dst) {
    use_one_onednn_thread();
    const auto p = primitive_cache().get(key);
    dnnl::engine& engine = cpu_engine();
    thread_local dnnl::stream stream(engine);
    auto wrap = [&](const dnnl::memory::desc& d, const void* data) {
        return dnnl::memory(d, engine, const_cast<void*>(data));  // oneDNN reads inputs only
    };
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(p->src, src)},
                                                  {DNNL_ARG_WEIGHTS, wrap(p->weights, weights)},
                                                  {DNNL_ARG_DST, wrap(p->dst, dst)}};
    if (key.has_bias) args.emplace(DNNL_ARG_BIAS, wrap(p->bias, bias));
    if (p->scratchpad.get_size() > 0)
        args.emplace(DNNL_ARG_SCRATCHPAD, wrap(p->scratchpad, scratchpad(p->scratchpad.get_size())));
    p->primitive.execute(stream, args);
    stream.wait();
}

// Output dtypes a product of `inputs` may be stored in.
std::initializer_list<DType> out_dtypes(DType inputs) {
    static constexpr std::initializer_list<DType> f32_only = {DType::F32};
    static constexpr std::initializer_list<DType> f32_or_bf16 = {DType::F32, DType::BF16};
    return inputs == DType::BF16 ? f32_or_bf16 : f32_only;
}

void check_same_dtype(std::string_view op, std::string_view a_name, const Tensor& a, std::string_view b_name,
                      const Tensor& b) {
    if (a.dtype() != b.dtype())
        fail("{}: {} {} and {} {} have different dtypes; convert one (both f32 or both bf16)", op, a_name, a.describe(),
             b_name, b.describe());
}

// Fills `out` for a product with nothing to sum over (K == 0): zeros, plus the bias if there is one.
void fill_empty_product(Tensor& out, const Tensor& bias) {
    Tensor result = Tensor::zeros(out.shape(), DType::F32);
    if (bias.defined()) {
        const Tensor bias_f32 = to_f32(bias);
        for (int64_t row = 0; row < out.rows(); ++row)
            std::memcpy(result.data<float>() + row * out.cols(), bias_f32.raw(), bias_f32.nbytes());
    }
    convert_into(out, result);
}

struct MatmulPlan {
    Shape out_shape;
    MatmulKey key;
};

MatmulPlan plan_matmul(std::string_view op, const Tensor& a, const Tensor& b) {
    detail::check_float(op, "a", a);
    detail::check_float(op, "b", b);
    check_same_dtype(op, "a", a, "b", b);
    detail::check_min_rank(op, "a", a, 2);
    detail::check_min_rank(op, "b", b, 2);
    const int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
    if (b.dim(-2) != k)
        fail("{}: b {} does not match a {}: expected {} rows in b (the last dimension of a), got {}", op, b.describe(),
             a.describe(), k, b.dim(-2));
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(n);
    MatmulKey key{.batch = 1,
                  .m = a.rows(),
                  .n = n,
                  .k = k,
                  .row_length = n,
                  .weights_transposed = false,
                  .src = a.dtype(),
                  .weights = b.dtype(),
                  .dst = DType::F32,
                  .has_bias = false,
                  .bias = DType::F32};
    if (b.ndim() > 2) {
        const Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
        if (a_batch != b_batch)
            fail("{}: batch dimensions of a {} and b {} differ; expected b [K, N] or b with a's batch dimensions {}",
                 op, a.describe(), b.describe(), ttl::shape_str(a_batch));
        key.batch = a.rows() / std::max<int64_t>(m, 1);
        key.m = m;
    }
    return {out_shape, key};
}

// How a product is shared among workers: by batch if it has several, else by whichever of rows and
// columns is longer, which moves the least memory (each worker reads all of the other operand).
enum class Split { Batch, Rows, Columns };

struct Partition {
    Split split;
    int64_t extent;  // batches, rows or columns
    int64_t align;   // columns go in whole cache lines of output
    int parts;

    // [begin, end) of part w.
    std::pair<int64_t, int64_t> range(int w) const {
        auto edge = [&](int i) { return i == parts ? extent : (extent * i / parts + align / 2) / align * align; };
        return {edge(w), edge(w + 1)};
    }
};

Partition partition(int64_t batch, int64_t m, int64_t n) {
    const int threads = runtime::in_parallel_region() ? 1 : runtime::num_threads();
    Partition p{Split::Batch, batch, 1, 1};
    if (batch == 1) p = m > n ? Partition{Split::Rows, m, 1, 1} : Partition{Split::Columns, n, 16, 1};
    p.parts = static_cast<int>(std::clamp<int64_t>((p.extent + p.align - 1) / p.align, 1, threads));
    return p;
}

void run_product(Tensor& out, MatmulKey key, const Tensor& src, const Tensor& weights, const Tensor& bias) {
    if (out.numel() == 0) return;
    if (key.k == 0) return fill_empty_product(out, bias);
    key.dst = out.dtype();
    const int64_t src_size = ttl::dtype_size(key.src), weights_size = ttl::dtype_size(key.weights),
                  dst_size = ttl::dtype_size(key.dst), bias_size = ttl::dtype_size(key.bias);
    const Partition p = partition(key.batch, key.m, key.n);
    runtime::run_on_workers(p.parts, [&](int w) {
        const auto [begin, end] = p.range(w);
        MatmulKey part = key;
        const char* a = static_cast<const char*>(src.raw());
        const char* b = static_cast<const char*>(weights.raw());
        const char* bias_data = bias.defined() ? static_cast<const char*>(bias.raw()) : nullptr;
        char* c = static_cast<char*>(out.raw());
        switch (p.split) {
            case Split::Batch:
                part.batch = end - begin;
                a += begin * key.m * key.k * src_size;
                b += begin * key.k * key.n * weights_size;
                c += begin * key.m * key.n * dst_size;
                break;
            case Split::Rows:
                part.m = end - begin;
                a += begin * key.k * src_size;
                c += begin * key.row_length * dst_size;
                break;
            case Split::Columns:
                part.n = end - begin;
                b += (key.weights_transposed ? begin * key.k : begin) * weights_size;
                c += begin * dst_size;
                if (bias_data) bias_data += begin * bias_size;
                break;
        }
        if (part.batch > 0 && part.m > 0 && part.n > 0) execute(part, a, b, bias_data, c);
    });
}

MatmulPlan plan_linear(std::string_view op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    detail::check_float(op, "x", x);
    detail::check_float(op, "weight", weight);
    check_same_dtype(op, "x", x, "weight", weight);
    detail::check_min_rank(op, "x", x, 1);
    if (weight.ndim() != 2) fail("{}: weight {} must be 2-D [out_features, in_features]", op, weight.describe());
    const int64_t in_features = x.dim(-1), out_features = weight.dim(0);
    if (weight.dim(1) != in_features)
        fail("{}: weight {} does not match input features {} of x {}", op, weight.describe(), in_features,
             x.describe());
    MatmulKey key{.batch = 1,
                  .m = x.rows(),
                  .n = out_features,
                  .k = in_features,
                  .row_length = out_features,
                  .weights_transposed = true,
                  .src = x.dtype(),
                  .weights = weight.dtype(),
                  .dst = DType::F32,
                  .has_bias = false,
                  .bias = DType::F32};
    if (bias.defined()) {
        detail::check_dtype(op, "bias", bias, out_dtypes(x.dtype()));
        if (bias.shape() != Shape{out_features})
            fail("{}: bias {} does not match out_features {} of weight {}", op, bias.describe(), out_features,
                 weight.describe());
        key.has_bias = true;
        key.bias = bias.dtype();
    }
    Shape out_shape(x.shape().begin(), x.shape().end() - 1);
    out_shape.push_back(out_features);
    return {out_shape, key};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    const MatmulPlan plan = plan_matmul("matmul", a, b);
    Tensor out = Tensor::empty(plan.out_shape, DType::F32);
    run_product(out, plan.key, a, b, Tensor());
    return out;
}

void matmul_into(Tensor& out, const Tensor& a, const Tensor& b) {
    const MatmulPlan plan = plan_matmul("matmul_into", a, b);
    detail::check_out("matmul_into", out, plan.out_shape, out_dtypes(a.dtype()));
    run_product(out, plan.key, a, b, Tensor());
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const MatmulPlan plan = plan_linear("linear", x, weight, bias);
    Tensor out = Tensor::empty(plan.out_shape, DType::F32);
    run_product(out, plan.key, x, weight, bias);
    return out;
}

void linear_into(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const MatmulPlan plan = plan_linear("linear_into", x, weight, bias);
    detail::check_out("linear_into", out, plan.out_shape, out_dtypes(x.dtype()));
    run_product(out, plan.key, x, weight, bias);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M < 0 || N < 0 || K < 0) fail("sgemm: M, N, K must be >= 0, got {}, {}, {}", M, N, K);
    // Row-major: a row of A holds K values (M when transposed), a row of B N values (K), a row of C N.
    const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
    if (lda < std::max<int64_t>(1, a_cols)) fail("sgemm: lda {} is smaller than A's row length {}", lda, a_cols);
    if (ldb < std::max<int64_t>(1, b_cols)) fail("sgemm: ldb {} is smaller than B's row length {}", ldb, b_cols);
    if (ldc < std::max<int64_t>(1, N)) fail("sgemm: ldc {} is smaller than C's row length {}", ldc, N);
    if (M == 0 || N == 0) return;
    const Partition p = partition(1, M, N);
    std::atomic<dnnl_status_t> status{dnnl_success};
    runtime::run_on_workers(p.parts, [&](int w) {
        use_one_onednn_thread();
        const auto [begin, end] = p.range(w);
        const bool rows = p.split == Split::Rows;
        // Rows of C come from rows of op(A), columns of C from columns of op(B).
        const float* a = rows ? A + (trans_a ? begin : begin * lda) : A;
        const float* b = rows ? B : B + (trans_b ? begin * ldb : begin);
        float* c = C + (rows ? begin * ldc : begin);
        const dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', rows ? end - begin : M,
                                           rows ? N : end - begin, K, alpha, a, lda, b, ldb, beta, c, ldc);
        if (s != dnnl_success) status = s;
    });
    if (status != dnnl_success) fail("sgemm: oneDNN returned status {}", static_cast<int>(status.load()));
}

size_t matmul_cache_size() { return primitive_cache().size(); }

}  // namespace ttlm::ops
