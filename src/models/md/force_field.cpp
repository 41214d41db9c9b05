#include "models/md/force_field.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "models/md/pair_kernel_ttl.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {

KSpace parse_kspace(const std::string& name) {
    if (name == "none") return KSpace::none;
    if (name == "ewald") return KSpace::ewald;
    if (name == "pme") return KSpace::pme;
    throw std::invalid_argument(fmt::format("--kspace: expected ewald, pme or none, got '{}'", name));
}

PairKernel parse_pair_kernel(const std::string& name) {
    if (name == "simd") return PairKernel::simd;
    if (name == "ttl") return PairKernel::ttl;
    throw std::invalid_argument(fmt::format("--pair-kernel: expected simd or ttl, got '{}'", name));
}

namespace {

bool finite(const Vec3& v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }

const ForceFieldOptions& checked(const ForceFieldOptions& o) {
    if (!(o.cutoff > 0 && std::isfinite(o.cutoff)))
        throw std::invalid_argument(fmt::format("--cutoff must be > 0 (got {})", o.cutoff));
    if (!(o.skin >= 0 && std::isfinite(o.skin)))
        throw std::invalid_argument(fmt::format("--skin must be >= 0 (got {})", o.skin));
    if (!(o.alpha > 0 && std::isfinite(o.alpha)))
        throw std::invalid_argument(fmt::format("--alpha must be > 0 (got {})", o.alpha));
    if (!(o.accuracy > 0 && o.accuracy < 1))
        throw std::invalid_argument(fmt::format("--accuracy must be in (0, 1) (got {})", o.accuracy));
    if (!(o.min_distance >= 0)) throw std::invalid_argument("minimum distance must be >= 0");
    for (int k = 0; k < 3; ++k)
        if (!(o.special.lj[k] >= 0 && o.special.lj[k] <= 1 && o.special.coul[k] >= 0 && o.special.coul[k] <= 1))
            throw std::invalid_argument("special bonds: weights must be in [0, 1]");
    return o;
}

}  // namespace

ForceField::ForceField(const System& system, const ForceFieldOptions& options)
    : options_(checked(options)), list_(options.cutoff, options.skin) {
    system.validate();
    const ForceFieldOptions& o = options_;
    const double edge = system.box.min_length();
    if (edge < 2 * o.cutoff)
        throw std::invalid_argument(fmt::format(
            "the box ({:.6g} x {:.6g} x {:.6g}) is smaller than twice the cutoff {} along an axis: the minimum "
            "image convention would miss pairs; use a smaller --cutoff or a bigger system",
            system.box.length.x, system.box.length.y, system.box.length.z, o.cutoff));
    // A box barely wider than 2 rc leaves less room for the skin: the list then rebuilds more often.
    options_.skin = std::min(o.skin, edge / 2 - o.cutoff);
    list_ = NeighborList(options_.cutoff, options_.skin);

    special_pairs_ = find_special_pairs(system, o.special);
    has_charges_ = std::any_of(system.charges.begin(), system.charges.end(), [](double q) { return q != 0; });
    if (has_charges_ && o.kspace == KSpace::ewald) ewald_.emplace(system.box, o.alpha, o.accuracy, system.charges);
    if (has_charges_ && o.kspace == KSpace::pme)
        pme_ = std::make_unique<Pme>(system.box, o.alpha,
                                     choose_pme_grid(system.box, o.alpha, o.accuracy, system.charges, o.pme_order),
                                     o.pme_kernel);
}

