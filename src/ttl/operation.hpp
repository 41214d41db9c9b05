// ttl::Operation: one kernel launch on a grid of nodes.
//
// As in TT-Lang, every node of the grid runs exactly three kernel functions: one compute
// function and two data-movement functions (the first given is the reader, on NCRISC; the
// second the writer, on BRISC), joined by dataflow buffers. On a CPU, nodes are virtual: each
// kernel function is a fiber, the three of a node share one pinned worker thread, and a node
// runs when a worker takes it. Two modes share one semantics:
//   fast      real speed, used by models and benchmarks;
//   validate  a checker for kernel authors: deterministic (or seeded random) order, and every
//             rule whose breach breaks a kernel on the chip is an error naming the operation,
//             node, kernel function, worker thread, buffer, tile and source line.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <vector>

namespace ttl {

// A node coordinate (x = column, y = row), as TT-Lang and tt-metal's CoreCoord.
struct Coord {
    int x = 0, y = 0;
    bool operator==(const Coord&) const = default;
};

// The grid an operation runs on: `Grid{cols, rows}` or `Grid::Auto`.
struct Grid {
    int x = 0, y = 0;  // 0 x 0 means auto
    static const Grid Auto;
    bool is_auto() const { return x <= 0 || y <= 0; }
};
inline constexpr Grid Grid::Auto{0, 0};

enum class Mode : uint8_t { Fast, Validate };
enum class Arch : uint8_t { Wormhole, Blackhole };

// Per-node resources of each architecture (L1 available to dataflow buffers, buffer count, grid).
struct ArchLimits {
    const char* name;
    size_t l1_bytes;
    int max_buffers;
    Coord grid;
};
const ArchLimits& arch_limits(Arch arch);

struct ExecOptions {
    Mode mode = Mode::Fast;
    // Validate mode: 0 runs kernels in a fixed round-robin order; any other value picks the
    // next runnable kernel at random from this seed (shakes out order-dependent bugs).
    uint64_t seed = 0;
    Arch arch = Arch::Wormhole;  // L1 budget and buffer limits checked in validate mode
    int workers = 0;             // fast mode: worker threads (0: all of the pool)
    bool report = false;         // print each run's RunReport to stderr (`ttlm --report`)
    // Fast mode: a copy of f32 tensor tiles into an f32 block only notes where they lie, and the
    // compute kernel reads them from the tensor (copy.cpp, "deferred reads"). Off: every read
    // copies, as validate mode does.
    bool deferred_reads = true;
    // Fast mode: a writer's copy of a block into a tensor that streams to DRAM is done a few
    // lines at a time by the compute loops that follow (copy.cpp, "background writes"). Off:
    // every write copies at once.
    bool background_writes = true;
};

// Options used by Operation::run() without arguments. `ttlm --validate` sets these.
ExecOptions& default_options();

// Every error a kernel can raise. Validate mode raises all of them; fast mode raises the ones
// that would otherwise corrupt memory or hang (bounds, shapes, thread kinds, deadlock).
enum class ErrorKind : uint8_t {
    Deadlock,
    BlockState,       // use before copy completed, read of an unwritten block, use after release...
    CopyShape,        // tensor slice and block shapes differ
    TileBounds,       // tile index outside the tensor
    Unbalanced,       // reserve/wait twice without release, blocks left in a buffer at the end
    PipeUnmatched,    // receive without send or send without receive
    WriteRace,        // two nodes wrote one DRAM tile in one launch
    L1Overflow,       // dataflow buffers exceed the node's L1
    BufferCount,      // more dataflow buffers than the architecture has
    WrongThread,      // math or store in a data-movement kernel, copy in the compute kernel
    KernelCount,      // not exactly one compute and two data-movement kernel functions
    Shape,            // block shapes that do not fit an operation (add, matmul, broadcast...)
    TransferNotWaited,
};
const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
   public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

   private:
    ErrorKind kind_;
};

// What a run did, per buffer, per kernel function and in total.
struct RunReport {
    struct Buffer {
        std::string name;
        int64_t pushes = 0;
        int peak_blocks = 0;  // most blocks filled at once on any node
        int64_t reserve_stalls = 0, wait_stalls = 0;
    };
    struct Kernel {
        std::string name;  // "reader", "compute", "writer"
        int64_t tiles_moved = 0;
        int64_t bytes_moved = 0;
        double flops = 0;
    };
    std::string operation;
    int nodes = 0;
    int workers = 0;
    double seconds = 0;
    std::vector<Buffer> buffers;
    std::vector<Kernel> kernels;
    double gbytes_per_second() const;
    double gflops() const;
    std::string to_string() const;
};

namespace detail {
struct OperationState;
}

class Operation {
   public:
    explicit Operation(std::string name, Grid grid = Grid::Auto);
    ~Operation();
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

    // The compute kernel function (one).
    void compute(std::function<void()> fn);
    // A data-movement kernel function: the first is the reader, the second the writer.
    void datamovement(std::function<void()> fn);

    RunReport run(std::source_location loc = std::source_location::current());
    RunReport run(const ExecOptions& options, std::source_location loc = std::source_location::current());

    const std::string& name() const;
    // The grid this operation runs on, with Grid::Auto resolved.
    Coord grid_size() const;

    detail::OperationState& state() { return *state_; }

   private:
    std::unique_ptr<detail::OperationState> state_;
};

// This node's share of `total` work items when they are split into contiguous, near-equal
// chunks over all nodes (tt-metal's split_work_to_cores): [begin, end).
struct WorkRange {
    int64_t begin = 0, end = 0;
};
WorkRange node_work(int64_t total);

// Inside a kernel function: this node's coordinate and the grid's size.
Coord node();
Coord grid_size();
// Linear node index and node count, as TT-Lang's node(dims=1): x * grid_y + y.
int node_index();
int node_count();

}  // namespace ttl
