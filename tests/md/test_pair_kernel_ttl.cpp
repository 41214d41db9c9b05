// The ttl pair-force Operation against the double-precision SIMD kernel, in fast mode and in validate
// mode (deterministic and seeded random schedules), which must agree bit for bit with each other.
#include <gtest/gtest.h>

#include <cmath>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/pair_kernel_ttl.hpp"

namespace ttlm::md {
namespace {

struct Result {
    std::vector<Vec3> forces;
    ForceResult sums;
};

Result run(const System& s, ForceFieldOptions o, PairKernel kernel) {
    o.kspace = KSpace::none;  // the pair term alone
    o.pair_kernel = kernel;
    ForceField ff(s, o);
    Result r;
    r.forces.resize(s.size());
    r.sums = ff.compute(s, r.forces);
    return r;
}

double relative_rms(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
    double d = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]).norm2(), n += b[i].norm2();
    return std::sqrt(d / n);
}

TEST(PairKernelTtl, MatchesTheDoublePrecisionKernelToFp32) {
    std::vector<std::pair<const char*, System>> systems;
    systems.emplace_back("micelle", make_micelle_system({}));
    systems.emplace_back("random", make_random_system({.atoms = 3000, .seed = 4}));
    for (auto& [name, s] : systems)
        for (bool shift : {false, true}) {
            ForceFieldOptions o;
            o.lj_shift = shift;
            Result exact = run(s, o, PairKernel::simd), tiles = run(s, o, PairKernel::ttl);
            SCOPED_TRACE(::testing::Message() << name << " shift " << shift);
            // fp32 tiles: ~1e-7 per operation, a few dozen operations per pair.
            EXPECT_LT(relative_rms(tiles.forces, exact.forces), 1e-5);
            EXPECT_NEAR(tiles.sums.energy.lj, exact.sums.energy.lj, 1e-6 * std::abs(exact.sums.energy.lj));
            EXPECT_NEAR(tiles.sums.energy.coul_real, exact.sums.energy.coul_real,
                        1e-5 * std::abs(exact.sums.energy.coul_real));
            EXPECT_NEAR(tiles.sums.virial, exact.sums.virial, 1e-6 * std::abs(exact.sums.virial));
        }
}

TEST(PairKernelTtl, ValidateModeAgreesBitForBit) {
    MicelleOptions m;
    m.lipids = 20, m.water = 500, m.ion_pairs = 5;
    System s = make_micelle_system(m);
    NeighborList list(3.0, 0.3);
    list.build(s.box, s.positions);
    std::vector<PairAtom> atoms(list.num_blocks() * NeighborList::kBlockAtoms, PairAtom{});
    for (int64_t k = 0; k < list.atoms(); ++k) {
        int32_t i = list.original()[k];
        const AtomType& t = s.atom_types[s.types[i]];
        atoms[k] = {s.positions[i].x, s.positions[i].y, s.positions[i].z, s.charges[i],
                    2 * std::sqrt(t.epsilon) * std::pow(t.sigma, 6), 2 * std::sqrt(t.epsilon) * std::pow(t.sigma, 3), 0, 0};
    }
    PairKernelParams params{3.0, 1.0, true, false, s.box.length};
    std::vector<std::vector<Vec3>> results;
    std::vector<PairSums> sums;
    for (uint64_t seed : {0, 1, 12345}) {
        ttl::ExecOptions options;
        options.mode = seed == 0 ? ttl::Mode::Fast : ttl::Mode::Validate;
        options.seed = seed == 1 ? 0 : seed;  // validate: fixed order, then a seeded random order
        std::vector<Vec3> f(s.size());
        sums.push_back(compute_pair_forces_ttl(list, atoms, params, f, options));
        results.push_back(f);
    }
    for (size_t r = 1; r < results.size(); ++r) {
        EXPECT_EQ(sums[r].lj_energy, sums[0].lj_energy);
        EXPECT_EQ(sums[r].coul_energy, sums[0].coul_energy);
        for (int64_t i = 0; i < s.size(); ++i)
            for (int d = 0; d < 3; ++d) ASSERT_EQ(results[r][i][d], results[0][i][d]) << "atom " << i;
    }
}

}  // namespace
}  // namespace ttlm::md
