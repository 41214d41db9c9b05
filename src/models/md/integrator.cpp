#include "models/md/integrator.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "models/md/integrator_ttl.hpp"
#include "models/md/random.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {

Thermostat parse_thermostat(const std::string& name) {
    if (name == "none") return Thermostat::none;
    if (name == "langevin") return Thermostat::langevin;
    throw std::invalid_argument(fmt::format("--thermostat: expected none or langevin, got '{}'", name));
}

IntegratorKernel parse_integrator_kernel(const std::string& name) {
    if (name == "simd") return IntegratorKernel::simd;
    if (name == "ttl") return IntegratorKernel::ttl;
    throw std::invalid_argument(fmt::format("--integrator: expected simd or ttl, got '{}'", name));
}

void kick(std::span<Vec3> velocities, std::span<const Vec3> forces, std::span<const double> inverse_masses,
          double scale) {
    runtime::parallel_for(
        static_cast<int64_t>(velocities.size()),
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) velocities[i] += forces[i] * (scale * inverse_masses[i]);
        },
        4096);
}

void drift(std::span<Vec3> positions, std::span<const Vec3> velocities, const Box& box, double dt) {
    runtime::parallel_for(
        static_cast<int64_t>(positions.size()),
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) positions[i] = box.wrap(positions[i] + velocities[i] * dt);
        },
        4096);
}

Integrator::Integrator(System& system, ForceField& force_field, const IntegratorOptions& options)
    : system_(system), force_field_(force_field), options_(options) {
    if (!(options.dt > 0 && std::isfinite(options.dt)))
        throw std::invalid_argument(fmt::format("--dt must be > 0 (got {})", options.dt));
    if (options.thermostat == Thermostat::langevin) {
        if (!(options.temperature >= 0 && std::isfinite(options.temperature)))
            throw std::invalid_argument(fmt::format("--temperature must be >= 0 (got {})", options.temperature));
        if (!(options.damping > 0 && std::isfinite(options.damping)))
            throw std::invalid_argument(fmt::format("--damping must be > 0 (got {})", options.damping));
    }
    inverse_masses_.resize(system.size());
    for (int64_t i = 0; i < system.size(); ++i) inverse_masses_[i] = 1 / system.mass(i);
    for (auto& p : system.positions) p = system.box.wrap(p);
    if (options.kernel == IntegratorKernel::ttl) {
        // From here on the fp32 state is the trajectory: the forces are those of its positions.
        ttl_ = std::make_unique<IntegratorTtl>(system, options);
        ttl_->store_positions(system);
        ttl_->store_velocities(system);
    }
    forces_.resize(system.size());
    current_ = force_field_.compute(system_, forces_);
}

Integrator::~Integrator() = default;

void Integrator::langevin_velocities() {
    const double c = std::exp(-options_.dt / options_.damping);
    const double noise = std::sqrt((1 - c * c) * options_.temperature);
    const uint64_t step = static_cast<uint64_t>(steps_);
    runtime::parallel_for(
        system_.size(),
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const uint64_t id = static_cast<uint64_t>(system_.ids[i]);
                const double s = noise * std::sqrt(inverse_masses_[i]);
                Vec3& v = system_.velocities[i];
                v = v * c + Vec3{counter_normal(options_.seed, step, id, 0), counter_normal(options_.seed, step, id, 1),
                                 counter_normal(options_.seed, step, id, 2)} *
                                s;
            }
        },
        1024);
}

void Integrator::step() {
    if (ttl_) {
        ttl_->advance(forces_, static_cast<uint64_t>(steps_));
        ttl_->store_positions(system_);
        current_ = force_field_.compute(system_, forces_);
        ttl_->kick(forces_);
        ttl_->store_velocities(system_);
        ++steps_;
        return;
    }
    const double dt = options_.dt;
    kick(system_.velocities, forces_, inverse_masses_, 0.5 * dt);
    if (options_.thermostat == Thermostat::langevin) {
        drift(system_.positions, system_.velocities, system_.box, 0.5 * dt);
        langevin_velocities();
        drift(system_.positions, system_.velocities, system_.box, 0.5 * dt);
    } else {
        drift(system_.positions, system_.velocities, system_.box, dt);
    }
    current_ = force_field_.compute(system_, forces_);
    kick(system_.velocities, forces_, inverse_masses_, 0.5 * dt);
    ++steps_;
}

double Integrator::kinetic_energy() const { return system_.kinetic_energy(); }

double Integrator::temperature() const {
    int64_t dof = 3 * system_.size() - 3;
    return dof > 0 ? 2 * kinetic_energy() / static_cast<double>(dof) : 0.0;
}

double Integrator::pressure() const {
    return (2 * kinetic_energy() + current_.virial) / (3 * system_.box.volume());
}

}  // namespace ttlm::md
