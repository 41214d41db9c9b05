#include "models/md/topology.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace ttlm::md {

std::vector<SpecialPair> find_special_pairs(const System& system, const SpecialBonds& special) {
    std::vector<SpecialPair> pairs;
    bool all_one = true;
    for (int k = 0; k < 3; ++k) all_one = all_one && special.lj[k] == 1 && special.coul[k] == 1;
    if (all_one || system.bonds.empty()) return pairs;

    std::vector<std::vector<int32_t>> neighbors(system.size());
    for (const Bond& b : system.bonds) {
        neighbors[b.a].push_back(b.b);
        neighbors[b.b].push_back(b.a);
    }
    // Breadth-first search to depth 3 from every bonded atom; the first depth an atom is reached at is
    // its shortest path, so a pair that is both 1-2 and 1-3 (in a ring) counts as 1-2.
    std::unordered_map<int32_t, int> depth;
    for (int32_t i = 0; i < static_cast<int32_t>(system.size()); ++i) {
        if (neighbors[i].empty()) continue;
        depth.clear();
        depth[i] = 0;
        std::vector<int32_t> frontier{i};
        for (int d = 1; d <= 3; ++d) {
            std::vector<int32_t> next;
            for (int32_t a : frontier)
                for (int32_t b : neighbors[a])
                    if (depth.emplace(b, d).second) next.push_back(b);
            frontier = std::move(next);
        }
        for (const auto& [j, d] : depth) {
            if (j <= i || d == 0) continue;
            double lj = special.lj[d - 1], coul = special.coul[d - 1];
            if (lj != 1 || coul != 1) pairs.push_back({i, j, lj, coul});
        }
    }
    std::sort(pairs.begin(), pairs.end(), [](const SpecialPair& a, const SpecialPair& b) {
        return a.i != b.i ? a.i < b.i : a.j < b.j;
    });
    return pairs;
}

BondedSums add_bond_forces(const System& system, std::span<Vec3> forces) {
    BondedSums sums;
    for (const Bond& bond : system.bonds) {
        const BondType& type = system.bond_types[bond.type];
        Vec3 d = system.box.minimum_image(system.positions[bond.a] - system.positions[bond.b]);
        double r = std::sqrt(d.norm2());
        double stretch = r - type.r0;
        sums.energy += type.k_lammps * stretch * stretch;
        // F_a = -dE/dr * d/r; a zero-length bond has no direction and, with r0 > 0, no finite force.
        double f_over_r = r > 0 ? -2 * type.k_lammps * stretch / r : 0;
        Vec3 f = d * f_over_r;
        forces[bond.a] += f;
        forces[bond.b] -= f;
        sums.virial += d.dot(f);
    }
    return sums;
}

PairCorrectionSums add_special_pair_corrections(const System& system, std::span<const SpecialPair> pairs,
                                                double cutoff, bool lj_shift, std::span<Vec3> forces) {
    PairCorrectionSums sums;
    double cutoff2 = cutoff * cutoff;
    double cutoff6 = lj_shift ? cutoff2 * cutoff2 * cutoff2 : std::numeric_limits<double>::infinity();
    for (const SpecialPair& p : pairs) {
        Vec3 d = system.box.minimum_image(system.positions[p.i] - system.positions[p.j]);
        double r2 = d.norm2();
        if (r2 >= cutoff2) continue;
        const AtomType& ti = system.atom_types[system.types[p.i]];
        const AtomType& tj = system.atom_types[system.types[p.j]];
        double inv_r2 = 1 / r2, inv_r = std::sqrt(inv_r2);
        double sigma2 = ti.sigma * tj.sigma;  // sigma_ij^2 under geometric mixing
        double s6 = sigma2 * sigma2 * sigma2 * inv_r2 * inv_r2 * inv_r2;
        double four_eps = 4 * std::sqrt(ti.epsilon * tj.epsilon);
        double s6_cut = sigma2 * sigma2 * sigma2 / cutoff6;  // 0 unless shifted
        double lj_energy = four_eps * (s6 * s6 - s6) - four_eps * (s6_cut * s6_cut - s6_cut);
        double lj_force_r2 = four_eps * (12 * s6 * s6 - 6 * s6);  // F.r
        double qq = system.charges[p.i] * system.charges[p.j];
        double coul_energy = -(1 - p.coul) * qq * inv_r;
        double fpair = ((p.lj - 1) * lj_force_r2 + coul_energy) * inv_r2;
        sums.lj_energy += (p.lj - 1) * lj_energy;
        sums.coul_energy += coul_energy;
        sums.virial += fpair * r2;
        forces[p.i] += d * fpair;
        forces[p.j] -= d * fpair;
    }
    return sums;
}

}  // namespace ttlm::md
