// The executor: kernel functions as fibers on pinned workers, node admission, deadlock
// detection, and the end-of-launch checks of validate mode.
#include "ttl/operation.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "runtime/thread_pool.hpp"
#include "ttl/detail/pending_row_dots.hpp"
#include "ttl/detail/state.hpp"
#include "ttl/simd/prefetch.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ttl {

const ArchLimits& arch_limits(Arch arch) {
    // L1 available to dataflow buffers as tt-metal reports it; buffer counts from the TT-Lang
    // spec (Appendix E); full compute grids.
    static const ArchLimits wormhole{"Wormhole", 1499136, 32, {8, 8}};
    static const ArchLimits blackhole{"Blackhole", 1572864, 64, {13, 10}};
    return arch == Arch::Wormhole ? wormhole : blackhole;
}

ExecOptions& default_options() {
    static ExecOptions options;
    return options;
}

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Deadlock: return "deadlock";
        case ErrorKind::BlockState: return "block state";
        case ErrorKind::CopyShape: return "copy shape mismatch";
        case ErrorKind::TileBounds: return "tile index out of bounds";
        case ErrorKind::Unbalanced: return "unbalanced buffer use";
        case ErrorKind::PipeUnmatched: return "unmatched pipe transfer";
        case ErrorKind::WriteRace: return "write-write race";
        case ErrorKind::L1Overflow: return "L1 overflow";
        case ErrorKind::BufferCount: return "too many dataflow buffers";
        case ErrorKind::WrongThread: return "wrong kernel function";
        case ErrorKind::KernelCount: return "kernel function count";
        case ErrorKind::Shape: return "block shape mismatch";
        case ErrorKind::TransferNotWaited: return "transfer never waited";
    }
    return "?";
}

double RunReport::gbytes_per_second() const {
    double bytes = 0;
    for (const auto& k : kernels) bytes += static_cast<double>(k.bytes_moved);
    return seconds > 0 ? bytes / seconds / 1e9 : 0;
}

double RunReport::gflops() const {
    double f = 0;
    for (const auto& k : kernels) f += k.flops;
    return seconds > 0 ? f / seconds / 1e9 : 0;
}

std::string RunReport::to_string() const {
    std::string s = fmt::format("operation '{}': {} nodes on {} workers, {:.3f} ms, {:.2f} GB/s moved, {:.2f} GFLOP/s\n",
                                operation, nodes, workers, seconds * 1e3, gbytes_per_second(), gflops());
    for (const auto& b : buffers)
        s += fmt::format("  buffer {:<16} pushes {:>10}  peak {:>2} blocks  stalls: reserve {:>8} wait {:>8}\n", b.name,
                         b.pushes, b.peak_blocks, b.reserve_stalls, b.wait_stalls);
    for (const auto& k : kernels)
        s += fmt::format("  kernel {:<8} tiles {:>10}  bytes {:>12}  flops {:.3g}\n", k.name, k.tiles_moved, k.bytes_moved,
                         k.flops);
    return s;
}

