// NVE energy conservation against LAMMPS (scripts/reference/md/nve.in) on the micelle: the drift and
// the fluctuation of the total energy must be no worse than 2x LAMMPS's at the same time step, and the
// fluctuation must shrink ~4x when the time step halves (velocity Verlet is second order).
//
// Both sides shift LJ to zero at the cutoff (pair_modify shift yes). Unshifted, every pair crossing
// the cutoff changes the energy by a step of up to 4 eps (3^-12 - 3^-6) ~ -0.02 whatever the time
// step; those steps then swamp the integrator's own error and the second-order check means nothing.
#include <gtest/gtest.h>

#include <cmath>

#include "lammps_fixture.hpp"
#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/integrator.hpp"
#include "models/md/lammps_data.hpp"
#include "models/md/simulation.hpp"

namespace ttlm::md {
namespace {

struct Conservation {
    double drift = 0;        // slope of the total energy, per atom per unit time
    double fluctuation = 0;  // standard deviation about that line, per atom
};

Conservation analyse(const std::vector<ThermoSample>& samples, int64_t atoms) {
    const double n = static_cast<double>(samples.size());
    double mt = 0, me = 0;
    for (const auto& s : samples) mt += s.time / n, me += s.total / n;
    double stt = 0, ste = 0;
    for (const auto& s : samples) stt += (s.time - mt) * (s.time - mt), ste += (s.time - mt) * (s.total - me);
    double slope = ste / stt, residual = 0;
    for (const auto& s : samples) {
        double r = s.total - (me + slope * (s.time - mt));
        residual += r * r / n;
    }
    return {slope / static_cast<double>(atoms), std::sqrt(residual) / static_cast<double>(atoms)};
}

std::vector<ThermoSample> run_ours(const System& initial, const ForceFieldOptions& options, double dt, int64_t steps,
                                   int64_t every) {
    System system = initial;
    ForceField ff(system, options);
    IntegratorOptions io;
    io.dt = dt;
    Integrator integrator(system, ff, io);
    std::vector<ThermoSample> samples{sample(integrator)};
    for (int64_t k = 1; k <= steps; ++k) {
        integrator.step();
        if (k % every == 0) samples.push_back(sample(integrator));
    }
    return samples;
}

TEST(Lammps, NveConservesEnergyAsWellAsLammps) {
    TTLM_REQUIRE_LAMMPS();
    const std::string dir = testing::scratch_dir("lammps-nve");
    System system = make_micelle_system({});
    write_lammps_data(system, dir + "/micelle.data", "tests/md NVE");
    ForceFieldOptions options;  // PME (LAMMPS: pppm) at 1e-5
    options.lj_shift = true;

    const double duration = 1.0;
    std::vector<Conservation> ours, lammps;
    for (double dt : {0.005, 0.0025}) {
        int64_t steps = std::llround(duration / dt), every = std::llround(0.01 / dt);
        auto mine = run_ours(system, options, dt, steps, every);
        auto theirs = lammps_nve(dir + "/micelle.data", options, dt, steps, every,
                                 dir + "/dt" + std::to_string(static_cast<int>(dt * 1e4)));
        ASSERT_EQ(mine.size(), theirs.size());
        // Same start: the same potential energy to the accuracy of the two k-space methods.
        EXPECT_NEAR(mine.front().pe, theirs.front().pe, 1e-5 * std::abs(theirs.front().pe));
        EXPECT_NEAR(mine.front().ke, theirs.front().ke, 1e-12 * theirs.front().ke);
        ours.push_back(analyse(mine, system.size()));
        lammps.push_back(analyse(theirs, system.size()));
        SCOPED_TRACE(::testing::Message() << "dt " << dt);
        EXPECT_LE(ours.back().fluctuation, 2 * lammps.back().fluctuation);
        // A drift below the fluctuation over the run is noise: compare |drift| x duration beyond that.
        EXPECT_LE(std::abs(ours.back().drift) * duration,
                  2 * std::abs(lammps.back().drift) * duration + 2 * lammps.back().fluctuation);
        std::printf("dt %.4f: ours drift %.3e fluctuation %.3e | LAMMPS drift %.3e fluctuation %.3e (per atom)\n", dt,
                    ours.back().drift, ours.back().fluctuation, lammps.back().drift, lammps.back().fluctuation);
    }
    double ratio = ours[0].fluctuation / ours[1].fluctuation;
    EXPECT_GT(ratio, 3.0);
    EXPECT_LT(ratio, 5.3);
    std::printf("fluctuation ratio dt / (dt/2): ours %.2f, LAMMPS %.2f\n", ratio,
                lammps[0].fluctuation / lammps[1].fluctuation);
}

}  // namespace
}  // namespace ttlm::md
