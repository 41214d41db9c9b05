// Velocity Verlet and Langevin: invariants that hold whatever the force field, checked on small systems.
#include <gtest/gtest.h>

#include <cmath>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/integrator.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

ForceFieldOptions exact_options() {
    ForceFieldOptions o;
    o.kspace = KSpace::ewald;
    o.accuracy = 1e-8;
    return o;
}

Vec3 momentum(const System& s) {
    Vec3 p;
    for (int64_t i = 0; i < s.size(); ++i) p += s.velocities[i] * s.mass(i);
    return p;
}

TEST(Integrator, WrappedPositionsStayInTheBox) {
    System s = make_random_system({.atoms = 400, .temperature = 4.0, .seed = 2});
    ForceField ff(s, {});
    IntegratorOptions io;
    io.dt = 0.005;
    Integrator integrator(s, ff, io);
    for (int step = 0; step < 300; ++step) {
        integrator.step();
        for (const Vec3& p : s.positions)
            for (int d = 0; d < 3; ++d) {
                ASSERT_GE(p[d], s.box.lo[d]);
                ASSERT_LT(p[d], s.box.lo[d] + s.box.length[d]);
            }
    }
    EXPECT_GT(ff.neighbor_list().builds(), 1);  // atoms crossed cells and the list was rebuilt
}

TEST(Integrator, BoxWrapIsExactAtTheEdges) {
    Box box{{-2, 0, 5}, {10, 10, 10}};
    const double L = 10;
    for (double x : {-2.0, 8.0, -2.0 - 1e-17, 8.0 - 1e-16, -12.0, 18.0, 7.999999999999999, -2 - 3 * L}) {
        Vec3 w = box.wrap({x, x + 2, x + 7});
        for (int d = 0; d < 3; ++d) {
            EXPECT_GE(w[d], box.lo[d]) << x;
            EXPECT_LT(w[d], box.lo[d] + L) << x;
        }
    }
}

// Velocity Verlet is time reversible: run forward, flip the velocities, run as long again.
TEST(Integrator, VelocityVerletRetracesItsSteps) {
    System s = make_random_system({.atoms = 300, .seed = 4});
    const System start = s;
    ForceField ff(s, exact_options());
    IntegratorOptions io;
    io.dt = 0.002;
    Integrator forward(s, ff, io);
    for (int k = 0; k < 100; ++k) forward.step();
    for (auto& v : s.velocities) v = v * -1.0;
    Integrator backward(s, ff, io);
    for (int k = 0; k < 100; ++k) backward.step();
    double worst = 0;
    for (int64_t i = 0; i < s.size(); ++i)
        worst = std::max(worst, std::sqrt(s.box.minimum_image(s.positions[i] - start.positions[i]).norm2()));
    EXPECT_LT(worst, 1e-9);
}

TEST(Integrator, NveConservesMomentum) {
    MicelleOptions m;
    m.lipids = 20, m.water = 300, m.ion_pairs = 4;
    System s = make_micelle_system(m);
    ForceFieldOptions o = exact_options();  // Ewald: PME's mesh breaks translation symmetry slightly
    o.accuracy = 1e-6;
    ForceField ff(s, o);
    Integrator integrator(s, ff, {});
    double scale = 0;
    for (int64_t i = 0; i < s.size(); ++i) scale += s.mass(i) * std::sqrt(s.velocities[i].norm2());
    for (int k = 0; k < 100; ++k) integrator.step();
    EXPECT_LT(std::sqrt(momentum(s).norm2()), 1e-12 * scale);
}

TEST(Integrator, LangevinReachesItsTemperature) {
    System s = make_random_system({.atoms = 500, .temperature = 0.5, .seed = 8});
    ForceField ff(s, {});
    IntegratorOptions io;
    io.dt = 0.005;
    io.thermostat = Thermostat::langevin;
    io.temperature = 1.5;
    io.damping = 0.25;
    Integrator integrator(s, ff, io);
    for (int k = 0; k < 300; ++k) integrator.step();  // 6 damping times
    double mean = 0;
    const int samples = 400;
    for (int k = 0; k < samples; ++k) {
        integrator.step();
        mean += integrator.temperature() / samples;
    }
    // The kinetic temperature of 500 atoms fluctuates by ~sqrt(2/1500) = 4% per sample; the mean of
    // correlated samples over 8 damping times is good to ~2%.
    EXPECT_NEAR(mean, 1.5, 0.06);
}

// The noise is a function of (seed, step, atom id), and forces do not depend on how atoms are split
// among threads, so a trajectory is the same on one thread as on two.
TEST(Integrator, LangevinIsReproducibleAcrossThreadCounts) {
    std::vector<Vec3> final_positions[2];
    for (int threads : {1, 2}) {
        runtime::set_num_threads(threads);
        System s = make_random_system({.atoms = 300, .seed = 6});
        ForceField ff(s, exact_options());
        IntegratorOptions io;
        io.thermostat = Thermostat::langevin;
        io.seed = 99;
        Integrator integrator(s, ff, io);
        for (int k = 0; k < 50; ++k) integrator.step();
        final_positions[threads - 1] = s.positions;
    }
    runtime::set_num_threads(0);
    for (size_t i = 0; i < final_positions[0].size(); ++i)
        for (int d = 0; d < 3; ++d) ASSERT_EQ(final_positions[0][i][d], final_positions[1][i][d]) << i;
}

TEST(Integrator, BadOptionsAreRejected) {
    System s = make_random_system({.atoms = 300, .seed = 1});
    ForceField ff(s, exact_options());
    IntegratorOptions io;
    io.dt = 0;
    EXPECT_THROW(Integrator(s, ff, io), std::invalid_argument);
    io.dt = 0.005;
    io.thermostat = Thermostat::langevin;
    io.damping = -1;
    EXPECT_THROW(Integrator(s, ff, io), std::invalid_argument);
    EXPECT_THROW(parse_thermostat("berendsen"), std::invalid_argument);
}

// An unstable time step blows the system up; that must stop the run with an error, not carry NaNs.
TEST(Integrator, BlowUpIsAnError) {
    System s = make_micelle_system({.lipids = 10, .water = 300, .seed = 5});
    ForceFieldOptions o;
    o.kspace = KSpace::ewald;
    o.accuracy = 1e-5;
    ForceField ff(s, o);
    IntegratorOptions io;
    io.dt = 0.5;  // bonds have a period ~0.44
    Integrator integrator(s, ff, io);
    EXPECT_THROW(
        {
            for (int k = 0; k < 100; ++k) integrator.step();
        },
        std::runtime_error);
}

}  // namespace
}  // namespace ttlm::md
