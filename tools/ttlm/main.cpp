// ttlm: one command, one verb per job.
#include <cstdio>
#include <exception>
#include <map>

#include <fmt/core.h>

#include "runtime/thread_pool.hpp"
#include "tools/ttlm/verbs.hpp"
#include "ttl/operation.hpp"

namespace ttlm::cli {
namespace {
std::map<CLI::App*, std::function<int()>>& registry() {
    static std::map<CLI::App*, std::function<int()>> verbs;
    return verbs;
}
}  // namespace

void on_run(CLI::App* cmd, std::function<int()> run) { registry()[cmd] = std::move(run); }

}  // namespace ttlm::cli

int main(int argc, char** argv) {
    CLI::App app{"ttlm: the TT-Lang model collection in C++"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may also follow the verb

    int threads = 0;
    app.add_option("--threads", threads, "worker threads (default: one per CPU this process may use)")
        ->check(CLI::NonNegativeNumber);
    bool validate = false;
    uint64_t validate_seed = 0;
    std::string arch = "wormhole";
    app.add_flag("--validate", validate,
                 "run every ttl kernel in validate mode: deterministic order, and every rule whose breach breaks a "
                 "kernel on the chip is an error naming node, kernel, buffer, tile and source line");
    app.add_option("--validate-seed", validate_seed,
                   "validate mode: run kernels in a random order drawn from this seed (0: fixed round-robin order)");
    bool report = false;
    app.add_flag("--report", report,
                 "after every ttl operation, print its report to stderr: per buffer pushes, peak blocks and stalls; "
                 "per kernel function tiles, bytes and flops; time, GB/s and GFLOP/s");
    app.add_option("--arch", arch, "architecture whose L1 and buffer limits validate mode checks")
        ->check(CLI::IsMember({"wormhole", "blackhole"}));

    CLI::App* bench = app.add_subcommand("bench", "measure a layer or a model (prints figures, JSON with --json)");
    bench->require_subcommand(1);
    ttlm::cli::add_ttl_bench(*bench);
#ifdef TTLM_HAVE_ENGRAM
    ttlm::cli::add_engram_verbs(app, *bench);
#endif
#ifdef TTLM_HAVE_MD
    ttlm::cli::add_md_verbs(app, *bench);
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    try {
        if (threads > 0) ttlm::runtime::set_num_threads(threads);
        ttl::ExecOptions& exec = ttl::default_options();
        exec.mode = validate || validate_seed != 0 ? ttl::Mode::Validate : ttl::Mode::Fast;
        exec.seed = validate_seed;
        exec.arch = arch == "blackhole" ? ttl::Arch::Blackhole : ttl::Arch::Wormhole;
        exec.report = report;
        // Run the deepest verb that was given.
        CLI::App* cmd = &app;
        while (!cmd->get_subcommands().empty()) cmd = cmd->get_subcommands().front();
        auto it = ttlm::cli::registry().find(cmd);
        if (it == ttlm::cli::registry().end()) {
            fmt::print(stderr, "ttlm: '{}' needs a verb; see --help\n", cmd->get_name());
            return 2;
        }
        return it->second();
    } catch (const std::exception& e) {
        fmt::print(stderr, "ttlm: error: {}\n", e.what());
        return 1;
    }
}
