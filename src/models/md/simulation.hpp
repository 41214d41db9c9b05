// A run: the integrator stepping a system, with the outputs of `ttlm md run`: an energies table
// (CSV: step, time, ke, pe, total, temperature, pressure), a trajectory (extended XYZ) every K steps,
// a picture of the last frame, and a progress bar on a terminal.
#pragma once

#include <cstdint>
#include <string>

#include "models/md/force_field.hpp"
#include "models/md/integrator.hpp"
#include "models/md/system.hpp"

namespace ttlm::md {

struct RunOptions {
    int64_t steps = 1000;
    int64_t every = 100;  // output interval (steps) for energies and trajectory frames
    std::string energies_path, xyz_path, picture_path;  // empty: not written
    bool progress = false;                               // progress bar on stderr
};

struct ThermoSample {
    int64_t step = 0;
    double time = 0, ke = 0, pe = 0, total = 0, temperature = 0, pressure = 0;
};

struct RunReport {
    int64_t steps = 0;
    double seconds = 0;  // the stepping loop, outputs included
    ThermoSample first, last;
    int64_t neighbor_builds = 0;
};

ThermoSample sample(const Integrator& integrator);

// Appends one extended-XYZ frame (species from the type names, or T<n>).
void write_xyz_frame(std::ostream& out, const System& system, int64_t step, double time);

RunReport run_simulation(System& system, ForceField& force_field, const IntegratorOptions& integrator_options,
                         const RunOptions& options);

}  // namespace ttlm::md
