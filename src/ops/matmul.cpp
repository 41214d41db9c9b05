#include "ops/matmul.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/detail.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

// The CPUs this process may use, read before anything pins the main thread: the runtime pins the
// calling thread to one CPU when it starts its workers, and threads inherit their creator's mask.
const std::vector<int> g_process_cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}();

// Sets OpenMP's thread count (what oneDNN uses) to the runtime's, per calling thread, and returns it.
// OpenMP creates its threads from the (pinned) calling thread, so they would all share its CPU: each
// is pinned to its own CPU, as the runtime's workers are.
int sync_onednn_threads() {
    // A runtime worker is already one of the runtime's threads: oneDNN must not fan out below it.
    const int threads = runtime::in_parallel_region() ? 1 : runtime::num_threads();
    thread_local int applied = 0;  // OpenMP's setting is per thread
    if (threads != applied) {
        omp_set_num_threads(threads);
        if (threads > 1 && !g_process_cpus.empty()) {
#pragma omp parallel num_threads(threads)
            {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(g_process_cpus[omp_get_thread_num() % g_process_cpus.size()], &set);
                pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort: failure costs speed only
            }
        }
        applied = threads;
    }
    return threads;
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
struct MatmulKey {
    int64_t batch, m, n, k;
    bool weights_transposed;
    DType src, weights, dst;
    bool has_bias;
    DType bias;
    int threads;  // oneDNN fixes a primitive's thread partition when it is created

    bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
    size_t operator()(const MatmulKey& key) const {
        size_t h = 0;
        auto mix = [&h](uint64_t v) { h ^= std::hash<uint64_t>()(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
        for (int64_t v : {key.batch, key.m, key.n, key.k}) mix(static_cast<uint64_t>(v));
        mix(static_cast<uint64_t>(key.weights_transposed) | static_cast<uint64_t>(key.src) << 1 |
            static_cast<uint64_t>(key.weights) << 9 | static_cast<uint64_t>(key.dst) << 17 |
            static_cast<uint64_t>(key.has_bias) << 25 | static_cast<uint64_t>(key.bias) << 26);
        mix(static_cast<uint64_t>(key.threads));
        return h;
    }
};

struct MatmulPrimitive {
    dnnl::matmul primitive;
    dnnl::memory::desc src, weights, bias, dst, scratchpad;
};

MatmulPrimitive create_primitive(const MatmulKey& key) {
    using dims = dnnl::memory::dims;
    const bool batched = key.batch > 1;
    auto desc = [&](int64_t rows, int64_t cols, DType t, bool transposed) {
        const dims shape = batched ? dims{key.batch, rows, cols} : dims{rows, cols};
        const dims strides = transposed ? (batched ? dims{rows * cols, 1, rows} : dims{1, rows})
                                        : (batched ? dims{rows * cols, cols, 1} : dims{cols, 1});
        return dnnl::memory::desc(shape, onednn_type(t), strides);
    };
    MatmulPrimitive p;
    p.src = desc(key.m, key.k, key.src, false);
    p.weights = desc(key.k, key.n, key.weights, key.weights_transposed);
    p.dst = desc(key.m, key.n, key.dst, false);
    if (key.has_bias) {
        p.bias = dnnl::memory::desc(batched ? dims{1, 1, key.n} : dims{1, key.n}, onednn_type(key.bias),
                                    batched ? dims{key.n, key.n, 1} : dims{key.n, 1});
    }
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
        const Tensor bias_f32 = bias.to(DType::F32);
        float* r = result.data<float>();
        for (int64_t row = 0; row < out.rows(); ++row)
            std::memcpy(r + row * out.cols(), bias_f32.raw(), bias_f32.nbytes());
    }
    const Tensor converted = result.to(out.dtype());
    std::memcpy(out.raw(), converted.raw(), out.nbytes());
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
    MatmulKey key{1, a.rows(), n, k, false, a.dtype(), b.dtype(), DType::F32, false, DType::F32, 0};
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

void run_product(Tensor& out, MatmulKey key, const Tensor& src, const Tensor& weights, const Tensor& bias) {
    if (out.numel() == 0) return;
    if (key.k == 0) return fill_empty_product(out, bias);
    key.dst = out.dtype();
    key.threads = sync_onednn_threads();
    execute(key, src.raw(), weights.raw(), bias.defined() ? bias.raw() : nullptr, out.raw());
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
    MatmulKey key{1,          x.rows(), out_features, in_features, true, x.dtype(), weight.dtype(), DType::F32, false,
                  DType::F32, 0};
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
    sync_onednn_threads();
    const dnnl_status_t status =
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (status != dnnl_success) fail("sgemm: oneDNN returned status {}", static_cast<int>(status));
}

size_t matmul_cache_size() { return primitive_cache().size(); }

}  // namespace ttlm::ops