namespace detail {


namespace {

// Thrown into a suspended kernel when its operation aborts, to unwind its stack.
struct Aborted {};

// Fiber stacks, pooled: a launch creates three per node, and mmap + guard page per fiber
// would dominate short launches.
class StackPool {
   public:
#if defined(__SANITIZE_ADDRESS__)
    static constexpr size_t kStack = 1 << 20;
#else
    static constexpr size_t kStack = 256 << 10;
#endif
    static StackPool& instance() {
        static StackPool pool;
        return pool;
    }
    // Gives the task a stack (its mapping, and its bounds: AddressSanitizer needs them at every
    // switch); returns the stack's top.
    char* allocate(Task& t) {
        const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        void* base = nullptr;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!free_.empty()) {
                base = free_.back();
                free_.pop_back();
            }
        }
        if (!base) {
            base = mmap(nullptr, kStack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (base == MAP_FAILED) throw std::bad_alloc();
            mprotect(base, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
        }
#if defined(__SANITIZE_ADDRESS__)
        // A reused stack may still carry the redzones of the fiber that ran on it before.
        __asan_unpoison_memory_region(static_cast<char*>(base) + page, kStack);
#endif
        t.stack = base;
        t.stack_bottom = static_cast<char*>(base) + page;
        t.stack_size = kStack;
        return static_cast<char*>(base) + page + kStack;
    }
    // Takes the stack back once its kernel has finished (or will never run again).
    void release(Task& t) {
        if (!t.stack) return;
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(t.stack);
        t.stack = nullptr;
    }

   private:
    std::mutex mutex_;
    std::vector<void*> free_;
};

// Node memory (the node's "L1"), reused across nodes and launches on a thread.
thread_local std::vector<NodeMemory> t_node_memory;
thread_local std::vector<size_t> t_node_memory_size;

NodeMemory take_node_memory(size_t bytes) {
    for (size_t i = 0; i < t_node_memory.size(); ++i)
        if (t_node_memory_size[i] >= bytes) {
            auto m = std::move(t_node_memory[i]);
            t_node_memory.erase(t_node_memory.begin() + static_cast<long>(i));
            t_node_memory_size.erase(t_node_memory_size.begin() + static_cast<long>(i));
            return m;
        }
    char* p = static_cast<char*>(std::aligned_alloc(64, (std::max<size_t>(bytes, 64) + 63) / 64 * 64));
    if (!p) throw std::bad_alloc();
    return NodeMemory(p);
}

void give_node_memory(NodeMemory m, size_t bytes) {
    if (!m || t_node_memory.size() >= 8) return;
    t_node_memory.push_back(std::move(m));
    t_node_memory_size.push_back(bytes);
}

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

}  // namespace

const char* kernel_name(KernelKind kind) {
    switch (kind) {
        case KernelKind::Reader: return "reader";
        case KernelKind::Compute: return "compute";
        case KernelKind::Writer: return "writer";
    }
    return "?";
}

const char* block_state_name(BlockState s) {
    switch (s) {
        case BlockState::MustWrite: return "reserved, not yet written";
        case BlockState::MustRead: return "written, not yet read";
        case BlockState::ReadWrite: return "read";
        case BlockState::CopyWriting: return "being written by a copy";
        case BlockState::CopyReading: return "being read by a copy";
        case BlockState::Free: return "released";
    }
    return "?";
}

std::string where_str(std::source_location where) {
    std::string_view file = where.file_name();
    auto slash = file.rfind('/');
    if (slash != std::string_view::npos) file = file.substr(slash + 1);
    return fmt::format("{}:{}", file, where.line());
}

std::string context(const Task* task, std::source_location where) {
    if (!task) return fmt::format("at {}", where_str(where));
    const NodeState& n = *task->node;
    return fmt::format("node ({}, {}), {} kernel [worker thread {}], at {}", n.coord.x, n.coord.y,
                       kernel_name(task->kind), task->worker, where_str(where));
}

void raise(ErrorKind kind, const Task* task, std::source_location where, const std::string& message) {
    std::string op = t_current_op ? fmt::format("operation '{}', ", t_current_op->name) : std::string();
    throw Error(kind, fmt::format("ttl {}: {}{}: {}", error_kind_name(kind), op, context(task, where), message));
}

Task& require_task(const char* what, std::source_location where) {
    Task* t = t_current_task;
    if (!t)
        throw Error(ErrorKind::WrongThread,
                    fmt::format("ttl: {} called outside a kernel function, at {}", what, where_str(where)));
    t->last_call = where;
    return *t;
}

void require_kind(const Task& task, bool datamovement, const char* what, std::source_location where) {
    bool is_dm = task.kind != KernelKind::Compute;
    if (is_dm != datamovement)
        raise(ErrorKind::WrongThread, &task, where,
              datamovement ? fmt::format("{} in the compute kernel: copies belong to data-movement kernels", what)
                           : fmt::format("{} in a data-movement kernel: block math and store belong to the compute kernel",
                                         what));
}

namespace {

// The worker loop's context while one of its kernels runs. A kernel that blocks hands control
// straight to a runnable sibling of its node (fast mode: one context switch per hand-off) or back
// to the loop. Whoever jumps names itself in t_switch_from, and the context it lands in stores
// the jumper's context: in the jumper's Task, or, for the loop, in t_worker_loop.
thread_local Context t_worker_loop = nullptr;
thread_local Task* t_switch_from = nullptr;
// Nodes the worker loop has started and not finished: hand-offs go straight to a sibling only
// while there is one, so the loop still gets to poll other nodes (pipes) when there are several.
thread_local size_t t_active_nodes = 0;

bool task_ready(const Task& t) { return !t.finished && (!t.blocked.ready || t.blocked.ready(t.blocked.arg)); }

thread_local void* t_loop_fake_stack = nullptr;  // AddressSanitizer's, while the loop's stack is left

// AddressSanitizer must be told of every stack switch (else it misreads the fiber stacks).
#if defined(__SANITIZE_ADDRESS__)
thread_local const void* t_loop_stack_bottom = nullptr;
thread_local size_t t_loop_stack_size = 0;
// Before leaving a context; `save` is null when the context is finishing for good.
void asan_leave(void** save, const Task* to) {
    __sanitizer_start_switch_fiber(save, to ? to->stack_bottom : t_loop_stack_bottom,
                                   to ? to->stack_size : t_loop_stack_size);
}
// On arriving in a context; the loop's stack bounds are learnt from the first switch out of it.
void asan_arrive(void* saved, bool from_loop) {
    const void* bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(saved, &bottom, &size);
    if (from_loop) {
        t_loop_stack_bottom = bottom;
        t_loop_stack_size = size;
    }
}
#else
void asan_leave(void**, const Task*) {}
void asan_arrive(void*, bool) {}
#endif

void enter(Task& t) {
    t.started = true;
    t_current_task = &t;
    t_current_op = t.node->op;
    t_current_dfbs = t.node->dfbs.data();
}

// Called where a context regains control, with the context of the one that jumped here.
void arrived(Context from) {
    if (t_switch_from)
        t_switch_from->context = from;
    else
        t_worker_loop = from;
}

Task* runnable_sibling(const Task& t) {
    NodeState& n = *t.node;
    for (int i = 1; i < 3; ++i) {
        Task& s = n.tasks[(static_cast<int>(t.kind) + i) % 3];
        if (task_ready(s)) return &s;
    }
    return nullptr;
}

// Records why the running kernel blocks and enters the one to run next: a runnable sibling
// (fast mode, while its node is the worker's only one) or, when null, the worker loop.
Task* block_running(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where) {
    Task* t = t_current_task;
    t->blocked = {ready, describe, arg, where};
    Task* next = t_active_nodes > 1 || t_current_op->validating() ? nullptr : runnable_sibling(*t);
    t_switch_from = t;
    if (next) enter(*next);
    return next;
}

Context take_context(Task* next) { return std::exchange(next ? next->context : t_worker_loop, nullptr); }

}  // namespace

Context leave(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where) {
    return take_context(block_running(ready, describe, arg, where));
}

void arrive(boost::context::detail::transfer_t from) {
    arrived(from.fctx);
    t_current_task->blocked.ready = nullptr;
    if (t_current_op && t_current_op->abort.load(std::memory_order_relaxed)) throw Aborted{};
}

void suspend_until(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where) {
    Task* t = t_current_task;
    Task* next = block_running(ready, describe, arg, where);
    asan_leave(&t->asan_fake_stack, next);
    auto from = boost::context::detail::jump_fcontext(take_context(next), nullptr);
    asan_arrive(t->asan_fake_stack, t_switch_from == nullptr);
    arrive(from);
}

void OperationState::fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = e;
    abort.store(true);
}

