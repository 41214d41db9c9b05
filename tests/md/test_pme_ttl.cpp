// PME's mesh kernels as ttl Operations (fp32 tiles) against the double-precision ones and the exact
// Ewald sum: the spread mesh point by point within fp32 rounding, forces within the requested
// accuracy, and validate mode (fixed and seeded random schedules) bit for bit equal to fast mode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/pme.hpp"
#include "models/md/pme_ttl.hpp"

namespace ttlm::md {
namespace {

constexpr double kUnitRoundoff = 0x1.0p-24;  // fp32

double rms_difference(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]).norm2();
    return std::sqrt(sum / static_cast<double>(a.size()));
}

double rms(const std::vector<Vec3>& a) { return rms_difference(a, std::vector<Vec3>(a.size())); }

struct Case {
    const char* name;
    System system;
    PmeGrid grid;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    System micelle = make_micelle_system({});
    System random = make_random_system({.atoms = 3000, .seed = 11});
    out.push_back({"micelle", micelle, choose_pme_grid(micelle.box, 1.0, 1e-5, micelle.charges, 0)});
    out.push_back({"random, order 5", random, choose_pme_grid(random.box, 1.0, 1e-4, random.charges, 5)});
    // y ends in a tile of 4 points and z in one of 4: order-7 stencils that wrap touch 3 y tiles.
    out.push_back({"random, 20x100x36 order 7", random, PmeGrid{{20, 100, 36}, 7}});
    return out;
}

// Each mesh point is a sum of q w_x w_y w_z terms. In fp32: the weights and charge rounded (4 u), the
// products (3 u), and the sums in tile products and accumulation (at most ~n u for n terms, here tens):
// the error is bounded by 64 u times the same sum over |q|, which the double kernel gives exactly.
TEST(PmeTtl, SpreadMeshEqualsTheHostMesh) {
    for (auto& [name, s, grid] : cases()) {
        SCOPED_TRACE(::testing::Message() << name << ", grid " << grid.describe());
        Pme exact(s.box, 1.0, grid), tiles(s.box, 1.0, grid, PmeKernel::ttl);
        std::vector<double> magnitudes(s.charges.size());
        for (size_t i = 0; i < magnitudes.size(); ++i) magnitudes[i] = std::abs(s.charges[i]);
        const std::vector<double> q = exact.charge_mesh(s.positions, s.charges);
        const std::vector<double> q_abs = exact.charge_mesh(s.positions, magnitudes);
        const std::vector<double> q_ttl = tiles.charge_mesh(s.positions, s.charges);
        ASSERT_EQ(q_ttl.size(), q.size());
        double worst = 0, total = 0;
        for (size_t k = 0; k < q.size(); ++k) {
            ASSERT_LE(std::abs(q_ttl[k] - q[k]), 64 * kUnitRoundoff * q_abs[k] + 1e-30) << "mesh point " << k;
            worst = std::max(worst, std::abs(q_ttl[k] - q[k]) / (kUnitRoundoff * q_abs[k] + 1e-300));
            total += q_abs[k];
        }
        // The mesh holds every charge once: sum_g M(u - g) = 1 along each axis.
        double sum_abs = 0;
        for (double m : magnitudes) sum_abs += m;
        EXPECT_NEAR(total, sum_abs, 1e-9 * sum_abs);
        std::printf("%s: spread mesh error at most %.2f u of the point's sum of |terms|\n", name, worst);
    }
}

