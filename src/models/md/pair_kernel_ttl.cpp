#include "models/md/pair_kernel_ttl.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "models/md/fast_erfc.hpp"
#include "ttl/ttl.hpp"

namespace ttlm::md {
namespace {

constexpr int64_t kTile = 32;                             // atoms per tile row block, slots per tile column block
constexpr int64_t kBlocksPerTile = kTile / NeighborList::kBlockAtoms;
// Padding slots sit this far away: outside any cutoff, where every term is exactly zero in fp32.
constexpr float kFar = 1000.0f;

// The host's share: per atom tile, the displacements to its neighbours and the neighbours' charges and
// LJ coefficients, as [tiles * 32, slot_tiles * 32] tensors; and per atom, its own, as column vectors.
struct PairTiles {
    int64_t tiles = 0, slot_tiles = 0;
    ttl::Tensor dx, dy, dz, qj, c12j, c6j;  // [tiles * 32, slot_tiles * 32]
    ttl::Tensor qi, c12i, c6i;              // [tiles * 32, 1]
};

PairTiles gather(const NeighborList& list, std::span<const PairAtom> atoms, const Vec3& box) {
    PairTiles t;
    t.tiles = (list.num_blocks() + kBlocksPerTile - 1) / kBlocksPerTile;
    int64_t max_slots = 1;
    for (int64_t b = 0; b < list.num_blocks(); ++b) max_slots = std::max<int64_t>(max_slots, list.block(b).slots);
    t.slot_tiles = (max_slots + kTile - 1) / kTile;
    const int64_t rows = t.tiles * kTile, cols = t.slot_tiles * kTile;
    for (ttl::Tensor* m : {&t.dx, &t.dy, &t.dz}) {
        *m = ttl::Tensor({rows, cols});
        std::fill(m->data<float>(), m->data<float>() + rows * cols, kFar);
    }
    for (ttl::Tensor* m : {&t.qj, &t.c12j, &t.c6j}) *m = ttl::Tensor({rows, cols});
    for (ttl::Tensor* m : {&t.qi, &t.c12i, &t.c6i}) *m = ttl::Tensor({rows, 1});
    const int64_t n = list.atoms();
    for (int64_t b = 0; b < list.num_blocks(); ++b) {
        const NeighborList::Block block = list.block(b);
        for (int lane = 0; lane < NeighborList::kBlockAtoms; ++lane) {
            const int64_t i = b * NeighborList::kBlockAtoms + lane;
            if (i >= n) continue;
            const PairAtom& a = atoms[i];
            t.qi.data<float>()[i] = static_cast<float>(a.q);
            t.c12i.data<float>()[i] = static_cast<float>(a.c12);
            t.c6i.data<float>()[i] = static_cast<float>(a.c6);
            for (int32_t s = 0; s < block.slots; ++s) {
                const int32_t j = block.neighbors[s * NeighborList::kBlockAtoms + lane];
                if (j == i) continue;  // padding: stays far away
                const PairAtom& o = atoms[j];
                double d[3] = {a.x - o.x, a.y - o.y, a.z - o.z};
                for (int k = 0; k < 3; ++k) d[k] -= box[k] * std::nearbyint(d[k] / box[k]);
                const int64_t at = i * cols + s;
                t.dx.data<float>()[at] = static_cast<float>(d[0]);
                t.dy.data<float>()[at] = static_cast<float>(d[1]);
                t.dz.data<float>()[at] = static_cast<float>(d[2]);
                t.qj.data<float>()[at] = static_cast<float>(o.q);
                t.c12j.data<float>()[at] = static_cast<float>(o.c12);
                t.c6j.data<float>()[at] = static_cast<float>(o.c6);
            }
        }
    }
    return t;
}

}  // namespace

PairSums compute_pair_forces_ttl(const NeighborList& list, std::span<const PairAtom> atoms,
                                 const PairKernelParams& params, std::span<Vec3> forces,
                                 const ttl::ExecOptions& options) {
    using ttl::BcastDim;
    using ttl::ReduceDim;
    namespace math = ttl::math;

    const PairTiles in = gather(list, atoms, params.box_length);
    const int64_t rows = in.tiles * kTile;
    ttl::Tensor fx({rows, 1}), fy({rows, 1}), fz({rows, 1}), e_lj({rows, 1}), e_coul({rows, 1}), virial({rows, 1});

    ttl::Operation op("md_pair_forces", ttl::Grid::Auto);
    const ttl::TileShape tile{1, 1};
    auto dx_dfb = ttl::make_dataflow_buffer_like(op, in.dx, tile, 2, "dx");
    auto dy_dfb = ttl::make_dataflow_buffer_like(op, in.dy, tile, 2, "dy");
    auto dz_dfb = ttl::make_dataflow_buffer_like(op, in.dz, tile, 2, "dz");
    auto qj_dfb = ttl::make_dataflow_buffer_like(op, in.qj, tile, 2, "qj");
    auto c12j_dfb = ttl::make_dataflow_buffer_like(op, in.c12j, tile, 2, "c12j");
    auto c6j_dfb = ttl::make_dataflow_buffer_like(op, in.c6j, tile, 2, "c6j");
    auto qi_dfb = ttl::make_dataflow_buffer_like(op, in.qi, tile, 2, "qi");
    auto c12i_dfb = ttl::make_dataflow_buffer_like(op, in.c12i, tile, 2, "c12i");
    auto c6i_dfb = ttl::make_dataflow_buffer_like(op, in.c6i, tile, 2, "c6i");
    auto fx_dfb = ttl::make_dataflow_buffer_like(op, fx, tile, 2, "fx");
    auto fy_dfb = ttl::make_dataflow_buffer_like(op, fy, tile, 2, "fy");
    auto fz_dfb = ttl::make_dataflow_buffer_like(op, fz, tile, 2, "fz");
    auto e_lj_dfb = ttl::make_dataflow_buffer_like(op, e_lj, tile, 2, "e_lj");
    auto e_coul_dfb = ttl::make_dataflow_buffer_like(op, e_coul, tile, 2, "e_coul");
    auto virial_dfb = ttl::make_dataflow_buffer_like(op, virial, tile, 2, "virial");

    const float cut2 = static_cast<float>(params.cutoff * params.cutoff);
    const double inv_rc6 = params.lj_shift ? std::pow(params.cutoff, -6.0) : 0.0;
    const float shift12 = static_cast<float>(inv_rc6 * inv_rc6), shift6 = static_cast<float>(inv_rc6);
    const float alpha = static_cast<float>(params.alpha);
    const float two_alpha_over_sqrt_pi = static_cast<float>(2 * params.alpha * std::numbers::inv_sqrtpi);
    const bool coulomb = params.coulomb;
    const int64_t tiles = in.tiles, slot_tiles = in.slot_tiles;

    op.compute([&] {
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t) {
            auto qi = qi_dfb.wait();
            auto c12i = c12i_dfb.wait();
            auto c6i = c6i_dfb.wait();
            auto fx_out = fx_dfb.reserve();
            auto fy_out = fy_dfb.reserve();
            auto fz_out = fz_dfb.reserve();
            auto e_lj_out = e_lj_dfb.reserve();
            auto e_coul_out = e_coul_dfb.reserve();
            auto virial_out = virial_dfb.reserve();
            for (int64_t s = 0; s < slot_tiles; ++s) {
                auto dx = dx_dfb.wait();
                auto dy = dy_dfb.wait();
                auto dz = dz_dfb.wait();
                auto qj = qj_dfb.wait();
                auto c12j = c12j_dfb.wait();
                auto c6j = c6j_dfb.wait();
                // Rows are atoms, columns their neighbour slots; column 0 of the i blocks holds the atoms' own.
                auto r2 = dx * dx + dy * dy + dz * dz;
                auto inside = math::clamp(math::sign(cut2 - r2), 0.0f, 1.0f);  // 1 where r^2 < rc^2, else 0
                auto inv_r2 = math::recip(r2);
                auto inv_r6 = inv_r2 * inv_r2 * inv_r2;
                auto c12 = math::broadcast(c12i, BcastDim::Col, tile) * c12j;
                auto c6 = math::broadcast(c6i, BcastDim::Col, tile) * c6j;
                auto lj = inv_r6 * (c12 * inv_r6 - c6) - (c12 * shift12 - c6 * shift6);
                auto force_r = inv_r6 * (c12 * inv_r6 * 12.0f - c6 * 6.0f);  // F.r
                e_lj_out += math::reduce_sum(inside * lj, ReduceDim::Row);
                if (coulomb) {
                    auto qq = math::broadcast(qi, BcastDim::Col, tile) * qj;
                    auto inv_r = math::rsqrt(r2);
                    auto x = r2 * inv_r * alpha;
                    auto gauss = math::exp(-(x * x));
                    auto u = math::recip(x * static_cast<float>(kErfcP) + 1.0f);
                    auto poly = u * static_cast<float>(kErfcPoly[16]) + static_cast<float>(kErfcPoly[15]);
                    for (int k = 14; k >= 0; --k) poly = poly * u + static_cast<float>(kErfcPoly[k]);
                    auto coul = qq * u * poly * gauss * inv_r;  // q q erfc(alpha r) / r
                    e_coul_out += math::reduce_sum(inside * coul, ReduceDim::Row);
                    force_r = force_r + coul + qq * gauss * two_alpha_over_sqrt_pi;
                }
                auto f_r = inside * force_r;
                auto f_pair = f_r * inv_r2;
                fx_out += math::reduce_sum(dx * f_pair, ReduceDim::Row);
                fy_out += math::reduce_sum(dy * f_pair, ReduceDim::Row);
                fz_out += math::reduce_sum(dz * f_pair, ReduceDim::Row);
                virial_out += math::reduce_sum(f_r, ReduceDim::Row);
            }
            if (!coulomb) e_coul_out.store(math::fill(0.0f, tile));
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t) {
            for (auto [dfb, src] : {std::pair{&qi_dfb, &in.qi}, std::pair{&c12i_dfb, &in.c12i},
                                    std::pair{&c6i_dfb, &in.c6i}}) {
                auto blk = dfb->reserve();
                ttl::copy((*src)(t, 0), blk).wait();
            }
            for (int64_t s = 0; s < slot_tiles; ++s) {
                for (auto [dfb, src] : {std::pair{&dx_dfb, &in.dx}, std::pair{&dy_dfb, &in.dy}, std::pair{&dz_dfb, &in.dz},
                                        std::pair{&qj_dfb, &in.qj}, std::pair{&c12j_dfb, &in.c12j},
                                        std::pair{&c6j_dfb, &in.c6j}}) {
                    auto blk = dfb->reserve();
                    ttl::copy((*src)(t, s), blk).wait();
                }
            }
        }
    });
    op.datamovement([&] {  // writer
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t)
            for (auto [dfb, dst] : {std::pair{&fx_dfb, &fx}, std::pair{&fy_dfb, &fy}, std::pair{&fz_dfb, &fz},
                                    std::pair{&e_lj_dfb, &e_lj}, std::pair{&e_coul_dfb, &e_coul},
                                    std::pair{&virial_dfb, &virial}}) {
                auto blk = dfb->wait();
                ttl::copy(blk, (*dst)(t, 0)).wait();
            }
    });
    op.run(options);

    PairSums sums;
    const auto original = list.original();
    for (int64_t i = 0; i < list.atoms(); ++i) {
        forces[original[i]] = {fx.data<float>()[i], fy.data<float>()[i], fz.data<float>()[i]};
        // Each pair is listed from both ends: half of each sum.
        sums.lj_energy += 0.5 * e_lj.data<float>()[i];
        sums.coul_energy += 0.5 * e_coul.data<float>()[i];
        sums.virial += 0.5 * virial.data<float>()[i];
    }
    return sums;
}

}  // namespace ttlm::md