namespace {

// From the worker loop: run t (and whatever it hands over to) until control comes back.
void resume(Task& t) {
    enter(t);
    t_switch_from = nullptr;
    asan_leave(&t_loop_fake_stack, &t);
    auto from = boost::context::detail::jump_fcontext(take_context(&t), nullptr);
    asan_arrive(t_loop_fake_stack, false);
    arrived(from.fctx);
    t_current_task = nullptr;
    t_current_dfbs = nullptr;
}

// A kernel fiber's first frame: runs the kernel function, then leaves for good (its stack goes
// back to the pool when its node retires).
[[noreturn]] void kernel_entry(boost::context::detail::transfer_t from) {
    asan_arrive(nullptr, t_switch_from == nullptr);
    arrived(from.fctx);
    Task& t = *t_current_task;
    OperationState& op = *t.node->op;
    try {
        if (!op.abort.load()) op.kernels[static_cast<int>(t.kind)]();
    } catch (const Aborted&) {
    } catch (...) {
        op.fail(std::current_exception());
    }
    drop_row_dots();  // sums the kernel never used: their blocks go with the node
    t.finished = true;
    t_switch_from = &t;
    asan_leave(nullptr, nullptr);
    boost::context::detail::jump_fcontext(take_context(nullptr), nullptr);
    std::abort();  // a finished kernel is never resumed
}

void release_stacks(NodeState& node) {
    for (Task& t : node.tasks) StackPool::instance().release(t);
}

void check_node_end(OperationState& op, NodeState& node) {
    for (DfbState& d : node.dfbs) {
        if (d.visible > 0) {
            const Task* producer = d.producer >= 0 ? &node.tasks[d.producer] : nullptr;
            raise(ErrorKind::Unbalanced, producer, d.spec->where,
                  fmt::format("dataflow buffer '{}': {} block(s) pushed but never consumed ({} pushed, {} popped) — "
                              "every reserve/push needs a matching wait/pop",
                              d.spec->name, d.visible, d.pushes, d.pops));
        }
    }
}

void admit(OperationState& op, NodeState& node, int worker) {
    size_t bytes = 0;
    for (const auto& spec : op.dfbs) bytes += align64(spec->block_bytes * static_cast<size_t>(spec->block_count));
    node.memory = take_node_memory(bytes);
    char* p = node.memory.get();
    node.dfbs.resize(op.dfbs.size());
    for (size_t i = 0; i < op.dfbs.size(); ++i) {
        DfbState& d = node.dfbs[i];
        d.spec = op.dfbs[i].get();
        d.index = static_cast<int>(i);
        d.node = &node;
        d.op = &op;
        d.validating = op.validating();
        d.base = p;
        d.capacity = d.spec->block_count;
        if (op.validating()) d.slots.assign(static_cast<size_t>(d.capacity), SlotState{});
        d.zero_rows_from.assign(static_cast<size_t>(d.capacity), d.spec->shape.rows * kTileDim);
        d.deferred.assign(static_cast<size_t>(d.capacity), {});
        d.writing.assign(static_cast<size_t>(d.capacity), 0);
        p += align64(d.spec->block_bytes * static_cast<size_t>(d.spec->block_count));
    }
    for (int k = 0; k < 3; ++k) {
        Task& t = node.tasks[k];
        t.node = &node;
        t.kind = static_cast<KernelKind>(k);
        t.worker = worker;
        t.context = boost::context::detail::make_fcontext(StackPool::instance().allocate(t), t.stack_size, kernel_entry);
    }
}

void merge_stats(OperationState& op, NodeState& node) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    auto& r = op.report;
    for (size_t i = 0; i < node.dfbs.size(); ++i) {
        auto& b = r.buffers[i];
        const DfbState& d = node.dfbs[i];
        b.pushes += d.pushes;
        b.peak_blocks = std::max(b.peak_blocks, d.peak);
        b.reserve_stalls += d.reserve_stalls;
        b.wait_stalls += d.wait_stalls;
    }
    for (int k = 0; k < 3; ++k) {
        auto& kr = r.kernels[static_cast<size_t>(k)];
        kr.tiles_moved += node.tasks[k].tiles_moved;
        kr.bytes_moved += node.tasks[k].bytes_moved;
        kr.flops += node.tasks[k].flops;
    }
}

