// PME's mesh steps as ttl Operations: charge spreading onto the mesh and the gradient interpolation
// back to the atoms, on fp32 tiles. The FFTs and the influence function stay on the host (pme.cpp).
//
// Formulation: tile matrix products, as a Tenstorrent author would write them, since the matrix
// engine is where the chip's throughput is and a scatter is what its tiles cannot do. The mesh is
// stored as planes x (y, z) tiles: tile (plane x, ty, tz) holds the 32 x 32 points y in tile ty, z in
// tile tz. For one such tile the spread charge is a product over the atoms whose stencil touches it,
//     Q_x[y, z] = sum_i Wy[i, y] (q_i Wx[i, x]) Wz[i, z] = (Wy^T diag(q Wx(x)) Wz)[y, z],
// with Wy, Wz dense B-spline weight tiles (32 atoms x 32 points, mostly zeros). Interpolation is the
// same product read the other way: per atom, sum_x Wx'(x) rowsum((Wy Phi_x) * Wz), and likewise with
// Wy' and Wz' for the other two gradient components.
//
// The host (a reader kernel's raw reads, on the chip) bins the atoms by the (ty, tz) tile column their
// stencil touches (1, 2 or 4 of them; up to 9 where a grid's last tile is a sliver), sorts each bin
// by the atom's first x plane and cuts it into chunks of up to 32 atoms (a chunk's atoms share one Wy
// and one Wz tile for all the planes they touch), and lists, per mesh tile, the chunks touching it. No write-write race between nodes: a node owns
// whole mesh tiles when spreading (it sums all their chunks in L1 and writes each tile once) and
// whole chunks when interpolating; the host adds up an atom's chunk results.
//
// The alternative, a node per slab of planes scattering its atoms point by point, is what the double
// SIMD kernel does (pme.cpp); ttl has no scatter, and the chip's vector unit would do it slowly.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "models/md/system.hpp"
#include "ttl/operation.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::md {

// Per atom and axis d: the stencil's first grid point base[d] (its points are base[d] + a, a < order,
// wrapped), the B-spline weights weights[(atom * 3 + d) * lanes + a] and their derivatives alike.
struct MeshStencils {
    std::span<const std::array<int, 3>> base;
    const double* weights = nullptr;
    const double* derivatives = nullptr;
    int lanes = 0;
};

class PmeMeshTtl {
   public:
    PmeMeshTtl(std::array<int, 3> size, int order);

    // Bins the atoms and builds the weight tiles for spread() and gradients().
    void assign(const MeshStencils& stencils, std::span<const double> charges);
    // The charge mesh sum_i q_i M(u_i - g) into `grid`: rows (x, y) of `row_stride` values along z
    // (the row padding beyond size z is zeroed).
    void spread(double* grid, int64_t row_stride, const ttl::ExecOptions& options = ttl::default_options());
    // Per atom, sum_g phi(g) grad M(u_i - g) in grid units, for the mesh `phi` in the same layout.
    void gradients(const double* phi, int64_t row_stride, std::span<Vec3> out,
                   const ttl::ExecOptions& options = ttl::default_options());

   private:
    struct Chunk {
        int32_t column = 0;  // its (ty, tz) tile column, ty * tiles_z + tz
        int32_t plane = 0;   // first x plane touched (unwrapped: planes plane .. plane + planes - 1, mod nx)
        int32_t planes = 0;
        int32_t weights = 0;  // index of its first x-weight column tile
    };
    int64_t mesh_tile_row(int plane, int column) const { return int64_t{plane} * tiles_y_ + column / tiles_z_; }
    void reserve(int64_t chunks, int64_t weight_columns);

    std::array<int, 3> size_;
    int order_;
    int tiles_y_, tiles_z_, columns_;
    int64_t atoms_ = 0;
    std::vector<Chunk> chunks_;
    std::vector<int32_t> slot_atom_;  // [chunk * 32 + slot]: atom, or -1 for padding
    // Per mesh tile (plane * columns + column): its (chunk, x-weight column tile) pairs, CSR.
    std::vector<int32_t> tile_start_;
    std::vector<std::array<int32_t, 2>> tile_entries_;
    // [chunks * 32, 32]: rows are a chunk's atoms, columns the points of its y (z) tile.
    ttl::Tensor wy_, dwy_, wz_, dwz_;
    ttl::Tensor charge_;                    // [chunks * 32, 1]
    ttl::Tensor wx_, dwx_;                  // [x-weight columns * 32, 1]: per chunk and plane, each atom's x weight
    ttl::Tensor mesh_;                      // [nx * tiles_y * 32, tiles_z * 32]
    ttl::Tensor grad_x_, grad_y_, grad_z_;  // [chunks * 32, 1]
};

}  // namespace ttlm::md
