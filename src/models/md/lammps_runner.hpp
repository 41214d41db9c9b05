// Running LAMMPS (`lmp`, Debian's package `lammps`) on the same system and settings, for the checks in
// tests/md and the comparison in `ttlm bench md`. The inputs are the templates in
// scripts/reference/md/ (forces.in, nve.in, bench.in), which take their settings as LAMMPS variables
// (`lmp -var name value`), so they run by hand just as well.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/md/force_field.hpp"
#include "models/md/simulation.hpp"
#include "models/md/system.hpp"

namespace ttlm::md {

// The lmp executable: $TTLM_LMP if set, else `lmp` on PATH; nullopt if there is none.
std::optional<std::string> find_lammps();

struct LammpsResult {
    std::string log;        // the log file's text
    double loop_seconds = 0;  // LAMMPS's "Loop time of ..." (the last run)
    int64_t loop_steps = 0;
};

// Runs `lmp -in <templates>/<input> -var k v ...` in `work_dir` on `procs` MPI ranks (mpirun when more
// than one); the templates are $TTLM_MD_LAMMPS_DIR if set, else the source tree's scripts/reference/md.
// Throws with the log's tail when LAMMPS fails.
LammpsResult run_lammps(const std::string& input, const std::map<std::string, std::string>& variables,
                        const std::string& work_dir, int procs = 1);

// The template variables for a force field (cutoff, alpha, kspace, accuracy, special, skin).
// LAMMPS's kspace style: "ewald" for KSpace::ewald, "pppm" for KSpace::pme (a different mesh method
// for the same sum: compare them with both accurate); KSpace::none has no LAMMPS counterpart here.
std::map<std::string, std::string> lammps_variables(const ForceFieldOptions& options);

struct LammpsForces {
    std::vector<int64_t> ids;  // sorted
    std::vector<Vec3> forces;
    Energies energy;
    double pressure = 0;
};

// forces.in on a data file: per-atom forces (by id) and the energy terms.
LammpsForces lammps_forces(const std::string& data_path, const ForceFieldOptions& options,
                           const std::string& work_dir);

// nve.in: thermo samples every `every` steps (step 0 included).
std::vector<ThermoSample> lammps_nve(const std::string& data_path, const ForceFieldOptions& options, double dt,
                                     int64_t steps, int64_t every, const std::string& work_dir);

}  // namespace ttlm::md