void retire(OperationState& op, NodeState& node) {
    merge_stats(op, node);
    if (op.validating() && !op.abort.load()) {
        try {
            check_node_end(op, node);
        } catch (...) {
            op.fail(std::current_exception());
        }
    }
    ttl::simd::background_writes.finish_all();  // before the node's blocks go
    size_t bytes = 0;
    for (const auto& spec : op.dfbs) bytes += align64(spec->block_bytes * static_cast<size_t>(spec->block_count));
    give_node_memory(std::move(node.memory), bytes);
    release_stacks(node);
}

std::string deadlock_report(const OperationState& op) {
    std::string lines;
    int blocked = 0;
    for (const auto& n : op.nodes) {
        if (!n || n->finished_tasks == 3 || !n->tasks[0].node) continue;
        for (const Task& t : n->tasks) {
            if (t.finished || !t.started) continue;
            ++blocked;
            std::string what = t.blocked.describe ? t.blocked.describe(t.blocked.arg) : std::string("runnable");
            lines += fmt::format("\n  node ({}, {}) {} kernel [worker thread {}] at {}: {}", n->coord.x, n->coord.y,
                                 kernel_name(t.kind), t.worker, where_str(t.blocked.where), what);
        }
    }
    return fmt::format("ttl deadlock: operation '{}' cannot make progress; {} kernel function(s) are blocked:{}", op.name,
                       blocked, lines);
}

