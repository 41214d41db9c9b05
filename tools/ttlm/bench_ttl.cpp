// `ttlm bench ttl`: the kernel language's own figures (filled in with the executor).
#include "tools/ttlm/verbs.hpp"

#include <fmt/core.h>

namespace ttlm::cli {

void add_ttl_bench(CLI::App& bench) {
    CLI::App* cmd = bench.add_subcommand("ttl", "hand-off, streaming and matmul figures of the ttl executor");
    on_run(cmd, [] {
        fmt::print("not yet\n");
        return 0;
    });
}

}  // namespace ttlm::cli
