// Time integration: velocity Verlet (NVE), or Langevin dynamics (NVT) in the BAOAB splitting of
// Leimkuhler and Matthews (Appl. Math. Res. Express 2013): half kick (B), half drift (A), exact
// Ornstein-Uhlenbeck velocity update v <- c v + sqrt((1 - c^2) kT / m) xi with c = exp(-dt / damping)
// (O), half drift, force, half kick. BAOAB samples positions with an error that stays small at large
// time steps, and with no friction (c = 1) it is velocity Verlet. The noise xi is a function of
// (seed, step, atom id, axis) alone, so a run is reproducible whatever the thread count.
//
// The per-step loops (kick, drift + wrap, Ornstein-Uhlenbeck) are the integrator kernels: double-precision
// loops here (the default), or ttl Operations on fp32 tiles (integrator_ttl.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "models/md/force_field.hpp"
#include "models/md/system.hpp"

namespace ttlm::md {

enum class Thermostat { none, langevin };
Thermostat parse_thermostat(const std::string& name);  // "none", "langevin"

// Which kernels step the state: double-precision loops (the default), or ttl Operations on fp32 tiles.
enum class IntegratorKernel { simd, ttl };
IntegratorKernel parse_integrator_kernel(const std::string& name);  // "simd", "ttl"

struct IntegratorOptions {
    double dt = 0.005;
    Thermostat thermostat = Thermostat::none;
    double temperature = 1.0;  // Langevin target
    double damping = 1.0;      // Langevin relaxation time (LAMMPS's fix langevin Tdamp): friction 1/damping
    uint64_t seed = 12345;     // Langevin noise
    IntegratorKernel kernel = IntegratorKernel::simd;
};

// v += scale * f / m
void kick(std::span<Vec3> velocities, std::span<const Vec3> forces, std::span<const double> inverse_masses,
          double scale);
// x += dt * v, then wrapped into the box
void drift(std::span<Vec3> positions, std::span<const Vec3> velocities, const Box& box, double dt);

class IntegratorTtl;

class Integrator {
   public:
    Integrator(System& system, ForceField& force_field, const IntegratorOptions& options);
    ~Integrator();

    // Advances one time step (the first call also computes the initial forces).
    void step();
    // Forces and energies of the current positions (computed once at construction, then by each step).
    const ForceResult& current() const { return current_; }
    int64_t steps() const { return steps_; }
    double time() const { return static_cast<double>(steps_) * options_.dt; }

    double kinetic_energy() const;
    // 2 KE / (3N - 3) (LAMMPS's `compute temp`: the total momentum's 3 degrees of freedom removed).
    double temperature() const;
    // (2 KE + virial) / (3 V), LAMMPS's `press` (the kinetic part with all 3N - 3 degrees of freedom).
    double pressure() const;

   private:
    void langevin_velocities();

    System& system_;
    ForceField& force_field_;
    IntegratorOptions options_;
    std::vector<double> inverse_masses_;
    std::vector<Vec3> forces_;
    std::unique_ptr<IntegratorTtl> ttl_;  // the fp32 state and its kernels, with IntegratorKernel::ttl
    ForceResult current_;
    int64_t steps_ = 0;
};

}  // namespace ttlm::md