// Work distribution for fast mode: workers take the next node when they have nothing runnable.
struct NodeQueue {
    std::atomic<int> next{0};
    int count = 0;
    int pull() {
        int i = next.fetch_add(1);
        return i < count ? i : -1;
    }
    bool empty() const { return next.load() >= count; }
};

constexpr uint64_t kNotStuck = ~uint64_t{0};
constexpr uint64_t kDone = ~uint64_t{0} - 1;

struct Workers {
    std::vector<std::atomic<uint64_t>> stuck_at;
    explicit Workers(int n) : stuck_at(static_cast<size_t>(n)) {
        for (auto& s : stuck_at) s.store(kNotStuck);
    }
};

void worker_loop(OperationState& op, int w, NodeQueue& queue, Workers& workers, bool admit_all) {
    t_current_op = &op;
    ttl::simd::background_reads.clear();  // reads another operation expected
    std::vector<NodeState*> active;
    auto start_node = [&](int idx) {
        NodeState& n = *op.nodes[static_cast<size_t>(idx)];
        admit(op, n, w);
        active.push_back(&n);
        t_active_nodes = active.size();
    };
    if (admit_all) {
        for (int i; (i = queue.pull()) >= 0;) start_node(i);
    } else if (int i = queue.pull(); i >= 0) {
        start_node(i);
    }
    std::mt19937_64 rng(op.options.seed);
    const bool random_order = op.validating() && op.options.seed != 0;
    std::vector<Task*> ready;

    auto run_task = [&](Task& t) {
        NodeState& n = *t.node;
        resume(t);
        // Kernels of this node may have finished while they handed control among themselves.
        int finished = 0;
        for (const Task& k : n.tasks) finished += k.finished;
        if (finished > n.finished_tasks) {
            n.finished_tasks = finished;
            if (finished == 3) {
                retire(op, n);
                active.erase(std::find(active.begin(), active.end(), &n));
                t_active_nodes = active.size();
            }
        }
    };

    while (!op.abort.load(std::memory_order_relaxed)) {
        bool progress = false;
        if (random_order) {
            ready.clear();
            for (NodeState* n : active)
                for (Task& t : n->tasks)
                    if (task_ready(t)) ready.push_back(&t);
            if (!ready.empty()) {
                run_task(*ready[rng() % ready.size()]);
                progress = true;
            }
        } else {
            for (size_t ni = 0; ni < active.size(); ++ni) {
                NodeState* n = active[ni];
                for (Task& t : n->tasks) {
                    if (!task_ready(t)) continue;
                    run_task(t);
                    progress = true;
                    if (ni >= active.size() || active[ni] != n) break;  // node retired
                }
            }
        }
        if (progress) continue;
        if (int i = queue.pull(); i >= 0) {
            start_node(i);
            continue;
        }
        if (active.empty()) break;
        ttl::simd::background_writes.finish_all();  // idle: time to write
        // Nothing runnable here: another worker may still unblock us over a pipe.
        const uint64_t epoch = op.pipe_epoch.load();
        bool any = false;
        for (NodeState* n : active)
            for (Task& t : n->tasks) any = any || task_ready(t);
        if (any) continue;
        workers.stuck_at[static_cast<size_t>(w)].store(epoch);
        for (unsigned spins = 0;;) {
            if (op.abort.load()) break;
            if (op.pipe_epoch.load() != epoch) break;
            bool all_stuck = true;
            for (auto& s : workers.stuck_at) {
                uint64_t v = s.load();
                if (v != kDone && v != epoch) all_stuck = false;
            }
            if (all_stuck && op.pipe_epoch.load() == epoch) {
                // A pipe transfer whose partner is gone is the root cause: report it as such.
                std::string report = deadlock_report(op);
                ErrorKind kind = report.find("never matched") != std::string::npos ? ErrorKind::PipeUnmatched
                                                                                   : ErrorKind::Deadlock;
                op.fail(std::make_exception_ptr(Error(kind, report)));
                break;
            }
            // Spin first: another worker unblocks us within microseconds, and a yield on a busy
            // machine can cost a whole time slice.
            if (++spins % 64 == 0) std::this_thread::yield();
            __builtin_ia32_pause();
        }
        workers.stuck_at[static_cast<size_t>(w)].store(kNotStuck);
    }
    workers.stuck_at[static_cast<size_t>(w)].store(kDone);
    ttl::simd::background_writes.clear();  // left only by nodes that did not finish (the operation failed)
    t_current_op = nullptr;
}

}  // namespace
}  // namespace detail

