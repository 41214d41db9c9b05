// The force field against independent references: an O(N^2) minimum-image sum (std::erfc, written
// here from the formulas), the exact Ewald sum (for PME), the Madelung constant of rock salt (for
// Ewald), and a numerical volume derivative (for the virial). Plus the invariants and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

struct Reference {
    std::vector<Vec3> forces;
    double lj = 0, coul = 0, bond = 0, virial = 0;
};

// Every pair once, minimum image, no lists: the definition of the real-space terms.
Reference direct_sum(const System& s, double cutoff, double alpha, const SpecialBonds& special, bool shift) {
    const int64_t n = s.size();
    // Topological distance (1, 2, 3 bonds; 0 = further or none), by breadth-first search per atom.
    std::vector<std::vector<int>> adjacent(n);
    for (const Bond& b : s.bonds) adjacent[b.a].push_back(b.b), adjacent[b.b].push_back(b.a);
    auto bond_distance = [&](int64_t i, int64_t j) {
        std::vector<int64_t> frontier{i}, seen{i};
        for (int d = 1; d <= 3; ++d) {
            std::vector<int64_t> next;
            for (int64_t a : frontier)
                for (int b : adjacent[a])
                    if (std::find(seen.begin(), seen.end(), b) == seen.end()) {
                        if (b == j) return d;
                        seen.push_back(b), next.push_back(b);
                    }
            frontier = next;
        }
        return 0;
    };
    Reference r;
    r.forces.assign(n, {});
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
            Vec3 d = s.positions[i] - s.positions[j];
            for (int k = 0; k < 3; ++k) d[k] -= s.box.length[k] * std::round(d[k] / s.box.length[k]);
            double r2 = d.norm2();
            if (r2 >= cutoff * cutoff) continue;
            double dist = std::sqrt(r2);
            int topo = bond_distance(i, j);
            double w_lj = topo ? special.lj[topo - 1] : 1, w_coul = topo ? special.coul[topo - 1] : 1;
            const AtomType &ti = s.atom_types[s.types[i]], &tj = s.atom_types[s.types[j]];
            double eps = std::sqrt(ti.epsilon * tj.epsilon), sigma2 = ti.sigma * tj.sigma;
            double sr6 = std::pow(sigma2 / r2, 3), sc6 = shift ? std::pow(sigma2 / (cutoff * cutoff), 3) : 0;
            double e_lj = w_lj * 4 * eps * (sr6 * sr6 - sr6 - (sc6 * sc6 - sc6));
            double f_lj = w_lj * 24 * eps * (2 * sr6 * sr6 - sr6);  // F.r
            double qq = s.charges[i] * s.charges[j];
            double e_c = qq * (std::erfc(alpha * dist) - (1 - w_coul)) / dist;
            double f_c = qq * (std::erfc(alpha * dist) + 2 * alpha / std::sqrt(std::numbers::pi) * dist *
                                                             std::exp(-alpha * alpha * r2) -
                               (1 - w_coul)) /
                         dist;
            r.lj += e_lj, r.coul += e_c, r.virial += f_lj + f_c;
            Vec3 f = d * ((f_lj + f_c) / r2);
            r.forces[i] += f, r.forces[j] -= f;
        }
    for (const Bond& b : s.bonds) {
        Vec3 d = s.positions[b.a] - s.positions[b.b];
        for (int k = 0; k < 3; ++k) d[k] -= s.box.length[k] * std::round(d[k] / s.box.length[k]);
        double dist = std::sqrt(d.norm2());
        const BondType& t = s.bond_types[b.type];
        r.bond += t.k_lammps * (dist - t.r0) * (dist - t.r0);
        Vec3 f = d * (-2 * t.k_lammps * (dist - t.r0) / dist);
        r.forces[b.a] += f, r.forces[b.b] -= f;
        r.virial += d.dot(f);
    }
    return r;
}

double rms(const std::vector<Vec3>& v) {
    double s = 0;
    for (const Vec3& x : v) s += x.norm2();
    return std::sqrt(s / static_cast<double>(v.size()));
}

double rms_difference(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]).norm2();
    return std::sqrt(s / static_cast<double>(a.size()));
}

double max_difference(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::sqrt((a[i] - b[i]).norm2()));
    return m;
}

System test_micelle() {
    MicelleOptions o;
    o.lipids = 12, o.water = 380, o.ion_pairs = 5, o.seed = 3;
    return make_micelle_system(o);
}

ForceFieldOptions real_space_only() {
    ForceFieldOptions o;
    o.kspace = KSpace::none;
    return o;
}

