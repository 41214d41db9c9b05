#include "models/md/pme_ttl.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/core.h>

#include "runtime/thread_pool.hpp"
#include "ttl/ttl.hpp"

namespace ttlm::md {
namespace {

constexpr int kTile = ttl::kTileDim;
// A chunk's atoms may start on planes this far apart: each plane a chunk spans costs a tile product
// for all its 32 atoms, so chunks of atoms with nearby first planes waste few of them.
constexpr int kMaxPlaneSpread = 2;

int tiles_for(int points) { return (points + kTile - 1) / kTile; }

// The tiles a stencil of `order` (< 32) points from `base`, mod `size`, touches: at most 3 (the last
// tile can be partial, so a stencil may run from one tile through all of it into tile 0).
constexpr int kMaxStencilTiles = 3;
int stencil_tiles(int base, int order, int size, int tiles[kMaxStencilTiles]) {
    int count = 0;
    for (int a = 0; a < order; ++a) {
        const int t = (base + a) % size / kTile;
        if (std::find(tiles, tiles + count, t) == tiles + count) tiles[count++] = t;
    }
    return count;
}

// Grows a [rows, cols] tensor to hold at least `rows` rows (with headroom: the atom binning varies
// from step to step); the kernels address only the rows in use.
void ensure_rows(ttl::Tensor& t, int64_t rows, int64_t cols, const char* name) {
    if (t.defined() && t.numel() > 0 && t.rows() >= rows) return;
    t = ttl::Tensor({std::max<int64_t>(kTile, (rows + rows / 4 + kTile - 1) / kTile * kTile), cols});
    t.set_name(name);
}

}  // namespace

PmeMeshTtl::PmeMeshTtl(std::array<int, 3> size, int order)
    : size_(size), order_(order), tiles_y_(tiles_for(size[1])), tiles_z_(tiles_for(size[2])) {
    if (order < 1 || order >= kTile)
        throw std::invalid_argument(fmt::format("pme ttl: order must be 1..{} (got {})", kTile - 1, order));
    for (int d = 0; d < 3; ++d)
        if (size[d] < order)
            throw std::invalid_argument(
                fmt::format("pme ttl: grid size {} is smaller than the order {}", size[d], order));
    columns_ = tiles_y_ * tiles_z_;
    mesh_ = ttl::Tensor({int64_t{size[0]} * tiles_y_ * kTile, int64_t{tiles_z_} * kTile});
    mesh_.set_name("mesh");
}

void PmeMeshTtl::reserve(int64_t chunks, int64_t weight_columns) {
    for (auto [t, name] :
         {std::pair{&wy_, "wy"}, std::pair{&dwy_, "dwy"}, std::pair{&wz_, "wz"}, std::pair{&dwz_, "dwz"}})
        ensure_rows(*t, chunks * kTile, kTile, name);
    for (auto [t, name] : {std::pair{&charge_, "charge"}, std::pair{&grad_x_, "grad_x"}, std::pair{&grad_y_, "grad_y"},
                           std::pair{&grad_z_, "grad_z"}})
        ensure_rows(*t, chunks * kTile, 1, name);
    ensure_rows(wx_, weight_columns * kTile, 1, "wx");
    ensure_rows(dwx_, weight_columns * kTile, 1, "dwx");
}

void PmeMeshTtl::assign(const MeshStencils& stencils, std::span<const double> charges) {
    const int nx = size_[0], ny = size_[1], nz = size_[2], p = order_;
    atoms_ = static_cast<int64_t>(stencils.base.size());
    if (static_cast<int64_t>(charges.size()) != atoms_)
        throw std::invalid_argument(fmt::format("pme ttl: {} charges for {} atoms", charges.size(), atoms_));

    // Bin (atom, tile column) pairs by column and first plane: a counting sort on column * nx + plane.
    std::vector<int32_t> bin_start(int64_t{columns_} * nx + 1, 0);
    auto for_each_column = [&](int64_t i, auto&& f) {
        int ty[kMaxStencilTiles], tz[kMaxStencilTiles];
        const auto& b = stencils.base[i];
        const int cy = stencil_tiles(b[1], p, ny, ty), cz = stencil_tiles(b[2], p, nz, tz);
        for (int y = 0; y < cy; ++y)
            for (int z = 0; z < cz; ++z) f(ty[y] * tiles_z_ + tz[z]);
    };
    for (int64_t i = 0; i < atoms_; ++i)
        for_each_column(i, [&](int column) { ++bin_start[int64_t{column} * nx + stencils.base[i][0] + 1]; });
    for (size_t k = 1; k < bin_start.size(); ++k) bin_start[k] += bin_start[k - 1];
    std::vector<int32_t> binned(bin_start.back());
    {
        std::vector<int32_t> fill(bin_start.begin(), bin_start.end() - 1);
        for (int64_t i = 0; i < atoms_; ++i)
            for_each_column(i, [&](int column) {
                binned[fill[int64_t{column} * nx + stencils.base[i][0]]++] = static_cast<int32_t>(i);
            });
    }

    // Cut each column's atoms into chunks of up to 32 whose first planes lie within kMaxPlaneSpread.
    chunks_.clear();
    slot_atom_.clear();
    int32_t weight_columns = 0;
    for (int column = 0; column < columns_; ++column) {
        const int32_t begin = bin_start[int64_t{column} * nx], end = bin_start[int64_t{column + 1} * nx];
        for (int32_t k = begin; k < end;) {
            Chunk c{column, stencils.base[binned[k]][0], 0, weight_columns};
            int32_t last = k;
            while (last < end && last - k < kTile && stencils.base[binned[last]][0] - c.plane <= kMaxPlaneSpread)
                ++last;
            c.planes = stencils.base[binned[last - 1]][0] - c.plane + p;
            weight_columns += c.planes;
            chunks_.push_back(c);
            for (int32_t s = 0; s < kTile; ++s) slot_atom_.push_back(k + s < last ? binned[k + s] : -1);
            k = last;
        }
    }
    const int64_t chunks = static_cast<int64_t>(chunks_.size());
    reserve(chunks, weight_columns);

    // The weight tiles, chunk by chunk in parallel (each owns its rows and x-weight columns). Points
    // outside a chunk's y (z) tile, and padding slots, are zero.
    const int lanes = stencils.lanes;
    float *wy = wy_.data<float>(), *dwy = dwy_.data<float>(), *wz = wz_.data<float>(), *dwz = dwz_.data<float>();
    float *wx = wx_.data<float>(), *dwx = dwx_.data<float>(), *charge = charge_.data<float>();
    runtime::parallel_for(
        chunks,
        [&](int64_t begin, int64_t end) {
            for (int64_t c = begin; c < end; ++c) {
                const Chunk& chunk = chunks_[c];
                const size_t tile_floats = kTile * kTile, column_floats = size_t{kTile} * chunk.planes;
                for (float* t : {wy, dwy, wz, dwz}) std::fill_n(t + c * tile_floats, tile_floats, 0.0f);
                for (float* t : {wx, dwx}) std::fill_n(t + int64_t{chunk.weights} * kTile, column_floats, 0.0f);
                std::fill_n(charge + c * kTile, kTile, 0.0f);
                const int ty = chunk.column / tiles_z_, tz = chunk.column % tiles_z_;
                for (int s = 0; s < kTile; ++s) {
                    const int32_t i = slot_atom_[c * kTile + s];
                    if (i < 0) continue;
                    const int64_t row = c * kTile + s;
                    const auto& b = stencils.base[i];
                    const double* w = stencils.weights + i * 3 * lanes;
                    const double* dw = stencils.derivatives + i * 3 * lanes;
                    charge[row] = static_cast<float>(charges[i]);
                    for (int a = 0; a < p; ++a) {
                        const int gy = (b[1] + a) % ny, gz = (b[2] + a) % nz;
                        if (gy / kTile == ty) {
                            wy[row * kTile + gy % kTile] = static_cast<float>(w[lanes + a]);
                            dwy[row * kTile + gy % kTile] = static_cast<float>(dw[lanes + a]);
                        }
                        if (gz / kTile == tz) {
                            wz[row * kTile + gz % kTile] = static_cast<float>(w[2 * lanes + a]);
                            dwz[row * kTile + gz % kTile] = static_cast<float>(dw[2 * lanes + a]);
                        }
                        // Plane base + a is the chunk's plane (base - chunk.plane + a).
                        const int64_t at = int64_t{chunk.weights + b[0] - chunk.plane + a} * kTile + s;
                        wx[at] = static_cast<float>(w[a]);
                        dwx[at] = static_cast<float>(dw[a]);
                    }
                }
            }
        },
        16);

    // Per mesh tile, the chunks touching it, with the x-weight column tile of that plane.
    tile_start_.assign(int64_t{nx} * columns_ + 1, 0);
    auto tile_of = [&](const Chunk& c, int j) { return int64_t{(c.plane + j) % nx} * columns_ + c.column; };
    for (const Chunk& c : chunks_)
        for (int j = 0; j < c.planes; ++j) ++tile_start_[tile_of(c, j) + 1];
    for (size_t k = 1; k < tile_start_.size(); ++k) tile_start_[k] += tile_start_[k - 1];
    tile_entries_.resize(tile_start_.back());
    std::vector<int32_t> fill(tile_start_.begin(), tile_start_.end() - 1);
    for (int32_t c = 0; c < static_cast<int32_t>(chunks); ++c)
        for (int j = 0; j < chunks_[c].planes; ++j)
            tile_entries_[fill[tile_of(chunks_[c], j)]++] = {c, chunks_[c].weights + j};
}

void PmeMeshTtl::spread(double* grid, int64_t row_stride, const ttl::ExecOptions& options) {
    using ttl::BcastDim;
    namespace math = ttl::math;
    const int nx = size_[0], ny = size_[1], nz = size_[2];
    const int64_t mesh_tiles = int64_t{nx} * columns_;

    ttl::Operation op("md_pme_spread", ttl::Grid::Auto);
    const ttl::TileShape tile{1, 1};
    auto wy_dfb = ttl::make_dataflow_buffer_like(op, wy_, tile, 2, "wy");
    auto wz_dfb = ttl::make_dataflow_buffer_like(op, wz_, tile, 2, "wz");
    auto q_dfb = ttl::make_dataflow_buffer_like(op, charge_, tile, 2, "q");
    auto wx_dfb = ttl::make_dataflow_buffer_like(op, wx_, tile, 2, "wx");
    auto mesh_dfb = ttl::make_dataflow_buffer_like(op, mesh_, tile, 2, "mesh");

    op.compute([&] {
        auto [begin, end] = ttl::node_work(mesh_tiles);
        for (int64_t m = begin; m < end; ++m) {
            auto out = mesh_dfb.reserve();
            if (tile_start_[m] == tile_start_[m + 1]) out.store(math::fill(0.0f, tile));
            for (int32_t e = tile_start_[m]; e < tile_start_[m + 1]; ++e) {
                auto wy = wy_dfb.wait();
                auto wz = wz_dfb.wait();
                auto q = q_dfb.wait();
                auto wx = wx_dfb.wait();
                // Q[y, z] += sum over the chunk's atoms i of Wy[i, y] q_i Wx[i] Wz[i, z]
                out += math::matmul(math::transpose(wy), wz * math::broadcast(q, BcastDim::Col, tile) *
                                                             math::broadcast(wx, BcastDim::Col, tile));
            }
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = ttl::node_work(mesh_tiles);
        for (int64_t m = begin; m < end; ++m)
            for (int32_t e = tile_start_[m]; e < tile_start_[m + 1]; ++e) {
                const auto [chunk, weights] = tile_entries_[e];
                for (auto [dfb, src, row] : {std::tuple{&wy_dfb, &wy_, chunk}, std::tuple{&wz_dfb, &wz_, chunk},
                                             std::tuple{&q_dfb, &charge_, chunk}, std::tuple{&wx_dfb, &wx_, weights}}) {
                    auto blk = dfb->reserve();
                    ttl::copy((*src)(row, 0), blk).wait();
                }
            }
    });
    op.datamovement([&] {  // writer: every mesh tile once, by the node that summed it
        auto [begin, end] = ttl::node_work(mesh_tiles);
        for (int64_t m = begin; m < end; ++m) {
            auto blk = mesh_dfb.wait();
            ttl::copy(blk, mesh_(mesh_tile_row(static_cast<int>(m / columns_), static_cast<int>(m % columns_)),
                                 m % columns_ % tiles_z_))
                .wait();
        }
    });
    op.run(options);

    const float* mesh = mesh_.data<float>();
    const int64_t mesh_cols = int64_t{tiles_z_} * kTile;
    for (int x = 0; x < nx; ++x)
        for (int y = 0; y < ny; ++y) {
            const float* from = mesh + (int64_t{x} * tiles_y_ * kTile + y) * mesh_cols;
            double* to = grid + (int64_t{x} * ny + y) * row_stride;
            for (int z = 0; z < nz; ++z) to[z] = from[z];
            std::fill(to + nz, to + row_stride, 0.0);
        }
}

void PmeMeshTtl::gradients(const double* phi, int64_t row_stride, std::span<Vec3> out,
                           const ttl::ExecOptions& options) {
    using ttl::ReduceDim;
    namespace math = ttl::math;
    const int nx = size_[0], ny = size_[1], nz = size_[2];
    if (static_cast<int64_t>(out.size()) != atoms_)
        throw std::invalid_argument(fmt::format("pme ttl: {} gradients for {} atoms", out.size(), atoms_));
    // The potential into the mesh tiles; points past ny, nz stay zero (as spread() left them).
    float* mesh = mesh_.data<float>();
    const int64_t mesh_cols = int64_t{tiles_z_} * kTile;
    for (int x = 0; x < nx; ++x)
        for (int y = 0; y < ny; ++y) {
            const double* from = phi + (int64_t{x} * ny + y) * row_stride;
            float* to = mesh + (int64_t{x} * tiles_y_ * kTile + y) * mesh_cols;
            for (int z = 0; z < nz; ++z) to[z] = static_cast<float>(from[z]);
        }

    const int64_t chunks = static_cast<int64_t>(chunks_.size());
    ttl::Operation op("md_pme_interpolate", ttl::Grid::Auto);
    const ttl::TileShape tile{1, 1};
    auto wy_dfb = ttl::make_dataflow_buffer_like(op, wy_, tile, 2, "wy");
    auto dwy_dfb = ttl::make_dataflow_buffer_like(op, dwy_, tile, 2, "dwy");
    auto wz_dfb = ttl::make_dataflow_buffer_like(op, wz_, tile, 2, "wz");
    auto dwz_dfb = ttl::make_dataflow_buffer_like(op, dwz_, tile, 2, "dwz");
    auto phi_dfb = ttl::make_dataflow_buffer_like(op, mesh_, tile, 2, "phi");
    auto wx_dfb = ttl::make_dataflow_buffer_like(op, wx_, tile, 2, "wx");
    auto dwx_dfb = ttl::make_dataflow_buffer_like(op, dwx_, tile, 2, "dwx");
    auto gx_dfb = ttl::make_dataflow_buffer_like(op, grad_x_, tile, 2, "grad_x");
    auto gy_dfb = ttl::make_dataflow_buffer_like(op, grad_y_, tile, 2, "grad_y");
    auto gz_dfb = ttl::make_dataflow_buffer_like(op, grad_z_, tile, 2, "grad_z");

    op.compute([&] {
        auto [begin, end] = ttl::node_work(chunks);
        for (int64_t c = begin; c < end; ++c) {
            auto wy = wy_dfb.wait();
            auto dwy = dwy_dfb.wait();
            auto wz = wz_dfb.wait();
            auto dwz = dwz_dfb.wait();
            auto gx = gx_dfb.reserve();
            auto gy = gy_dfb.reserve();
            auto gz = gz_dfb.reserve();
            for (int j = 0; j < chunks_[c].planes; ++j) {
                auto phi = phi_dfb.wait();
                auto wx = wx_dfb.wait();
                auto dwx = dwx_dfb.wait();
                // Rows are the chunk's atoms: [i, z] = sum_y Wy[i, y] phi[y, z], then summed along z.
                auto phi_y = math::matmul(wy, phi);
                auto phi_dy = math::matmul(dwy, phi);
                gx += dwx * math::reduce_sum(phi_y * wz, ReduceDim::Row);
                gy += wx * math::reduce_sum(phi_dy * wz, ReduceDim::Row);
                gz += wx * math::reduce_sum(phi_y * dwz, ReduceDim::Row);
            }
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = ttl::node_work(chunks);
        for (int64_t c = begin; c < end; ++c) {
            for (auto [dfb, src] : {std::pair{&wy_dfb, &wy_}, std::pair{&dwy_dfb, &dwy_}, std::pair{&wz_dfb, &wz_},
                                    std::pair{&dwz_dfb, &dwz_}}) {
                auto blk = dfb->reserve();
                ttl::copy((*src)(c, 0), blk).wait();
            }
            const Chunk& chunk = chunks_[c];
            for (int j = 0; j < chunk.planes; ++j) {
                {
                    auto blk = phi_dfb.reserve();
                    ttl::copy(mesh_(mesh_tile_row((chunk.plane + j) % nx, chunk.column), chunk.column % tiles_z_), blk)
                        .wait();
                }
                for (auto [dfb, src] : {std::pair{&wx_dfb, &wx_}, std::pair{&dwx_dfb, &dwx_}}) {
                    auto blk = dfb->reserve();
                    ttl::copy((*src)(chunk.weights + j, 0), blk).wait();
                }
            }
        }
    });
    op.datamovement([&] {  // writer: each chunk's rows by the node that computed them
        auto [begin, end] = ttl::node_work(chunks);
        for (int64_t c = begin; c < end; ++c)
            for (auto [dfb, dst] :
                 {std::pair{&gx_dfb, &grad_x_}, std::pair{&gy_dfb, &grad_y_}, std::pair{&gz_dfb, &grad_z_}}) {
                auto blk = dfb->wait();
                ttl::copy(blk, (*dst)(c, 0)).wait();
            }
    });
    op.run(options);

    // An atom's stencil spans up to 4 tile columns: its gradient is the sum of its chunks' rows.
    std::fill(out.begin(), out.end(), Vec3{});
    for (int64_t row = 0; row < chunks * kTile; ++row)
        if (const int32_t i = slot_atom_[row]; i >= 0)
            out[i] += Vec3{grad_x_.data<float>()[row], grad_y_.data<float>()[row], grad_z_.data<float>()[row]};
}

}  // namespace ttlm::md