using namespace detail;

Operation::Operation(std::string name, Grid grid) : state_(std::make_unique<OperationState>()) {
    state_->name = std::move(name);
    state_->grid = grid;
}

Operation::~Operation() = default;

void Operation::compute(std::function<void()> fn) {
    if (state_->has_compute)
        throw Error(ErrorKind::KernelCount,
                    fmt::format("ttl: operation '{}' defines a second compute kernel function; a node runs exactly one",
                                state_->name));
    state_->kernels[static_cast<int>(KernelKind::Compute)] = std::move(fn);
    state_->has_compute = true;
}

void Operation::datamovement(std::function<void()> fn) {
    if (state_->datamovement_count == 2)
        throw Error(ErrorKind::KernelCount,
                    fmt::format("ttl: operation '{}' defines a third data-movement kernel function; a node has two "
                                "(a reader and a writer: one per NOC)",
                                state_->name));
    int slot = state_->datamovement_count++ == 0 ? static_cast<int>(KernelKind::Reader) : static_cast<int>(KernelKind::Writer);
    state_->kernels[slot] = std::move(fn);
}

const std::string& Operation::name() const { return state_->name; }

namespace {
Coord resolve_grid(const OperationState& op, int workers) {
    if (!op.grid.is_auto()) return {op.grid.x, op.grid.y};
    // "auto": enough nodes for the workers to share the work with some balance, few enough that
    // each node streams long runs of tiles.
    return {std::max(1, workers * 4), 1};
}
}  // namespace