std::string ForceField::describe() const {
    std::string kspace = "no charges";
    if (ewald_) {
        auto k = ewald_->kmax();
        kspace = fmt::format("Ewald, kmax {} {} {} ({} k-vectors), accuracy {:g}", k[0], k[1], k[2],
                             ewald_->num_vectors(), options_.accuracy);
    } else if (pme_) {
        kspace = fmt::format("PME, grid {}, accuracy {:g}{}", pme_->grid().describe(), options_.accuracy,
                             pme_->kernel() == PmeKernel::ttl ? ", mesh by the ttl kernels (fp32)" : "");
    } else if (has_charges_) {
        kspace = "no k-space term (real-space Coulomb only)";
    }
    return fmt::format("cutoff {:g}, skin {:g}, alpha {:g}; {}{}", options_.cutoff, options_.skin, options_.alpha,
                       kspace, options_.pair_kernel == PairKernel::ttl ? "; pair forces by the ttl kernel (fp32)" : "");
}

void ForceField::rebuild(const System& system) {
    NeighborList::ClosestPair closest = list_.build(system.box, system.positions);
    if (closest.i >= 0 && closest.distance < options_.min_distance)
        throw std::runtime_error(fmt::format(
            "atoms {} and {} overlap: they are {:.3g} apart (less than {:g}); the configuration is broken",
            system.ids[closest.i], system.ids[closest.j], closest.distance, options_.min_distance));
    // Per-atom constants, in the new order (positions are refreshed at every call).
    const auto original = list_.original();
    packed_.assign(list_.num_blocks() * NeighborList::kBlockAtoms, PairAtom{});
    for (size_t k = 0; k < original.size(); ++k) {
        int32_t i = original[k];
        const AtomType& t = system.atom_types[system.types[i]];
        double s = std::sqrt(t.epsilon), sigma3 = t.sigma * t.sigma * t.sigma;
        packed_[k].q = system.charges[i];
        packed_[k].c12 = 2 * s * sigma3 * sigma3;
        packed_[k].c6 = 2 * s * sigma3;
    }
}

ForceResult ForceField::compute(const System& system, std::span<Vec3> forces) {
    if (system.size() != list_.atoms() && list_.builds() > 0)
        throw std::invalid_argument("force field: the system changed size since it was set up");
    if (list_.needs_rebuild(system.box, system.positions)) rebuild(system);
    const auto original = list_.original();
    runtime::parallel_for(
        static_cast<int64_t>(original.size()),
        [&](int64_t begin, int64_t end) {
            for (int64_t k = begin; k < end; ++k) {
                const Vec3& p = system.positions[original[k]];
                packed_[k].x = p.x, packed_[k].y = p.y, packed_[k].z = p.z;
            }
        },
        4096);

    ForceResult result;
    PairKernelParams params{options_.cutoff, options_.alpha, has_charges_, options_.lj_shift, system.box.length};
    PairSums pair = options_.pair_kernel == PairKernel::ttl ? compute_pair_forces_ttl(list_, packed_, params, forces)
                                                            : compute_pair_forces(list_, packed_, params, forces);
    PairCorrectionSums special = add_special_pair_corrections(system, special_pairs_, options_.cutoff, options_.lj_shift,
                                                                forces);
    BondedSums bonds = add_bond_forces(system, forces);
    KSpaceSums recip;
    if (ewald_) recip = ewald_->compute(system.positions, system.charges, forces);
    if (pme_) recip = pme_->compute(system.positions, system.charges, forces);

    result.energy = {pair.lj_energy + special.lj_energy, pair.coul_energy + special.coul_energy, recip.energy,
                     bonds.energy};
    result.virial = pair.virial + special.virial + bonds.virial + recip.virial;
    if (!std::isfinite(result.energy.potential()) || !std::isfinite(result.virial))
        throw std::runtime_error(fmt::format("the potential energy is not finite (LJ {}, Coulomb {} + {}, bonds {}): "
                                             "the system blew up (time step too large?)",
                                             result.energy.lj, result.energy.coul_real, result.energy.coul_recip,
                                             result.energy.bond));
    for (int64_t i = 0; i < system.size(); ++i)
        if (!finite(forces[i]))
            throw std::runtime_error(fmt::format("the force on atom {} is not finite: the system blew up (time step "
                                                 "too large?)",
                                                 system.ids[i]));
    return result;
}

}  // namespace ttlm::md
