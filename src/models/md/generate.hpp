// The two systems of the issue, built from a seed (reduced LJ units, cubic periodic box).
//
// random:  a jittered simple-cubic lattice of identical LJ atoms (epsilon = sigma = 1) with random
//          charges (normal, sigma 0.3, shifted to zero mean). The seed's 10K-atom benchmark system.
// micelle: coarse-grained lipids in water. A lipid is one HEAD bead (charge +0.5 or -0.5, alternating
//          between lipids) bonded in a chain to `tail_length` TAIL beads; WATER beads are neutral;
//          optional ion pairs (NA +1, CL -1). LJ sqrt(epsilon) per bead: HEAD 0.8, TAIL 2.0, WATER 0.3,
//          ions 0.5 (sigma 1), so epsilon_ij = s_i s_j under geometric mixing. Bonds are harmonic with
//          k = 100 in E = k/2 (r - r0)^2 (LAMMPS K = 50), r0 = 1.
//
// Both start at a temperature (Maxwell-Boltzmann velocities, zero total momentum, scaled to exactly
// that temperature with 3N - 3 degrees of freedom, as LAMMPS's `compute temp` counts them).
#pragma once

#include <cstdint>

#include "models/md/system.hpp"

namespace ttlm::md {

struct RandomSystemOptions {
    int64_t atoms = 10000;
    double density = 0.3;
    double charge_sigma = 0.3;
    double temperature = 1.0;
    uint64_t seed = 42;
};

struct MicelleOptions {
    int64_t lipids = 80;
    int64_t tail_length = 8;
    int64_t water = 2000;
    int64_t ion_pairs = 0;
    double density = 0.3;
    double temperature = 1.0;
    uint64_t seed = 42;
};

// Lipid and water counts for a micelle of about `atoms` beads, in the default 80 : 2000 proportion.
MicelleOptions micelle_options_for_atoms(int64_t atoms);

System make_random_system(const RandomSystemOptions& options);
System make_micelle_system(const MicelleOptions& options);

}  // namespace ttlm::md
