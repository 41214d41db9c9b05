// The executor's internal state: operations, nodes, kernel fibers, buffer rings, pipes.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <unordered_map>
#include <vector>

#include "ttl/copy.hpp"
#include "ttl/detail/ring.hpp"
#include "ttl/dataflow_buffer.hpp"
#include "ttl/operation.hpp"
#include "ttl/pipe.hpp"

namespace ttl::detail {

enum class KernelKind : uint8_t { Reader = 0, Compute = 1, Writer = 2 };
const char* kernel_name(KernelKind kind);

struct BlockedOn {
    ReadyFn ready = nullptr;  // null: runnable
    DescribeFn describe = nullptr;
    const void* arg = nullptr;
    std::source_location where;
};

struct Task {
    NodeState* node = nullptr;
    KernelKind kind = KernelKind::Compute;
    Context context = nullptr;  // the suspended kernel (null while it runs)
    void* stack = nullptr;      // the fiber's stack mapping, from the pool
    const void* stack_bottom = nullptr;  // the fiber's stack, for AddressSanitizer's switch notes
    size_t stack_size = 0;
    void* asan_fake_stack = nullptr;
    bool started = false;
    bool finished = false;
    BlockedOn blocked;
    std::source_location last_call;  // most recent ttl call, for messages of operators without a location
    int worker = 0;
    // statistics
    int64_t tiles_moved = 0, bytes_moved = 0;
    double flops = 0;
};

// A node's L1: 64-byte aligned memory from aligned_alloc.
struct FreeMemory {
    void operator()(char* p) const { std::free(p); }
};
using NodeMemory = std::unique_ptr<char, FreeMemory>;

struct NodeState {
    OperationState* op = nullptr;
    Coord coord;
    int index = 0;
    std::vector<DfbState> dfbs;
    Task tasks[3];
    int finished_tasks = 0;
    NodeMemory memory;
};

struct PostedReceive;
struct PipeNetState;

// A copy in flight: validate mode defers every copy to its wait(); pipe receives always wait.
struct TransferState {
    enum class Kind : uint8_t { TensorToBlock, BlockToTensor, PipeReceive } kind = Kind::TensorToBlock;
    Task* owner = nullptr;
    DfbState* dfb = nullptr;
    int slot = 0;
    std::source_location where;
    std::function<void()> complete;  // the deferred data movement
    PostedReceive* receive = nullptr;
    const PipeNetState* net = nullptr;
    int pipe = 0;
    bool waited = false;
};

// A receive posted into a block, waiting for the pipe's sender.
struct PostedReceive {
    DfbState* dfb = nullptr;
    int slot = 0;
    std::atomic<bool> delivered{false};
    std::source_location where;
};

// Per (pipe, destination node): receives posted and sends delivered.
struct PipeChannel {
    std::mutex mutex;
    std::deque<PostedReceive*> posted;  // not yet delivered, FIFO
    std::atomic<int64_t> posts{0}, deliveries{0};
    int dst_node = 0;
};

struct PipeNetState {
    OperationState* op = nullptr;
    std::string name;
    std::vector<Pipe> pipes;
    // channels[pipe] maps destination node index -> channel
    std::vector<std::unordered_map<int, std::unique_ptr<PipeChannel>>> channels;
    std::vector<std::unique_ptr<PostedReceive>> receives;  // owned for the run
    std::mutex receives_mutex;
};

struct TileWrite {
    int node = -1;
    std::source_location where;
};

struct OperationState {
    std::string name;
    Grid grid;
    Coord size;  // resolved grid
    ExecOptions options;
    std::function<void()> kernels[3];
    int datamovement_count = 0;
    bool has_compute = false;
    std::vector<std::unique_ptr<DfbSpec>> dfbs;
    std::vector<std::unique_ptr<PipeNetState>> pipe_nets;
    std::source_location run_at;

    // run state
    std::vector<std::unique_ptr<NodeState>> nodes;
    std::atomic<bool> abort{false};
    std::mutex error_mutex;
    std::exception_ptr error;
    std::atomic<uint64_t> pipe_epoch{0};  // bumped by every pipe post/delivery (wakes other workers)
    // validate: last writer of each DRAM tile in this launch
    std::unordered_map<const void*, std::unordered_map<uint64_t, TileWrite>> tile_writers;
    RunReport report;

    void fail(std::exception_ptr e);
    bool validating() const { return options.mode == Mode::Validate; }
};

// The kernel fiber running on this thread (null outside kernels).
inline thread_local Task* t_current_task = nullptr;
inline Task* current_task() { return t_current_task; }
// Suspends the current kernel until `ready(arg)` holds, unless it holds already.
inline void block_until(ReadyFn ready, DescribeFn describe, const void* arg, std::source_location where) {
    if (!ready(arg)) suspend_until(ready, describe, arg, where);
}

// Formats "operation 'x', node (1, 0), compute kernel [worker 0], at file:line: message".
std::string context(const Task* task, std::source_location where);
[[noreturn]] void raise(ErrorKind kind, const Task* task, std::source_location where, const std::string& message);
// The current task, or an Error if called outside a kernel function.
Task& require_task(const char* what, std::source_location where);
void require_kind(const Task& task, bool datamovement, const char* what, std::source_location where);

std::string where_str(std::source_location where);

}  // namespace ttl::detail
