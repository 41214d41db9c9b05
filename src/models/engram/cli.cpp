// `ttlm engram` and `ttlm bench engram`.
#include <fmt/core.h>

#include "tools/ttlm/verbs.hpp"

namespace ttlm::cli {

void add_engram_verbs(CLI::App& app, CLI::App& bench) {
    CLI::App* cmd = app.add_subcommand("engram", "run the Engram demo: tokenizer to output, checked stage by stage");
    on_run(cmd, [] {
        fmt::print("ttlm engram: not built yet\n");
        return 0;
    });
}

}  // namespace ttlm::cli
