// `ttlm md` and `ttlm bench md`.
#include <fmt/core.h>

#include "tools/ttlm/verbs.hpp"

namespace ttlm::cli {

void add_md_verbs(CLI::App& app, CLI::App& bench) {
    CLI::App* cmd = app.add_subcommand("md", "molecular dynamics: generate, forces, run (no arguments: the micelle demo)");
    on_run(cmd, [] {
        fmt::print("ttlm md: not built yet\n");
        return 0;
    });
}

}  // namespace ttlm::cli
