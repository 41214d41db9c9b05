// The verbs of the `ttlm` command. Each layer or model adds its own verbs to the command
// line; main() applies the global options (--threads, --validate, ...) and then runs the one
// verb that was given.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace ttlm::cli {

// Registers what `cmd` does once the command line has been parsed. The function returns the
// process exit code.
void on_run(CLI::App* cmd, std::function<int()> run);

// Verbs, each defined beside the code it drives.
void add_ttl_bench(CLI::App& bench);      // tools/ttlm/bench_ttl.cpp
void add_engram_verbs(CLI::App& app, CLI::App& bench);  // src/models/engram/cli.cpp
void add_md_verbs(CLI::App& app, CLI::App& bench);      // src/models/md/cli.cpp

}  // namespace ttlm::cli
