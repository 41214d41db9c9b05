// Highway compiles this file once per SIMD target (foreach_target.h re-includes it).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "models/md/pair_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <numbers>
#include <vector>

#include "models/md/fast_erfc.hpp"
#include "models/md/pair_kernel.hpp"
#include "runtime/thread_pool.hpp"

HWY_BEFORE_NAMESPACE();
namespace ttlm::md::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Forces and sums of one block: lanes are i-atoms, the loop runs over neighbour slots.
template <bool kCoulomb>
void pair_block(const NeighborList& list, int64_t b, const PairAtom* atoms, const PairKernelParams& p,
                std::span<Vec3> forces, PairSums& sums) {
    const hn::ScalableTag<double> d;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::Rebind<int32_t, decltype(d)> di32;
    const size_t N = hn::Lanes(d);
    const double* base = &atoms[0].x;
    constexpr int64_t kStride = sizeof(PairAtom) / sizeof(double);
    static_assert(kStride == 8);

    const auto L_x = hn::Set(d, p.box_length.x), L_y = hn::Set(d, p.box_length.y), L_z = hn::Set(d, p.box_length.z);
    const auto inv_Lx = hn::Set(d, 1 / p.box_length.x), inv_Ly = hn::Set(d, 1 / p.box_length.y),
               inv_Lz = hn::Set(d, 1 / p.box_length.z);
    const auto cut2 = hn::Set(d, p.cutoff * p.cutoff);
    const auto one = hn::Set(d, 1.0), twelve = hn::Set(d, 12.0), six = hn::Set(d, 6.0);
    const auto alpha = hn::Set(d, p.alpha), erfc_p = hn::Set(d, kErfcP);
    const double inv_rc6 = p.lj_shift ? 1 / (p.cutoff * p.cutoff * p.cutoff * p.cutoff * p.cutoff * p.cutoff) : 0.0;
    const auto shift12 = hn::Set(d, inv_rc6 * inv_rc6), shift6 = hn::Set(d, inv_rc6);
    const auto two_alpha_over_sqrt_pi = hn::Set(d, 2 * p.alpha * std::numbers::inv_sqrtpi);

    const NeighborList::Block block = list.block(b);
    const int64_t n = list.atoms();
    for (size_t lane0 = 0; lane0 < NeighborList::kBlockAtoms; lane0 += N) {
        const int64_t first = b * NeighborList::kBlockAtoms + static_cast<int64_t>(lane0);
        const auto i_index = hn::Iota(di, first);
        const auto i_offset = hn::ShiftLeft<3>(i_index);
        const auto xi = hn::GatherIndex(d, base + 0, i_offset), yi = hn::GatherIndex(d, base + 1, i_offset),
                   zi = hn::GatherIndex(d, base + 2, i_offset), qi = hn::GatherIndex(d, base + 3, i_offset),
                   c12i = hn::GatherIndex(d, base + 4, i_offset), c6i = hn::GatherIndex(d, base + 5, i_offset);
        auto fx = hn::Zero(d), fy = hn::Zero(d), fz = hn::Zero(d);
        auto e_lj = hn::Zero(d), e_coul = hn::Zero(d), virial = hn::Zero(d);

        const int32_t* slot = block.neighbors + lane0;
        for (int32_t s = 0; s < block.slots; ++s, slot += NeighborList::kBlockAtoms) {
            const auto j_index = hn::PromoteTo(di, hn::LoadU(di32, slot));
            const auto j_offset = hn::ShiftLeft<3>(j_index);
            auto dx = hn::Sub(xi, hn::GatherIndex(d, base + 0, j_offset));
            auto dy = hn::Sub(yi, hn::GatherIndex(d, base + 1, j_offset));
            auto dz = hn::Sub(zi, hn::GatherIndex(d, base + 2, j_offset));
            dx = hn::NegMulAdd(hn::Round(hn::Mul(dx, inv_Lx)), L_x, dx);
            dy = hn::NegMulAdd(hn::Round(hn::Mul(dy, inv_Ly)), L_y, dy);
            dz = hn::NegMulAdd(hn::Round(hn::Mul(dz, inv_Lz)), L_z, dz);
            const auto r2 = hn::MulAdd(dx, dx, hn::MulAdd(dy, dy, hn::Mul(dz, dz)));
            const auto inside = hn::And(hn::Lt(r2, cut2), hn::RebindMask(d, hn::Ne(j_index, i_index)));
            if (hn::AllFalse(d, inside)) continue;
            // Padding slots (j == i, r2 = 0) compute on r2 = 1 and are masked out below.
            const auto r2_safe = hn::IfThenElse(inside, r2, one);
            const auto inv_r2 = hn::Div(one, r2_safe);
            const auto inv_r6 = hn::Mul(inv_r2, hn::Mul(inv_r2, inv_r2));
            const auto c12 = hn::Mul(c12i, hn::GatherIndex(d, base + 4, j_offset));
            const auto c6 = hn::Mul(c6i, hn::GatherIndex(d, base + 5, j_offset));
            // E_lj, less its value at the cutoff when shifted (shift12 = shift6 = 0 otherwise)
            const auto lj = hn::Sub(hn::Mul(inv_r6, hn::MulSub(c12, inv_r6, c6)), hn::MulSub(c12, shift12, hn::Mul(c6, shift6)));
            auto force_r = hn::Mul(inv_r6, hn::MulSub(hn::Mul(twelve, c12), inv_r6, hn::Mul(six, c6)));  // F.r
            e_lj = hn::Add(e_lj, hn::IfThenElseZero(inside, lj));
            if constexpr (kCoulomb) {
                const auto qq = hn::Mul(qi, hn::GatherIndex(d, base + 3, j_offset));
                const auto inv_r = hn::Sqrt(inv_r2);
                const auto x = hn::Mul(alpha, hn::Mul(r2_safe, inv_r));
                const auto gauss = hn::Exp(d, hn::Neg(hn::Mul(x, x)));
                const auto t = hn::Div(one, hn::MulAdd(erfc_p, x, one));
                auto poly = hn::Set(d, kErfcPoly[16]);
                for (int k = 15; k >= 0; --k) poly = hn::MulAdd(poly, t, hn::Set(d, kErfcPoly[k]));
                const auto erfc = hn::Mul(hn::Mul(t, poly), gauss);
                const auto coul = hn::Mul(hn::Mul(qq, erfc), inv_r);  // E_coul
                force_r = hn::Add(force_r, hn::MulAdd(hn::Mul(qq, two_alpha_over_sqrt_pi), gauss, coul));
                e_coul = hn::Add(e_coul, hn::IfThenElseZero(inside, coul));
            }
            force_r = hn::IfThenElseZero(inside, force_r);
            virial = hn::Add(virial, force_r);
            const auto fpair = hn::Mul(force_r, inv_r2);
            fx = hn::MulAdd(dx, fpair, fx);
            fy = hn::MulAdd(dy, fpair, fy);
            fz = hn::MulAdd(dz, fpair, fz);
        }

        HWY_ALIGN double out[4][hn::MaxLanes(d)];
        hn::Store(fx, d, out[0]);
        hn::Store(fy, d, out[1]);
        hn::Store(fz, d, out[2]);
        const std::span<const int32_t> original = list.original();
        for (size_t l = 0; l < N && first + static_cast<int64_t>(l) < n; ++l)
            forces[original[first + l]] = {out[0][l], out[1][l], out[2][l]};
        // Each pair is listed from both ends: half of each sum.
        hn::Store(e_lj, d, out[3]);
        for (size_t l = 0; l < N; ++l) sums.lj_energy += 0.5 * out[3][l];
        hn::Store(e_coul, d, out[3]);
        for (size_t l = 0; l < N; ++l) sums.coul_energy += 0.5 * out[3][l];
        hn::Store(virial, d, out[3]);
        for (size_t l = 0; l < N; ++l) sums.virial += 0.5 * out[3][l];
    }
}