Coord Operation::grid_size() const {
    return resolve_grid(*state_, std::max(1, ttlm::runtime::num_threads()));
}

RunReport Operation::run(std::source_location loc) { return run(default_options(), loc); }

RunReport Operation::run(const ExecOptions& options, std::source_location loc) {
    OperationState& op = *state_;
    op.options = options;
    op.run_at = loc;
    if (!op.has_compute || op.datamovement_count != 2)
        throw Error(ErrorKind::KernelCount,
                    fmt::format("ttl kernel function count: operation '{}' (run at {}) defines {} compute and {} "
                                "data-movement kernel functions; TT-Lang requires exactly one compute and two "
                                "data-movement (reader, writer) per node",
                                op.name, where_str(loc), op.has_compute ? 1 : 0, op.datamovement_count));

    int pool = std::max(1, ttlm::runtime::num_threads());
    int workers = options.workers > 0 ? std::min(options.workers, pool) : pool;
    if (ttlm::runtime::in_parallel_region() || op.validating()) workers = 1;
    op.size = resolve_grid(op, pool);
    if (op.size.x <= 0 || op.size.y <= 0)
        throw Error(ErrorKind::Shape, fmt::format("ttl: operation '{}' has an empty grid {}x{}", op.name, op.size.x, op.size.y));
    const int count = op.size.x * op.size.y;
    workers = std::min(workers, count);

    if (op.validating()) {
        const ArchLimits& arch = arch_limits(options.arch);
        if (static_cast<int>(op.dfbs.size()) > arch.max_buffers)
            throw Error(ErrorKind::BufferCount,
                        fmt::format("ttl too many dataflow buffers: operation '{}' (run at {}) uses {} dataflow buffers "
                                    "per node; {} has {}",
                                    op.name, where_str(loc), op.dfbs.size(), arch.name, arch.max_buffers));
        size_t total = 0;
        std::string lines;
        for (const auto& d : op.dfbs) {
            size_t b = d->block_bytes * static_cast<size_t>(d->block_count);
            total += b;
            lines += fmt::format("\n  '{}' ({}): {} blocks x {}x{} tiles x {} B = {} B", d->name, where_str(d->where),
                                 d->block_count, d->shape.rows, d->shape.cols, tile_bytes(d->dtype), b);
        }
        if (total > arch.l1_bytes)
            throw Error(ErrorKind::L1Overflow,
                        fmt::format("ttl L1 overflow: operation '{}' (run at {}) needs {} B of L1 per node for its "
                                    "dataflow buffers; {} has {} B:{}",
                                    op.name, where_str(loc), total, arch.name, arch.l1_bytes, lines));
    }

    op.nodes.clear();
    for (int i = 0; i < count; ++i) {
        auto n = std::make_unique<NodeState>();
        n->op = &op;
        n->index = i;
        // Linear order as TT-Lang's node(dims=1): x * grid_y + y.
        n->coord = {i / op.size.y, i % op.size.y};
        op.nodes.push_back(std::move(n));
    }
    for (auto& net : op.pipe_nets) {
        net->channels.clear();
        net->channels.resize(net->pipes.size());
        for (size_t p = 0; p < net->pipes.size(); ++p) {
            const Pipe& pipe = net->pipes[p];
            for (const auto& n : op.nodes)
                if (pipe.dst.contains(n->coord)) {
                    auto ch = std::make_unique<PipeChannel>();
                    ch->dst_node = n->index;
                    net->channels[p].emplace(n->index, std::move(ch));
                }
            if (pipe.src.x < 0 || pipe.src.x >= op.size.x || pipe.src.y < 0 || pipe.src.y >= op.size.y ||
                net->channels[p].empty() || pipe.dst.x.end > op.size.x || pipe.dst.y.end > op.size.y ||
                pipe.dst.x.begin < 0 || pipe.dst.y.begin < 0)
                throw Error(ErrorKind::PipeUnmatched,
                            fmt::format("ttl: pipe net '{}' pipe {} from ({}, {}) to x [{}, {}) y [{}, {}) leaves the "
                                        "{}x{} grid of operation '{}'",
                                        net->name, p, pipe.src.x, pipe.src.y, pipe.dst.x.begin, pipe.dst.x.end,
                                        pipe.dst.y.begin, pipe.dst.y.end, op.size.x, op.size.y, op.name));
        }
        net->receives.clear();
    }
    op.abort.store(false);
    op.error = nullptr;
    op.pipe_epoch.store(0);
    op.tile_writers.clear();
    op.report = RunReport{};
    op.report.operation = op.name;
    op.report.nodes = count;
    op.report.workers = workers;
    for (const auto& d : op.dfbs) op.report.buffers.push_back({d->name});
    op.report.kernels = {{"reader"}, {"compute"}, {"writer"}};

    NodeQueue queue;
    queue.count = count;
    Workers stuck(workers);
    auto t0 = std::chrono::steady_clock::now();
    try {
        ttlm::runtime::run_on_workers(workers, [&](int w) { worker_loop(op, w, queue, stuck, op.validating()); });
    } catch (...) {
        op.fail(std::current_exception());
    }
    op.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Unwind kernels left suspended by an error: resumed, each throws at its blocking call and
    // unwinds (Block destructors see the abort); a kernel that never started returns at once.
    if (op.abort.load()) {
        t_current_op = &op;
        t_active_nodes = 0;
        for (auto& n : op.nodes) {
            if (!n) continue;
            for (Task& t : n->tasks)
                while (t.context && !t.finished) resume(t);
            release_stacks(*n);
        }
        t_current_op = nullptr;
    }
    if (op.error) {
        auto e = op.error;
        op.nodes.clear();
        std::rethrow_exception(e);
    }
    if (op.validating()) {
        for (auto& net : op.pipe_nets)
            for (size_t p = 0; p < net->pipes.size(); ++p)
                for (auto& [dst, ch] : net->channels[p])
                    if (ch->posts.load() != ch->deliveries.load()) {
                        const Pipe& pipe = net->pipes[p];
                        const Coord d = op.nodes[static_cast<size_t>(dst)]->coord;
                        throw Error(ErrorKind::PipeUnmatched,
                                    fmt::format("ttl unmatched pipe transfer: operation '{}': node ({}, {}) posted {} "
                                                "receive(s) on pipe net '{}' from node ({}, {}), which sent {}: a pipe "
                                                "receive never matched by a send",
                                                op.name, d.x, d.y, ch->posts.load(), net->name, pipe.src.x, pipe.src.y,
                                                ch->deliveries.load()));
                    }
    }
    op.nodes.clear();
    if (options.report) fmt::print(stderr, "{}", op.report.to_string());
    return op.report;
}

Coord node() {
    Task* t = current_task();
    if (!t) throw Error(ErrorKind::WrongThread, "ttl::node() called outside a kernel function");
    return t->node->coord;
}

Coord grid_size() {
    if (!t_current_op) throw Error(ErrorKind::WrongThread, "ttl::grid_size() called outside a kernel function");
    return t_current_op->size;
}

int node_index() {
    Coord c = node();
    return c.x * grid_size().y + c.y;
}

WorkRange node_work(int64_t total) {
    const int64_t n = node_count(), i = node_index();
    return {total * i / n, total * (i + 1) / n};
}

int node_count() {
    Coord g = grid_size();
    return g.x * g.y;
}

}  // namespace ttl
