#include "models/md/neighbor_list.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

// Cells at least half the list cutoff wide, in z-fastest order, so that a column of cells along z
// holds a contiguous range of sorted atoms: the neighbours of an atom are found by scanning, for each
// (x, y) column of the stencil, one or two contiguous ranges of atoms.
struct CellGrid {
    int n[3] = {1, 1, 1};
    double size[3] = {1, 1, 1};
    int reach[3] = {0, 0, 0};  // cells to visit on each side; -1: the axis is too short, visit all cells
    std::vector<std::array<int, 2>> columns;  // (x, y) offsets of the stencil's columns

    CellGrid(const Box& box, double list_cutoff, int64_t atoms) {
        // Half-cutoff cells visit less empty space than cutoff-wide ones; a dilute system gets bigger
        // cells so that there are no more than ~4 cells per atom.
        double width = list_cutoff / 2;
        double max_cells = std::max<double>(27, 4.0 * static_cast<double>(atoms));
        while (std::floor(box.length.x / width) * std::floor(box.length.y / width) * std::floor(box.length.z / width) >
               max_cells)
            width *= 1.25;
        for (int d = 0; d < 3; ++d) {
            n[d] = std::max(1, static_cast<int>(std::floor(box.length[d] / width)));
            size[d] = box.length[d] / n[d];
            reach[d] = static_cast<int>(std::ceil(list_cutoff / size[d] - 1e-12));
            if (2 * reach[d] + 1 >= n[d]) reach[d] = -1;
        }
        // Keep the columns whose cells can hold a point within the cutoff of some point of the centre cell.
        auto offsets = [&](int d) {
            std::vector<int> o;
            if (reach[d] < 0)
                for (int k = 0; k < n[d]; ++k) o.push_back(k);  // every cell along d, once
            else
                for (int k = -reach[d]; k <= reach[d]; ++k) o.push_back(k);
            return o;
        };
        for (int ox : offsets(0))
            for (int oy : offsets(1)) {
                double gx = reach[0] < 0 ? 0 : std::max(0, std::abs(ox) - 1) * size[0];
                double gy = reach[1] < 0 ? 0 : std::max(0, std::abs(oy) - 1) * size[1];
                if (gx * gx + gy * gy < list_cutoff * list_cutoff) columns.push_back({ox, oy});
            }
    }
    int64_t count() const { return int64_t{n[0]} * n[1] * n[2]; }
    std::array<int, 3> coords_of(const Box& box, const Vec3& p) const {
        std::array<int, 3> c;
        for (int d = 0; d < 3; ++d)
            c[d] = std::clamp(static_cast<int>(std::floor((p[d] - box.lo[d]) / size[d])), 0, n[d] - 1);
        return c;
    }
    int64_t index(int x, int y, int z) const { return (int64_t{x} * n[1] + y) * n[2] + z; }
    int wrap(int c, int d) const { return c < 0 ? c + n[d] : c >= n[d] ? c - n[d] : c; }
};

}  // namespace

NeighborList::NeighborList(double cutoff, double skin) : cutoff_(cutoff), skin_(skin) {
    if (!(cutoff > 0 && std::isfinite(cutoff)))
        throw std::invalid_argument(fmt::format("neighbor list: cutoff must be > 0 (got {})", cutoff));
    if (!(skin >= 0 && std::isfinite(skin)))
        throw std::invalid_argument(fmt::format("neighbor list: skin must be >= 0 (got {})", skin));
}