void pair_blocks(const NeighborList& list, int64_t begin, int64_t end, const PairAtom* atoms,
                 const PairKernelParams& params, std::span<Vec3> forces, PairSums& sums) {
    for (int64_t b = begin; b < end; ++b) {
        if (params.coulomb)
            pair_block<true>(list, b, atoms, params, forces, sums);
        else
            pair_block<false>(list, b, atoms, params, forces, sums);
    }
}

}  // namespace ttlm::md::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ttlm::md {

HWY_EXPORT(pair_blocks);

PairSums compute_pair_forces(const NeighborList& list, std::span<const PairAtom> atoms, const PairKernelParams& params,
                             std::span<Vec3> forces) {
    const int64_t blocks = list.num_blocks();
    const int workers = static_cast<int>(std::clamp<int64_t>(blocks / 4, 1, runtime::num_threads()));
    std::vector<PairSums> partial(workers);
    runtime::run_on_workers(workers, [&](int w) {
        HWY_DYNAMIC_DISPATCH(pair_blocks)(list, blocks * w / workers, blocks * (w + 1) / workers, atoms.data(),
                                          params, forces, partial[w]);
    });
    PairSums sums;
    for (const PairSums& s : partial) {
        sums.lj_energy += s.lj_energy;
        sums.coul_energy += s.coul_energy;
        sums.virial += s.virial;
    }
    return sums;
}

}  // namespace ttlm::md
#endif  // HWY_ONCE
