#include "models/md/simulation.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <fmt/core.h>

#include "models/md/picture.hpp"

namespace ttlm::md {

ThermoSample sample(const Integrator& integrator) {
    ThermoSample s;
    s.step = integrator.steps();
    s.time = integrator.time();
    s.ke = integrator.kinetic_energy();
    s.pe = integrator.current().energy.potential();
    s.total = s.ke + s.pe;
    s.temperature = integrator.temperature();
    s.pressure = integrator.pressure();
    return s;
}

void write_xyz_frame(std::ostream& out, const System& system, int64_t step, double time) {
    const Box& b = system.box;
    out << fmt::format(
        "{}\nLattice=\"{:.10g} 0 0 0 {:.10g} 0 0 0 {:.10g}\" Origin=\"{:.10g} {:.10g} {:.10g}\" "
        "Properties=species:S:1:pos:R:3 pbc=\"T T T\" step={} time={:.10g}\n",
        system.size(), b.length.x, b.length.y, b.length.z, b.lo.x, b.lo.y, b.lo.z, step, time);
    for (int64_t i = 0; i < system.size(); ++i) {
        const std::string& name = system.atom_types[system.types[i]].name;
        const Vec3& p = system.positions[i];
        out << fmt::format("{} {:.8f} {:.8f} {:.8f}\n", name.empty() ? fmt::format("T{}", system.types[i] + 1) : name,
                           p.x, p.y, p.z);
    }
}

namespace {

class ProgressBar {
   public:
    ProgressBar(bool enabled, int64_t total) : enabled_(enabled && isatty(STDERR_FILENO)), total_(total) {}
    bool active() const { return enabled_; }
    void update(int64_t done, double seconds, const ThermoSample& s) {
        if (!enabled_) return;
        auto now = std::chrono::steady_clock::now();
        if (done != total_ && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        constexpr int kWidth = 30;
        int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
        std::fprintf(stderr, "\r  [%s%s] %lld/%lld steps  %.0f steps/s  T %.3f  E %.6g ",
                     std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                     static_cast<long long>(done), static_cast<long long>(total_),
                     seconds > 0 ? static_cast<double>(done) / seconds : 0.0, s.temperature, s.total);
        if (done == total_) std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

   private:
    bool enabled_;
    int64_t total_;
    std::chrono::steady_clock::time_point last_{};
};

std::ofstream open_output(const std::string& path, const char* what) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw std::runtime_error(fmt::format("{}: cannot create the {} file", path, what));
    return out;
}

}  // namespace

RunReport run_simulation(System& system, ForceField& force_field, const IntegratorOptions& integrator_options,
                         const RunOptions& options) {
    if (options.steps < 0) throw std::invalid_argument(fmt::format("--steps must be >= 0 (got {})", options.steps));
    if (options.every < 1) throw std::invalid_argument(fmt::format("--every must be >= 1 (got {})", options.every));
    std::ofstream energies, xyz;
    if (!options.energies_path.empty()) {
        energies = open_output(options.energies_path, "energies");
        energies << "step,time,ke,pe,total,temperature,pressure\n";
    }
    if (!options.xyz_path.empty()) xyz = open_output(options.xyz_path, "trajectory");

    Integrator integrator(system, force_field, integrator_options);
    auto record = [&](const ThermoSample& s) {
        if (energies.is_open())
            energies << fmt::format("{},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g}\n", s.step, s.time, s.ke,
                                    s.pe, s.total, s.temperature, s.pressure);
        if (xyz.is_open()) write_xyz_frame(xyz, system, s.step, s.time);
    };

    RunReport report;
    report.first = report.last = sample(integrator);
    record(report.first);
    ProgressBar bar(options.progress, options.steps);
    auto start = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= options.steps; ++step) {
        integrator.step();
        bool output = step % options.every == 0 || step == options.steps;
        if (output || bar.active()) {
            report.last = sample(integrator);
            if (output) record(report.last);
        }
        bar.update(step, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                   report.last);
    }
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.steps = options.steps;
    report.neighbor_builds = force_field.neighbor_list().builds();
    if (energies.is_open() && !energies.flush())
        throw std::runtime_error(fmt::format("{}: write failed", options.energies_path));
    if (xyz.is_open() && !xyz.flush()) throw std::runtime_error(fmt::format("{}: write failed", options.xyz_path));
    if (!options.picture_path.empty()) write_picture(system, options.picture_path);
    return report;
}

}  // namespace ttlm::md