TEST(Forces, CellListsEqualTheDirectSum) {
    for (int threads : {1, 2}) {
        runtime::set_num_threads(threads);
        for (bool micelle : {false, true})
            for (bool shift : {false, true}) {
                System s = micelle ? test_micelle() : make_random_system({.atoms = 500, .seed = 5});
                ForceFieldOptions o = real_space_only();
                o.lj_shift = shift;
                if (micelle) o.special = {{0.0, 0.5, 0.8}, {0.0, 0.25, 0.5}};
                ForceField ff(s, o);
                std::vector<Vec3> f(s.size());
                ForceResult got = ff.compute(s, f);
                Reference ref = direct_sum(s, o.cutoff, o.alpha, o.special, shift);
                SCOPED_TRACE(::testing::Message() << "micelle " << micelle << " shift " << shift << " threads " << threads);
                EXPECT_LT(max_difference(f, ref.forces), 1e-11 * rms(ref.forces));
                EXPECT_NEAR(got.energy.lj, ref.lj, 1e-12 * std::abs(ref.lj));
                EXPECT_NEAR(got.energy.coul_real, ref.coul, 1e-11 * std::abs(ref.coul) + 1e-13);
                EXPECT_NEAR(got.energy.bond, ref.bond, 1e-12 * std::abs(ref.bond) + 1e-13);
                EXPECT_NEAR(got.virial, ref.virial, 1e-11 * std::abs(ref.virial));
                EXPECT_EQ(got.energy.coul_recip, 0.0);
            }
    }
    runtime::set_num_threads(0);
}

TEST(Forces, VerletListStaysExactUntilItRebuilds) {
    System s = make_random_system({.atoms = 500, .seed = 9});
    ForceFieldOptions o = real_space_only();
    ForceField ff(s, o);
    std::vector<Vec3> f(s.size());
    ff.compute(s, f);
    EXPECT_EQ(ff.neighbor_list().builds(), 1);
    std::mt19937_64 rng(4);
    std::uniform_real_distribution<double> u(-1, 1);
    // Moves within half the skin keep the list; every pair inside the cutoff must still be listed.
    for (int round = 0; round < 3; ++round) {
        // Three moves of at most skin / 6 each: within half the skin of the build positions.
        for (auto& p : s.positions) p = s.box.wrap(p + Vec3{u(rng), u(rng), u(rng)} * (o.skin / 6 / std::sqrt(3.0)));
        ff.compute(s, f);
        EXPECT_LT(max_difference(f, direct_sum(s, o.cutoff, o.alpha, o.special, false).forces), 1e-10);
    }
    EXPECT_EQ(ff.neighbor_list().builds(), 1);
    s.positions[17] = s.box.wrap(s.positions[17] + Vec3{0.5 * o.skin, 0.0, 0.0});  // past half the skin from its start
    ff.compute(s, f);
    EXPECT_EQ(ff.neighbor_list().builds(), 2);
    EXPECT_LT(max_difference(f, direct_sum(s, o.cutoff, o.alpha, o.special, false).forces), 1e-10);
}

TEST(Forces, NewtonsThirdLawHoldsToRounding) {
    System s = test_micelle();
    ForceFieldOptions o;
    o.kspace = KSpace::ewald;
    o.accuracy = 1e-10;
    ForceField ff(s, o);
    std::vector<Vec3> f(s.size());
    ff.compute(s, f);
    Vec3 net;
    for (const Vec3& x : f) net += x;
    EXPECT_LT(std::sqrt(net.norm2()), 1e-12 * rms(f) * static_cast<double>(s.size()));
}

// Rock salt: +1 and -1 on a simple cubic lattice of spacing a. The Madelung constant
// 1.747564594633182... gives the Coulomb energy per ion, -M / (2a).
TEST(Forces, EwaldReproducesTheMadelungConstant) {
    const int cells = 6;  // 6^3 sites, box 6a
    const double a = 1.3;
    System s;
    s.box = {{0, 0, 0}, {cells * a, cells * a, cells * a}};
    s.atom_types = {{"ION", 1, 0.0, 1}};  // epsilon 0: Coulomb only
    for (int x = 0; x < cells; ++x)
        for (int y = 0; y < cells; ++y)
            for (int z = 0; z < cells; ++z) {
                s.ids.push_back(s.size() + 1);
                s.molecules.push_back(0);
                s.types.push_back(0);
                s.charges.push_back((x + y + z) % 2 ? -1.0 : 1.0);
                s.positions.push_back({x * a, y * a, z * a});
                s.velocities.push_back({});
            }
    ForceFieldOptions o;
    o.cutoff = 3.8;  // < L / 2
    o.alpha = 1.6;   // erfc(alpha rc) ~ 5e-18
    o.kspace = KSpace::ewald;
    o.accuracy = 1e-12;
    o.skin = 0;
    o.min_distance = 0;
    ForceField ff(s, o);
    std::vector<Vec3> f(s.size());
    ForceResult r = ff.compute(s, f);
    const double madelung = 1.747564594633182190636;
    double per_ion = (r.energy.coul_real + r.energy.coul_recip) / static_cast<double>(s.size());
    EXPECT_NEAR(per_ion, -madelung / (2 * a), 1e-10);
    EXPECT_LT(rms(f), 1e-10);  // every ion sits at a centre of symmetry

    ForceFieldOptions pme = o;
    pme.kspace = KSpace::pme;
    pme.accuracy = 1e-7;
    ForceField ff_pme(s, pme);
    ForceResult rp = ff_pme.compute(s, f);
    EXPECT_NEAR((rp.energy.coul_real + rp.energy.coul_recip) / static_cast<double>(s.size()), -madelung / (2 * a), 1e-6);
}

