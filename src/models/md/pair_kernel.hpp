// The pair-force kernel: LJ (geometric mixing) plus the real-space Ewald Coulomb term, erfc(alpha r)
// q_i q_j / r, for every listed pair inside the cutoff, in SIMD lanes over the atoms of a neighbour-list
// block (NeighborList::kBlockAtoms i-atoms x slots j-atoms, the tile of the kernel), threads over blocks.
// Compiled for AVX2 and AVX-512 (Highway), chosen at run time.
#pragma once

#include <span>

#include "models/md/neighbor_list.hpp"
#include "models/md/system.hpp"

namespace ttlm::md {

// One atom as the kernel reads it, in neighbour-list (sorted) order: one 64-byte line per atom, so
// the gathers of a j-atom's fields touch one cache line. With geometric mixing the LJ coefficients
// factor per atom: 4 eps_ij sigma_ij^12 = c12_i c12_j with c12 = 2 sqrt(eps) sigma^6, and
// 4 eps_ij sigma_ij^6 = c6_i c6_j with c6 = 2 sqrt(eps) sigma^3.
struct alignas(64) PairAtom {
    double x, y, z, q, c12, c6, unused0, unused1;
};

struct PairKernelParams {
    double cutoff = 3.0;
    double alpha = 1.0;  // Ewald splitting parameter; the Coulomb term is skipped when coulomb is false
    bool coulomb = true;
    bool lj_shift = false;  // LAMMPS's pair_modify shift yes: LJ energy minus its value at the cutoff
    Vec3 box_length;
};

struct PairSums {
    double lj_energy = 0, coul_energy = 0;
    double virial = 0;  // sum over pairs of r_ij . F_ij
};

// atoms: NeighborList::num_blocks() * kBlockAtoms entries in sorted order (padding entries finite).
// Writes (overwrites) the pair force of every atom into forces[original index].
PairSums compute_pair_forces(const NeighborList& list, std::span<const PairAtom> atoms, const PairKernelParams& params,
                             std::span<Vec3> forces);

}  // namespace ttlm::md