NeighborList::ClosestPair NeighborList::build(const Box& box, std::span<const Vec3> positions) {
    const int64_t n = static_cast<int64_t>(positions.size());
    if (n >= std::numeric_limits<int32_t>::max() - kBlockAtoms)
        throw std::invalid_argument(fmt::format("neighbor list: {} atoms is more than 32-bit indices hold", n));
    const double list_cutoff = cutoff_ + skin_;
    if (box.min_length() < 2 * list_cutoff)
        throw std::invalid_argument(fmt::format("neighbor list: box edge {} is shorter than twice the list cutoff {}",
                                                box.min_length(), list_cutoff));
    CellGrid grid(box, list_cutoff, n);

    // Counting sort of atoms by cell.
    std::vector<int64_t> cell_of(n);
    std::vector<int64_t> cell_start(grid.count() + 1, 0);
    std::vector<std::array<int, 3>> coords(n);
    for (int64_t i = 0; i < n; ++i) {
        coords[i] = grid.coords_of(box, positions[i]);
        cell_of[i] = grid.index(coords[i][0], coords[i][1], coords[i][2]);
        ++cell_start[cell_of[i] + 1];
    }
    for (int64_t c = 0; c < grid.count(); ++c) cell_start[c + 1] += cell_start[c];
    original_.assign(n, 0);
    {
        std::vector<int64_t> fill(cell_start.begin(), cell_start.end() - 1);
        for (int64_t i = 0; i < n; ++i) original_[fill[cell_of[i]]++] = static_cast<int32_t>(i);
    }
    std::vector<double> sx(n), sy(n), sz(n);
    std::vector<std::array<int, 3>> sorted_coords(n);
    for (int64_t k = 0; k < n; ++k) {
        const Vec3& p = positions[original_[k]];
        sx[k] = p.x, sy[k] = p.y, sz[k] = p.z;
        sorted_coords[k] = coords[original_[k]];
    }

    const int64_t num_blocks = (n + kBlockAtoms - 1) / kBlockAtoms;
    const int workers = static_cast<int>(std::clamp<int64_t>(num_blocks, 1, runtime::num_threads()));
    blocks_.assign(num_blocks, {});
    thread_storage_.resize(std::max<size_t>(thread_storage_.size(), workers));
    std::vector<ClosestPair> closest(workers);
    const double cut2 = list_cutoff * list_cutoff;
    const Vec3 L = box.length, inv_L{1 / L.x, 1 / L.y, 1 / L.z};

    runtime::run_on_workers(workers, [&](int w) {
        std::vector<int32_t>& storage = thread_storage_[w];
        storage.clear();
        std::vector<int32_t> lanes[kBlockAtoms];
        double best2 = std::numeric_limits<double>::infinity();
        int64_t best_i = -1, best_j = -1;
        int64_t b0 = num_blocks * w / workers, b1 = num_blocks * (w + 1) / workers;
        for (int64_t b = b0; b < b1; ++b) {
            size_t slots = 0;
            int64_t counts[kBlockAtoms] = {};
            for (int lane = 0; lane < kBlockAtoms; ++lane) {
                int64_t i = b * kBlockAtoms + lane, count = 0;
                if (i >= n) continue;
                const auto [cx, cy, cz] = sorted_coords[i];
                // The z range of cells to scan in each column, as one or two ranges of cell indices.
                int z_ranges[2][2], num_z_ranges = 1;
                if (grid.reach[2] < 0) {
                    z_ranges[0][0] = 0, z_ranges[0][1] = grid.n[2];
                } else {
                    int z0 = cz - grid.reach[2], z1 = cz + grid.reach[2] + 1;
                    if (z0 < 0) {
                        z_ranges[0][0] = 0, z_ranges[0][1] = z1;
                        z_ranges[1][0] = z0 + grid.n[2], z_ranges[1][1] = grid.n[2];
                        num_z_ranges = 2;
                    } else if (z1 > grid.n[2]) {
                        z_ranges[0][0] = z0, z_ranges[0][1] = grid.n[2];
                        z_ranges[1][0] = 0, z_ranges[1][1] = z1 - grid.n[2];
                        num_z_ranges = 2;
                    } else {
                        z_ranges[0][0] = z0, z_ranges[0][1] = z1;
                    }
                }
                const double xi = sx[i], yi = sy[i], zi = sz[i];
                for (const auto& [ox, oy] : grid.columns) {
                    int x = grid.reach[0] < 0 ? ox : grid.wrap(cx + ox, 0);
                    int y = grid.reach[1] < 0 ? oy : grid.wrap(cy + oy, 1);
                    for (int r = 0; r < num_z_ranges; ++r) {
                        int64_t begin = cell_start[grid.index(x, y, z_ranges[r][0])];
                        int64_t end = cell_start[grid.index(x, y, z_ranges[r][1] - 1) + 1];
                        // Branch-free: write every candidate, keep those inside (the count advances).
                        if (lanes[lane].size() < static_cast<size_t>(count + (end - begin)))
                            lanes[lane].resize(2 * (count + (end - begin)));
                        int32_t* out = lanes[lane].data();
                        for (int64_t j = begin; j < end; ++j) {
                            double dx = xi - sx[j], dy = yi - sy[j], dz = zi - sz[j];
                            dx -= L.x * std::nearbyint(dx * inv_L.x);
                            dy -= L.y * std::nearbyint(dy * inv_L.y);
                            dz -= L.z * std::nearbyint(dz * inv_L.z);
                            double r2 = dx * dx + dy * dy + dz * dz;
                            out[count] = static_cast<int32_t>(j);
                            count += static_cast<int>(r2 < cut2) & static_cast<int>(j != i);
                            double r2_other = j != i ? r2 : std::numeric_limits<double>::infinity();
                            if (r2_other < best2) best2 = r2_other, best_i = i, best_j = j;  // rarely taken
                        }
                    }
                }
                counts[lane] = count;
                slots = std::max(slots, static_cast<size_t>(count));
            }
            int64_t offset = static_cast<int64_t>(storage.size());
            storage.resize(storage.size() + slots * kBlockAtoms);
            for (size_t s = 0; s < slots; ++s)
                for (int lane = 0; lane < kBlockAtoms; ++lane)
                    storage[offset + s * kBlockAtoms + lane] =
                        static_cast<int64_t>(s) < counts[lane] ? lanes[lane][s] : static_cast<int32_t>(b * kBlockAtoms + lane);
            blocks_[b] = {w, static_cast<int32_t>(slots), offset};
        }
        if (best_i >= 0) closest[w] = {original_[best_i], original_[best_j], std::sqrt(best2)};
    });

    positions_at_build_.assign(positions.begin(), positions.end());
    ++builds_;
    ClosestPair result;
    for (const ClosestPair& c : closest)
        if (c.distance < result.distance) result = c;
    return result;
}

bool NeighborList::needs_rebuild(const Box& box, std::span<const Vec3> positions) const {
    if (builds_ == 0 || positions.size() != positions_at_build_.size()) return true;
    const double limit2 = 0.25 * skin_ * skin_;
    std::atomic<bool> moved{false};
    runtime::parallel_for(
        static_cast<int64_t>(positions.size()),
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end && !moved.load(std::memory_order_relaxed); ++i)
                if (box.minimum_image(positions[i] - positions_at_build_[i]).norm2() > limit2) moved = true;
        },
        4096);
    return moved;
}

}  // namespace ttlm::md