// PME's forces against the exact Ewald sum: the RMS error must be within the accuracy asked for. The
// grid comes from an error estimate for uncorrelated charges, which the random system has; the
// micelle's few charges sit on lipid heads, alternating in sign, and its errors may exceed the
// estimate a little (up to 1.4x, measured over orders 5-7 and grids 32-100).
TEST(Forces, PmeMeetsTheRequestedAccuracy) {
    struct Case {
        const char* name;
        System system;
        double allowance;
    };
    std::vector<Case> systems;
    systems.push_back({"micelle", make_micelle_system({}), 1.5});
    systems.push_back({"random", make_random_system({.atoms = 3000, .seed = 11}), 1.0});
    for (auto& [name, s, allowance] : systems) {
        ForceFieldOptions exact;
        exact.kspace = KSpace::ewald;
        exact.accuracy = 1e-11;
        ForceField ewald(s, exact);
        std::vector<Vec3> f_exact(s.size()), f(s.size());
        ForceResult e = ewald.compute(s, f_exact);
        for (int order : {5, 6, 7})
            for (double accuracy : {1e-4, 1e-5, 1e-6}) {
                ForceFieldOptions o = exact;
                o.kspace = KSpace::pme;
                o.pme_order = order;
                o.accuracy = accuracy;
                ForceField pme(s, o);
                ForceResult p = pme.compute(s, f);
                SCOPED_TRACE(::testing::Message() << name << ": " << pme.describe());
                EXPECT_LT(rms_difference(f, f_exact), allowance * accuracy);
                // Energy: within the accuracy per atom (energy units: force times a unit length), and at
                // 1e-5 or tighter within the bar of 1e-5 of the potential energy.
                double error = std::abs(p.energy.coul_recip - e.energy.coul_recip);
                EXPECT_LT(error, accuracy * static_cast<double>(s.size()));
                if (accuracy <= 1e-5) {
                    EXPECT_LT(error, 1e-5 * std::abs(e.energy.potential()));
                }
                EXPECT_EQ(p.energy.lj, e.energy.lj);
            }
    }
}

// The virial against -lambda dU/dlambda for a uniform scaling of box and positions.
TEST(Forces, VirialIsTheVolumeDerivative) {
    System s = test_micelle();
    ForceFieldOptions o;
    o.kspace = KSpace::ewald;
    o.alpha = 2.0;  // erfc(alpha rc) ~ 2e-17: the real-space energy has no step at the cutoff
    o.accuracy = 1e-12;
    o.lj_shift = true;  // nor has LJ
    std::vector<Vec3> f(s.size());
    auto energy_at = [&](double lambda) {
        System t = s;
        t.box.length = s.box.length * lambda;
        for (auto& p : t.positions) p = p * lambda;
        ForceField ff(t, o);
        return ff.compute(t, f).energy.potential();
    };
    ForceField ff(s, o);
    double virial = ff.compute(s, f).virial;
    const double h = 1e-6;
    double numeric = -(energy_at(1 + h) - energy_at(1 - h)) / (2 * h);
    EXPECT_NEAR(virial, numeric, 1e-6 * std::abs(virial) + 1e-5);
}

TEST(Forces, BadConfigurationsGetClearErrors) {
    System s = make_random_system({.atoms = 500, .seed = 1});
    auto message = [&](const System& sys, const ForceFieldOptions& o) -> std::string {
        try {
            ForceField ff(sys, o);
            std::vector<Vec3> f(sys.size());
            ff.compute(sys, f);
        } catch (const std::exception& e) {
            return e.what();
        }
        return "no error";
    };
    ForceFieldOptions o;
    System overlap = s;
    overlap.positions[42] = overlap.positions[7] + Vec3{0.01, 0, 0};
    EXPECT_NE(message(overlap, o).find("atoms 8 and 43 overlap"), std::string::npos) << message(overlap, o);

    ForceFieldOptions big_cutoff;
    big_cutoff.cutoff = 6.0;  // box 11.86 < 12
    EXPECT_NE(message(s, big_cutoff).find("smaller than twice the cutoff"), std::string::npos);

    System nan = s;
    nan.positions[3].y = std::nan("");
    EXPECT_NE(message(nan, o).find("atom 4 has a non-finite position"), std::string::npos) << message(nan, o);

    ForceFieldOptions bad = o;
    bad.alpha = -1;
    EXPECT_NE(message(s, bad).find("--alpha"), std::string::npos);
    bad = o;
    bad.accuracy = 0;
    EXPECT_NE(message(s, bad).find("--accuracy"), std::string::npos);
    bad = o;
    bad.pme_order = 9;
    EXPECT_NE(message(s, bad).find("order must be 5..7"), std::string::npos);
    bad = o;
    bad.special.coul[1] = 2;
    EXPECT_NE(message(s, bad).find("special bonds"), std::string::npos);
}

}  // namespace
}  // namespace ttlm::md
