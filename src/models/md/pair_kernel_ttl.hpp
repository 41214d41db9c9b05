// The pair-force kernel as a ttl Operation: the same physics as pair_kernel.hpp (LJ with geometric
// mixing plus erfc(alpha r) q_i q_j / r inside the cutoff), written the way a TT-Lang kernel streams
// 32x32 tiles through dataflow buffers: a tile is 32 atoms of the neighbour list (rows) x 32 of their
// neighbour slots (columns), the rows reduce into per-atom forces, energies and virials, and the
// operation runs on a grid of nodes (Grid::Auto), each taking a share of the atom tiles.
//
// Tiles are fp32, as on the chip, so this path agrees with the double-precision kernel to ~1e-6
// relative, not to rounding. The displacements are computed on the host in double precision with the
// minimum image and gathered into the slot tiles: ttl::copy moves whole tiles, and gathering the
// neighbours of 32 atoms is what the reader kernel of a TT-Lang version does with raw reads.
#pragma once

#include <span>

#include "models/md/neighbor_list.hpp"
#include "models/md/pair_kernel.hpp"
#include "ttl/operation.hpp"

namespace ttlm::md {

// As compute_pair_forces: overwrites forces[original index], returns the sums.
PairSums compute_pair_forces_ttl(const NeighborList& list, std::span<const PairAtom> atoms,
                                 const PairKernelParams& params, std::span<Vec3> forces,
                                 const ttl::ExecOptions& options = ttl::default_options());

}  // namespace ttlm::md
