// The ttl integrator kernels (fp32 tiles) against the double-precision integrator: on the same fixed
// forces, positions and velocities stay within a bound built from fp32's unit roundoff; in NVE with
// real forces the energy is conserved as well as by the double integrator; validate mode and seeded
// random schedules agree with fast mode bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/integrator.hpp"
#include "models/md/integrator_ttl.hpp"
#include "models/md/random.hpp"

namespace ttlm::md {
namespace {

constexpr double kUnitRoundoff = 0x1.0p-24;  // fp32: half an ulp of 1

double max_abs(const std::vector<Vec3>& v) {
    double m = 0;
    for (const Vec3& x : v) m = std::max({m, std::abs(x.x), std::abs(x.y), std::abs(x.z)});
    return m;
}

// The double integrator's steps (integrator.cpp's kernels) with fixed forces, and the ttl ones.
TEST(IntegratorTtl, TracksTheDoubleIntegratorOnFixedForces) {
    for (Thermostat thermostat : {Thermostat::none, Thermostat::langevin}) {
        System s = make_random_system({.atoms = 2500, .temperature = 2.0, .seed = 3});
        ForceField ff(s, {});
        std::vector<Vec3> forces(s.size());
        ff.compute(s, forces);
        IntegratorOptions o;
        o.dt = 0.005;
        o.thermostat = thermostat;
        o.temperature = 1.5;
        o.damping = 0.5;
        o.seed = 7;

        System exact = s, tiles = s;
        IntegratorTtl ttl(tiles, o);
        std::vector<double> inverse_masses(s.size());
        double max_half_dt_over_m = 0;
        for (int64_t i = 0; i < s.size(); ++i) {
            inverse_masses[i] = 1 / s.mass(i);
            max_half_dt_over_m = std::max(max_half_dt_over_m, 0.5 * o.dt * inverse_masses[i]);
        }
        const double c = std::exp(-o.dt / o.damping);
        const int steps = 200;
        double max_velocity = max_abs(s.velocities), max_noise_kick = 0;
        for (int step = 0; step < steps; ++step) {
            kick(exact.velocities, forces, inverse_masses, 0.5 * o.dt);
            if (thermostat == Thermostat::langevin) {
                drift(exact.positions, exact.velocities, exact.box, 0.5 * o.dt);
                for (int64_t i = 0; i < s.size(); ++i)
                    for (int d = 0; d < 3; ++d) {
                        double kick = std::sqrt((1 - c * c) * o.temperature * inverse_masses[i]) *
                                      counter_normal(o.seed, step, s.ids[i], d);
                        max_noise_kick = std::max(max_noise_kick, std::abs(kick));
                        exact.velocities[i][d] = c * exact.velocities[i][d] + kick;
                    }
                drift(exact.positions, exact.velocities, exact.box, 0.5 * o.dt);
            } else {
                drift(exact.positions, exact.velocities, exact.box, o.dt);
            }
            kick(exact.velocities, forces, inverse_masses, 0.5 * o.dt);
            ttl.advance(forces, step);
            ttl.kick(forces);
            max_velocity = std::max(max_velocity, max_abs(exact.velocities));
        }
        ttl.store_positions(tiles);  // throws if an atom left the box
        ttl.store_velocities(tiles);

        // The bound, from fp32's unit roundoff u. A kick rounds v + f h once (a fused multiply-add) after f
        // and h were rounded to fp32: at most 3 u V, with V the largest velocity term; the O step rounds c, s,
        // the noise and c v + s xi: at most 6 u V. A drift rounds a position offset in [0, L) to within L u
        // (and the wrap is exact or rounds once more). Velocity errors move positions by dt times their sum.
        // Measured errors are random walks, far below these worst cases.
        const double u = kUnitRoundoff, L = std::max({s.box.length.x, s.box.length.y, s.box.length.z});
        const double V = max_velocity + max_half_dt_over_m * max_abs(forces) + max_noise_kick;
        const bool langevin = thermostat == Thermostat::langevin;
        const double velocity_bound = (langevin ? 12 : 6) * (steps + 1) * u * V;
        const double position_bound = ((langevin ? 4 : 2) * steps + 1) * L * u + o.dt * steps * velocity_bound;
        double position_error = 0, velocity_error = 0;
        for (int64_t i = 0; i < s.size(); ++i) {
            position_error = std::max(position_error,
                                      std::sqrt(s.box.minimum_image(tiles.positions[i] - exact.positions[i]).norm2()));
            velocity_error = std::max(velocity_error, std::sqrt((tiles.velocities[i] - exact.velocities[i]).norm2()));
        }
        SCOPED_TRACE(::testing::Message() << "langevin " << (thermostat == Thermostat::langevin) << ": position error "
                                          << position_error << " (bound " << position_bound << "), velocity error "
                                          << velocity_error << " (bound " << velocity_bound << ")");
        EXPECT_LT(position_error, position_bound);
        EXPECT_LT(velocity_error, velocity_bound);
        // Something moved: the comparison is not vacuous.
        EXPECT_GT(std::sqrt(s.box.minimum_image(exact.positions[0] - s.positions[0]).norm2()), 1e-3);
        std::printf("%s: position error %.3g (bound %.3g), velocity error %.3g (bound %.3g)\n",
                    thermostat == Thermostat::langevin ? "langevin" : "nve", position_error, position_bound,
                    velocity_error, velocity_bound);
    }
}

struct EnergyTrace {
    double drift = 0, fluctuation = 0;  // |E(end) - E(0)| and the standard deviation of E, both / KE(0)
};

// A micelle relaxed by Langevin dynamics (double), so that NVE then starts near equilibrium.
const System& relaxed_micelle() {
    static const System relaxed = [] {
        MicelleOptions m;
        m.lipids = 40, m.water = 1000;
        System s = make_micelle_system(m);
        ForceField ff(s, {});
        IntegratorOptions io;
        io.thermostat = Thermostat::langevin;
        Integrator integrator(s, ff, io);
        for (int k = 0; k < 200; ++k) integrator.step();
        return s;
    }();
    return relaxed;
}

EnergyTrace nve_energy(IntegratorKernel kernel) {
    System s = relaxed_micelle();
    ForceFieldOptions fo;
    fo.lj_shift = true;  // no energy jumps at the cutoff: what is left is the integrator's error
    fo.accuracy = 1e-6;
    ForceField ff(s, fo);
    IntegratorOptions io;
    io.dt = 0.005;
    io.kernel = kernel;
    Integrator integrator(s, ff, io);
    std::vector<double> energy;
    auto total = [&] { return integrator.kinetic_energy() + integrator.current().energy.potential(); };
    const double scale = integrator.kinetic_energy();
    energy.push_back(total());
    for (int k = 0; k < 300; ++k) {
        integrator.step();
        energy.push_back(total());
    }
    double mean = 0, var = 0;
    for (double e : energy) mean += e / static_cast<double>(energy.size());
    for (double e : energy) var += (e - mean) * (e - mean) / static_cast<double>(energy.size());
    return {std::abs(energy.back() - energy.front()) / scale, std::sqrt(var) / scale};
}

// fp32 state adds ~u KE of rounding noise per step (u = 6e-8); velocity Verlet's own energy error at
// dt 0.005 is far larger, so the ttl integrator conserves energy as well as the double one does.
TEST(IntegratorTtl, NveConservesEnergyAsTheDoubleIntegratorDoes) {
    EnergyTrace exact = nve_energy(IntegratorKernel::simd), tiles = nve_energy(IntegratorKernel::ttl);
    SCOPED_TRACE(::testing::Message() << "double: drift " << exact.drift << ", fluctuation " << exact.fluctuation
                                      << "; ttl: drift " << tiles.drift << ", fluctuation " << tiles.fluctuation);
    std::printf("energy / KE(0): double drift %.3g, fluctuation %.3g; ttl drift %.3g, fluctuation %.3g\n", exact.drift,
                exact.fluctuation, tiles.drift, tiles.fluctuation);
    EXPECT_GT(exact.fluctuation, 0.0);
    EXPECT_LT(tiles.fluctuation, 1.2 * exact.fluctuation);
    EXPECT_LT(tiles.drift, 1.2 * std::max(exact.drift, exact.fluctuation));
}

TEST(IntegratorTtl, ValidateModeAgreesBitForBit) {
    System s = make_random_system({.atoms = 3000, .seed = 5});  // 3 tiles: several nodes
    ForceField ff(s, {});
    std::vector<Vec3> forces(s.size());
    ff.compute(s, forces);
    IntegratorOptions o;
    o.thermostat = Thermostat::langevin;
    std::vector<System> results;
    for (uint64_t seed : {0, 1, 12345}) {
        ttl::ExecOptions options;
        options.mode = seed == 0 ? ttl::Mode::Fast : ttl::Mode::Validate;
        options.seed = seed == 1 ? 0 : seed;  // validate: fixed order, then a seeded random order
        System out = s;
        IntegratorTtl ttl(out, o);
        for (int step = 0; step < 3; ++step) {
            ttl.advance(forces, step, options);
            ttl.kick(forces, options);
        }
        ttl.store_positions(out);
        ttl.store_velocities(out);
        results.push_back(out);
    }
    for (size_t r = 1; r < results.size(); ++r)
        for (int64_t i = 0; i < s.size(); ++i)
            for (int d = 0; d < 3; ++d) {
                ASSERT_EQ(results[r].positions[i][d], results[0].positions[i][d]) << "atom " << i;
                ASSERT_EQ(results[r].velocities[i][d], results[0].velocities[i][d]) << "atom " << i;
            }
}

// Atoms a hair inside either edge, pushed across it: they come back in [lo, lo + L). (Steps shorter than
// half an fp32 ulp of the position, L 2^-24, are lost: fp32 positions cannot resolve them.)
TEST(IntegratorTtl, WrapsAcrossBothEdges) {
    System s = make_random_system({.atoms = 64, .seed = 1});
    const Box& box = s.box;
    for (int64_t i = 0; i < s.size(); ++i) {
        const bool upper = i % 2 == 0;
        const double offset = (i / 2 % 8) * 2e-6;
        for (int d = 0; d < 3; ++d) {
            s.positions[i][d] = upper ? box.lo[d] + box.length[d] * (1 - 1e-9) - offset : box.lo[d] + offset;
            s.velocities[i][d] = upper ? 1e-3 : -1e-3;  // 1e-5 per step: well above an fp32 ulp of L
        }
    }
    IntegratorOptions o;
    o.dt = 0.01;
    IntegratorTtl ttl(s, o);
    std::vector<Vec3> no_forces(s.size());
    for (int step = 0; step < 5; ++step) ttl.advance(no_forces, step);
    ttl.store_positions(s);
    for (int64_t i = 0; i < s.size(); ++i)
        for (int d = 0; d < 3; ++d) {
            ASSERT_GE(s.positions[i][d], box.lo[d]);
            ASSERT_LT(s.positions[i][d], box.lo[d] + box.length[d]);
            // Crossed: the upper atoms are now near lo, the lower ones near lo + L.
            double from_lo = s.positions[i][d] - box.lo[d];
            EXPECT_LT(i % 2 == 0 ? from_lo : box.length[d] - from_lo, 1e-3) << "atom " << i;
        }
}

TEST(IntegratorTtl, BadStatesAreErrors) {
    System s = make_random_system({.atoms = 100, .seed = 2});
    s.velocities[17] = {1e6, 0, 0};  // a box length per step many times over
    IntegratorTtl ttl(s, {});
    std::vector<Vec3> no_forces(s.size());
    ttl.advance(no_forces, 0);
    try {
        ttl.store_positions(s);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("atom 18"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("blew up"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ttl.kick(std::vector<Vec3>(3), {}), std::invalid_argument);

    System outside = make_random_system({.atoms = 100, .seed = 2});
    outside.positions[41].y = outside.box.lo.y + 1.5 * outside.box.length.y;
    try {
        IntegratorTtl unwrapped(outside, {});
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("atom 42 is outside the box along axis 1"), std::string::npos) << e.what();
    }
}

TEST(IntegratorTtl, KernelOptionParses) {
    EXPECT_EQ(parse_integrator_kernel("ttl"), IntegratorKernel::ttl);
    EXPECT_EQ(parse_integrator_kernel("simd"), IntegratorKernel::simd);
    EXPECT_THROW(parse_integrator_kernel("fp16"), std::invalid_argument);
}

}  // namespace
}  // namespace ttlm::md