TEST(PmeTtl, ForcesMeetTheRequestedAccuracyAgainstEwald) {
    std::vector<std::pair<const char*, System>> systems;
    systems.emplace_back("micelle", make_micelle_system({}));
    systems.emplace_back("random", make_random_system({.atoms = 3000, .seed = 11}));
    for (auto& [name, s] : systems) {
        ForceFieldOptions exact;
        exact.kspace = KSpace::ewald;
        exact.accuracy = 1e-11;
        ForceField ewald(s, exact);
        std::vector<Vec3> f_exact(s.size()), f_simd(s.size()), f_ttl(s.size());
        ForceResult e = ewald.compute(s, f_exact);
        for (int order : {5, 7})
            for (double accuracy : {1e-4, 1e-6}) {
                ForceFieldOptions o = exact;
                o.kspace = KSpace::pme;
                o.pme_order = order;
                o.accuracy = accuracy;
                ForceField simd(s, o);
                o.pme_kernel = PmeKernel::ttl;
                ForceField ttl(s, o);
                ForceResult r_simd = simd.compute(s, f_simd), r_ttl = ttl.compute(s, f_ttl);
                SCOPED_TRACE(::testing::Message() << name << ": " << ttl.describe());
                // As the double kernels (test_forces.cpp, PmeMeetsTheRequestedAccuracy), micelle allowance included.
                EXPECT_LT(rms_difference(f_ttl, f_exact), 1.5 * accuracy);
                EXPECT_LT(std::abs(r_ttl.energy.coul_recip - e.energy.coul_recip),
                          accuracy * static_cast<double>(s.size()));
                // fp32 mesh: the k-space forces agree with the double kernels' to ~1e-6 of their size.
                const double recip_scale = rms(f_exact) + 1;
                EXPECT_LT(rms_difference(f_ttl, f_simd), 1e-5 * recip_scale);
                EXPECT_NEAR(r_ttl.energy.coul_recip, r_simd.energy.coul_recip,
                            1e-6 * std::abs(r_simd.energy.coul_recip));
                EXPECT_NEAR(r_ttl.virial, r_simd.virial, 1e-6 * std::abs(r_simd.virial));
                std::printf("%s, order %d, accuracy %g: ttl vs Ewald %.3g, ttl vs simd %.3g (force RMS)\n", name, order,
                            accuracy, rms_difference(f_ttl, f_exact), rms_difference(f_ttl, f_simd));
            }
    }
}

TEST(PmeTtl, ValidateModeAgreesBitForBit) {
    MicelleOptions m;
    m.lipids = 20, m.water = 500, m.ion_pairs = 5;
    System s = make_micelle_system(m);
    const PmeGrid grid = choose_pme_grid(s.box, 1.0, 1e-4, s.charges, 6);
    std::vector<std::vector<double>> meshes;
    std::vector<std::vector<Vec3>> forces;
    for (uint64_t seed : {0, 1, 12345}) {
        ttl::ExecOptions options;
        options.mode = seed == 0 ? ttl::Mode::Fast : ttl::Mode::Validate;
        options.seed = seed == 1 ? 0 : seed;  // validate: fixed order, then a seeded random order
        Pme pme(s.box, 1.0, grid, PmeKernel::ttl);
        pme.set_ttl_options(options);
        meshes.push_back(pme.charge_mesh(s.positions, s.charges));
        std::vector<Vec3> f(s.size());
        pme.compute(s.positions, s.charges, f);
        forces.push_back(f);
    }
    for (size_t r = 1; r < meshes.size(); ++r) {
        ASSERT_EQ(meshes[r], meshes[0]);
        for (int64_t i = 0; i < s.size(); ++i)
            for (int d = 0; d < 3; ++d) ASSERT_EQ(forces[r][i][d], forces[0][i][d]) << "atom " << i;
    }
}

TEST(PmeTtl, BadInputIsAnError) {
    System s = make_random_system({.atoms = 300, .seed = 2});
    Pme pme(s.box, 1.0, PmeGrid{{16, 16, 16}, 5}, PmeKernel::ttl);
    std::vector<Vec3> forces(s.size());
    EXPECT_THROW(pme.compute(s.positions, std::vector<double>(10, 1.0), forces), std::invalid_argument);
    EXPECT_THROW(PmeMeshTtl({16, 16, 4}, 5), std::invalid_argument);
}

TEST(PmeTtl, KernelOptionParses) {
    EXPECT_EQ(parse_pme_kernel("ttl"), PmeKernel::ttl);
    EXPECT_EQ(parse_pme_kernel("simd"), PmeKernel::simd);
    EXPECT_THROW(parse_pme_kernel("cuda"), std::invalid_argument);
}

}  // namespace
}  // namespace ttlm::md
