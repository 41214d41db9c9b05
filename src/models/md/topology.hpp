// Bonded terms: harmonic bonds, and the pairs LAMMPS's `special_bonds lj a b c coul d e f` weights:
// 1-2 (bonded), 1-3 (two bonds apart) and 1-4 (three bonds apart), each pair counted at its shortest
// bond path, as LAMMPS does.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "models/md/system.hpp"

namespace ttlm::md {

// Weights of the LJ and Coulomb interaction of 1-2, 1-3 and 1-4 pairs. LAMMPS's default is 0,0,0;
// the (and the seed's) is 1,1,1: bonded pairs interact as any other pair.
struct SpecialBonds {
    std::array<double, 3> lj{1, 1, 1};
    std::array<double, 3> coul{1, 1, 1};
};

struct SpecialPair {
    int32_t i = 0, j = 0;  // atom indices, i < j
    double lj = 1, coul = 1;
};

// The 1-2, 1-3 and 1-4 pairs whose weights differ from 1 (none for the default 1,1,1).
std::vector<SpecialPair> find_special_pairs(const System& system, const SpecialBonds& special);

struct BondedSums {
    double energy = 0;
    double virial = 0;  // sum over bonds of r_ab . F_a
};

// Adds harmonic bond forces to `forces`.
BondedSums add_bond_forces(const System& system, std::span<Vec3> forces);

struct PairCorrectionSums {
    double lj_energy = 0, coul_energy = 0, virial = 0;
};

// The pair kernel treats every pair alike; this adds what the special weights change for pairs
// inside the cutoff: (w_lj - 1) of the LJ term and -(1 - w_coul) q_i q_j / r of the Coulomb term (the
// long-range solver still sees the full charge, as in LAMMPS's lj/cut/coul/long).
PairCorrectionSums add_special_pair_corrections(const System& system, std::span<const SpecialPair> pairs,
                                                double cutoff, bool lj_shift, std::span<Vec3> forces);

}  // namespace ttlm::md
