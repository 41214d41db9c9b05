// `ttlm md` (generate, forces, run; no verb: the micelle demo) and `ttlm bench md`.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "models/md/force_field.hpp"
#include "models/md/generate.hpp"
#include "models/md/integrator.hpp"
#include "models/md/lammps_data.hpp"
#include "models/md/lammps_runner.hpp"
#include "models/md/simulation.hpp"
#include "runtime/thread_pool.hpp"
#include "tools/ttlm/verbs.hpp"

namespace ttlm::cli {
namespace {

using namespace ttlm::md;

// "a,b,c" -> three weights.
std::array<double, 3> parse_weights(const std::string& text, const char* option) {
    std::array<double, 3> w{};
    size_t pos = 0;
    for (int k = 0; k < 3; ++k) {
        size_t comma = k < 2 ? text.find(',', pos) : text.size();
        if (comma == std::string::npos) comma = text.size();
        const char* first = text.data() + pos;
        const char* last = text.data() + comma;
        auto [end, ec] = std::from_chars(first, last, w[k]);
        if (first == last || ec != std::errc() || end != last || (k < 2 && comma == text.size()))
            throw std::invalid_argument(fmt::format("{}: expected three numbers a,b,c, got '{}'", option, text));
        pos = comma + 1;
    }
    return w;
}

// The force-field options every verb shares.
struct ForceFieldFlags {
    ForceFieldOptions options;
    std::string kspace;
    std::string special_lj = "1,1,1", special_coul = "1,1,1";
    std::string pair_kernel = "simd";
    std::string pme_kernel = "simd";

    ForceFieldFlags(CLI::App* cmd, const std::string& default_kspace, double default_accuracy) : kspace(default_kspace) {
        options.accuracy = default_accuracy;
        cmd->add_option("--cutoff", options.cutoff, "LJ and real-space Coulomb cutoff")->capture_default_str();
        cmd->add_option("--alpha", options.alpha, "Ewald splitting parameter")->capture_default_str();
        cmd->add_option("--kspace", kspace, "reciprocal-space method: ewald (exact), pme (fast), none")
            ->capture_default_str();
        cmd->add_option("--accuracy", options.accuracy, "RMS force error of the k-space term (LAMMPS's, lj units)")
            ->capture_default_str();
        cmd->add_option("--pme-order", options.pme_order, "PME B-spline order 5..7 (0: chosen from the accuracy)")
            ->capture_default_str();
        cmd->add_option("--special-lj", special_lj, "LJ weights of 1-2,1-3,1-4 pairs (LAMMPS special_bonds lj)")
            ->capture_default_str();
        cmd->add_option("--special-coul", special_coul, "Coulomb weights of 1-2,1-3,1-4 pairs")->capture_default_str();
        cmd->add_option("--skin", options.skin, "neighbour-list skin")->capture_default_str();
        cmd->add_flag("--lj-shift", options.lj_shift, "shift LJ energies to zero at the cutoff (pair_modify shift yes)");
        cmd->add_option("--pair-kernel", pair_kernel, "pair forces: simd (double precision) or ttl (fp32 tiles)")
            ->capture_default_str();
        cmd->add_option("--pme-kernel", pme_kernel,
                        "PME spreading and interpolation: simd (double precision) or ttl (fp32 tiles)")
            ->capture_default_str();
    }
    ForceFieldOptions resolve() {
        options.kspace = parse_kspace(kspace);
        options.pair_kernel = parse_pair_kernel(pair_kernel);
        options.pme_kernel = parse_pme_kernel(pme_kernel);
        options.special.lj = parse_weights(special_lj, "--special-lj");
        options.special.coul = parse_weights(special_coul, "--special-coul");
        return options;
    }
};

void print_line(const std::string& s) { fmt::print("{}\n", s); }

int generate_verb(const std::string& system_name, int64_t atoms, MicelleOptions micelle, double density,
                  double temperature, uint64_t seed, const std::string& out, bool lipids_given, bool water_given) {
    System system;
    std::string title;
    if (system_name == "random") {
        if (lipids_given || water_given) throw std::invalid_argument("--lipids and --water are for --system micelle");
        RandomSystemOptions o;
        o.atoms = atoms > 0 ? atoms : o.atoms;
        o.density = density, o.temperature = temperature, o.seed = seed;
        system = make_random_system(o);
        title = fmt::format("ttlm md random system, {} atoms, density {}, seed {}", o.atoms, density, seed);
    } else if (system_name == "micelle") {
        MicelleOptions o = micelle;
        if (atoms > 0) {
            if (lipids_given || water_given) throw std::invalid_argument("give either --atoms or --lipids/--water");
            MicelleOptions sized = micelle_options_for_atoms(atoms);
            o.lipids = sized.lipids, o.water = sized.water;
        }
        o.density = density, o.temperature = temperature, o.seed = seed;
        system = make_micelle_system(o);
        title = fmt::format("ttlm md micelle, {} lipids (1 HEAD + {} TAIL), {} water, {} ion pairs, density {}, seed {}",
                            o.lipids, o.tail_length, o.water, o.ion_pairs, density, seed);
    } else {
        throw std::invalid_argument(fmt::format("--system: expected micelle or random, got '{}'", system_name));
    }
    write_lammps_data(system, out, title);
    print_line(fmt::format("wrote {}: {} atoms, {} bonds, box {:.6g}^3", out, system.size(), system.bonds.size(),
                           system.box.length.x));
    return 0;
}

int forces_verb(const std::string& data, ForceFieldFlags& flags, const std::string& dump) {
    System system = read_lammps_data(data);
    ForceField ff(system, flags.resolve());
    std::vector<Vec3> forces(system.size());
    auto start = std::chrono::steady_clock::now();
    ForceResult r = ff.compute(system, forces);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!dump.empty()) {
        std::vector<int64_t> order(system.size());
        for (int64_t i = 0; i < system.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return system.ids[a] < system.ids[b]; });
        std::ofstream out(dump, std::ios::binary);
        if (!out) throw std::runtime_error(fmt::format("{}: cannot create the forces file", dump));
        out << "# id fx fy fz\n";
        for (int64_t i : order)
            out << fmt::format("{} {:.17g} {:.17g} {:.17g}\n", system.ids[i], forces[i].x, forces[i].y, forces[i].z);
        if (!out.flush()) throw std::runtime_error(fmt::format("{}: write failed", dump));
    }
    double kinetic = system.kinetic_energy();
    double pressure = (2 * kinetic + r.virial) / (3 * system.box.volume());
    print_line(fmt::format("{} atoms; {}; {:.3f} s", system.size(), ff.describe(), seconds));
    nlohmann::ordered_json j;
    j["pe_total"] = r.energy.potential();
    j["lj"] = r.energy.lj;
    j["coul_real"] = r.energy.coul_real;
    j["coul_recip"] = r.energy.coul_recip;
    j["bond"] = r.energy.bond;
    j["pressure"] = pressure;
    print_line(j.dump());
    return 0;
}

struct RunFlags {
    std::string data;
    RunOptions run;
    IntegratorOptions integrator;
    std::string thermostat = "none";
    std::string integrator_kernel = "simd";
    std::string write_data;
};

int run_verb(RunFlags& f, ForceFieldFlags& flags, bool progress) {
    System system = read_lammps_data(f.data);
    f.integrator.thermostat = parse_thermostat(f.thermostat);
    f.integrator.kernel = parse_integrator_kernel(f.integrator_kernel);
    ForceField ff(system, flags.resolve());
    f.run.progress = progress;
    print_line(fmt::format("{}: {} atoms, {} bonds; {}; dt {}, {} steps, thermostat {}{}", f.data, system.size(),
                           system.bonds.size(), ff.describe(), f.integrator.dt, f.run.steps, f.thermostat,
                           f.integrator.kernel == IntegratorKernel::ttl ? ", integrator by the ttl kernels (fp32)" : ""));
    RunReport report = run_simulation(system, ff, f.integrator, f.run);
    print_line(fmt::format("{} steps in {:.2f} s: {:.3f} ms/step, {:.0f} steps/s; {} neighbour-list builds",
                           report.steps, report.seconds, report.steps ? 1e3 * report.seconds / report.steps : 0.0,
                           report.seconds > 0 ? report.steps / report.seconds : 0.0, report.neighbor_builds));
    print_line(fmt::format("energy: {:.10g} -> {:.10g} (KE {:.6g}, PE {:.6g}); temperature {:.4g}, pressure {:.4g}",
                           report.first.total, report.last.total, report.last.ke, report.last.pe,
                           report.last.temperature, report.last.pressure));
    for (const auto& [path, what] : {std::pair{f.run.energies_path, "energies"}, std::pair{f.run.xyz_path, "trajectory"},
                                     std::pair{f.run.picture_path, "picture"}})
        if (!path.empty()) print_line(fmt::format("wrote {} ({})", path, what));
    if (!f.write_data.empty()) {
        write_lammps_data(system, f.write_data, fmt::format("ttlm md run: {} after {} steps", f.data, report.steps));
        print_line(fmt::format("wrote {} (final state)", f.write_data));
    }
    return 0;
}

int demo_verb(const std::string& dir, int64_t steps) {
    std::filesystem::create_directories(dir);
    const std::string data = dir + "/micelle.data";
    MicelleOptions micelle;
    System system = make_micelle_system(micelle);
    write_lammps_data(system, data, "ttlm md demo: micelle, 80 lipids (1 HEAD + 8 TAIL), 2000 water, seed 42");
    print_line(fmt::format("micelle demo: {} lipids + {} water = {} beads, box {:.4g}^3 (wrote {})", micelle.lipids,
                           micelle.water, system.size(), system.box.length.x, data));
    ForceFieldOptions ff_options;  // cutoff 3, alpha 1, PME at 1e-5
    ForceField ff(system, ff_options);
    IntegratorOptions integrator;
    integrator.dt = 0.005;
    integrator.thermostat = Thermostat::langevin;
    integrator.temperature = 1.0;
    RunOptions run;
    run.steps = steps;
    run.every = std::max<int64_t>(1, steps / 50);
    run.energies_path = dir + "/energies.csv";
    run.xyz_path = dir + "/trajectory.xyz";
    run.picture_path = dir + "/micelle.png";
    run.progress = true;
    print_line(fmt::format("{}; Langevin at T = 1, dt 0.005, {} steps", ff.describe(), steps));
    RunReport report = run_simulation(system, ff, integrator, run);
    print_line(fmt::format("{} steps in {:.1f} s ({:.3f} ms/step); PE {:.6g} -> {:.6g}, T {:.3f}", report.steps,
                           report.seconds, 1e3 * report.seconds / std::max<int64_t>(1, report.steps), report.first.pe,
                           report.last.pe, report.last.temperature));
    print_line(fmt::format("wrote {}, {}, {}", run.energies_path, run.xyz_path, run.picture_path));
    return 0;
}

struct BenchFlags {
    int64_t atoms = 10000;
    std::string system = "random";
    int64_t steps = 200;
    int64_t lammps_steps = 20;
    double dt = 0.005;
    bool json = false;
    bool no_lammps = false;
    bool no_ttl = false;
};

// Milliseconds per NVE step over `steps`, after a warm-up (the first list build, allocations).
double time_steps(System& system, ForceField& ff, const IntegratorOptions& options, int64_t steps) {
    Integrator integrator(system, ff, options);
    for (int k = 0; k < 5; ++k) integrator.step();
    auto start = std::chrono::steady_clock::now();
    for (int64_t k = 0; k < steps; ++k) integrator.step();
    return 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
           static_cast<double>(std::max<int64_t>(1, steps));
}

int bench_verb(BenchFlags& b, ForceFieldFlags& flags) {
    ForceFieldOptions options = flags.resolve();
    System system;
    if (b.system == "micelle")
        system = make_micelle_system(micelle_options_for_atoms(b.atoms));
    else if (b.system == "random")
        system = make_random_system({.atoms = b.atoms});
    else
        throw std::invalid_argument(fmt::format("--system: expected random or micelle, got '{}'", b.system));
    const int threads = runtime::num_threads();
    const System initial = system;
    ForceField ff(system, options);
    IntegratorOptions integrator_options;
    integrator_options.dt = b.dt;
    const double ms = time_steps(system, ff, integrator_options, b.steps);

    nlohmann::ordered_json j;
    j["atoms"] = system.size();
    j["threads"] = threads;
    j["ms_per_step"] = ms;
    j["system"] = b.system;
    j["steps"] = b.steps;
    j["kspace"] = ff.describe();
    j["neighbor_builds"] = ff.neighbor_list().builds();
    if (!b.no_ttl) {
        // Every hot kernel as a ttl Operation on fp32 tiles: pair forces, PME mesh, integrator.
        System tiles_system = initial;
        ForceFieldOptions tiles = options;
        tiles.pair_kernel = PairKernel::ttl;
        tiles.pme_kernel = PmeKernel::ttl;
        ForceField tiles_ff(tiles_system, tiles);
        IntegratorOptions tiles_integrator = integrator_options;
        tiles_integrator.kernel = IntegratorKernel::ttl;
        j["ms_per_step_ttl"] = time_steps(tiles_system, tiles_ff, tiles_integrator, b.steps);
    }
    std::string lammps_note;
    if (!b.no_lammps && find_lammps()) {
        std::string dir = (std::filesystem::temp_directory_path() / fmt::format("ttlm-bench-md-{}", getpid())).string();
        std::filesystem::create_directories(dir);
        write_lammps_data(initial, dir + "/system.data", "ttlm bench md");
        auto vars = lammps_variables(options);
        vars["data"] = dir + "/system.data";
        vars["dt"] = fmt::format("{}", b.dt);
        vars["steps"] = std::to_string(b.lammps_steps);
        LammpsResult lmp = run_lammps("bench.in", vars, dir, threads);
        double lammps_ms = 1e3 * lmp.loop_seconds / static_cast<double>(std::max<int64_t>(1, lmp.loop_steps));
        j["lammps_ms_per_step"] = lammps_ms;
        j["lammps_steps"] = lmp.loop_steps;
        j["lammps_procs"] = threads;
        std::smatch m;
        if (std::regex_search(lmp.log, m, std::regex(R"(grid = (\d+) (\d+) (\d+))")))
            j["lammps_pppm_grid"] = fmt::format("{}x{}x{}", m[1].str(), m[2].str(), m[3].str());
        std::filesystem::remove_all(dir);
    } else {
        lammps_note = b.no_lammps ? " (LAMMPS skipped)" : " (no lmp on PATH)";
    }
    if (b.json) {
        print_line(j.dump());
    } else {
        print_line(fmt::format("md {} system, {} atoms, {} threads: {:.3f} ms/step over {} steps ({})", b.system,
                               system.size(), threads, ms, b.steps, ff.describe()));
        if (j.contains("ms_per_step_ttl"))
            print_line(fmt::format("all ttl kernels (pair, PME mesh, integrator; fp32 tiles): {:.3f} ms/step",
                                   j["ms_per_step_ttl"].get<double>()));
        if (j.contains("lammps_ms_per_step"))
            print_line(fmt::format("LAMMPS (mpirun -np {}, pppm grid {}): {:.3f} ms/step over {} steps", threads,
                                   j.value("lammps_pppm_grid", std::string("?")), j["lammps_ms_per_step"].get<double>(),
                                   b.lammps_steps));
        else
            print_line("LAMMPS: not run" + lammps_note);
    }
    return 0;
}

}  // namespace

void add_md_verbs(CLI::App& app, CLI::App& bench) {
    // Each verb's flags live in a heap object that its action owns (actions live as long as main).
    CLI::App* md = app.add_subcommand("md", "molecular dynamics: generate, forces, run (no verb: the micelle demo)");
    struct Demo {
        std::string dir = "md-demo";
        int64_t steps = 10000;
    };
    auto demo = std::make_shared<Demo>();
    md->add_option("--out-dir", demo->dir, "demo: where to write its files")->capture_default_str();
    md->add_option("--steps", demo->steps, "demo: time steps")->capture_default_str();
    on_run(md, [demo] { return demo_verb(demo->dir, demo->steps); });

    CLI::App* gen = md->add_subcommand("generate", "write a LAMMPS data file of a micelle or random system");
    struct Generate {
        std::string system, out;
        int64_t atoms = 0;
        MicelleOptions micelle;
        double density = 0.3, temperature = 1.0;
        uint64_t seed = 42;
    };
    auto g = std::make_shared<Generate>();
    gen->add_option("--system", g->system, "micelle or random")->required();
    gen->add_option("--atoms", g->atoms, "number of atoms (micelle: lipids and water in the default proportion)");
    auto* lipids = gen->add_option("--lipids", g->micelle.lipids, "micelle: lipids (1 HEAD + 8 TAIL beads)")
                       ->capture_default_str();
    auto* water = gen->add_option("--water", g->micelle.water, "micelle: water beads")->capture_default_str();
    gen->add_option("--ions", g->micelle.ion_pairs, "micelle: NA+ CL- ion pairs")->capture_default_str();
    gen->add_option("--density", g->density, "atoms per unit volume")->capture_default_str();
    gen->add_option("--temperature", g->temperature, "initial temperature")->capture_default_str();
    gen->add_option("--seed", g->seed, "random seed")->required();
    gen->add_option("--out", g->out, "output data file")->required();
    on_run(gen, [g, lipids, water] {
        return generate_verb(g->system, g->atoms, g->micelle, g->density, g->temperature, g->seed, g->out,
                             lipids->count() > 0, water->count() > 0);
    });

    CLI::App* forces = md->add_subcommand("forces", "forces and energies of a data file (compare with LAMMPS)");
    struct Forces {
        std::string data, dump;
        std::unique_ptr<ForceFieldFlags> ff;
    };
    auto f = std::make_shared<Forces>();
    f->ff = std::make_unique<ForceFieldFlags>(forces, "ewald", 1e-8);
    forces->add_option("--data", f->data, "LAMMPS data file (atom_style full)")->required();
    forces->add_option("--dump-forces", f->dump, "write per-atom forces here (id fx fy fz, sorted by id)");
    on_run(forces, [f] { return forces_verb(f->data, *f->ff, f->dump); });

    CLI::App* run = md->add_subcommand("run", "molecular dynamics from a data file");
    struct Run {
        RunFlags flags;
        std::unique_ptr<ForceFieldFlags> ff;
    };
    auto r = std::make_shared<Run>();
    r->ff = std::make_unique<ForceFieldFlags>(run, "pme", 1e-5);
    RunFlags& rf = r->flags;
    run->add_option("--data", rf.data, "LAMMPS data file (atom_style full)")->required();
    run->add_option("--steps", rf.run.steps, "time steps")->required();
    run->add_option("--dt", rf.integrator.dt, "time step")->required();
    run->add_option("--thermostat", rf.thermostat, "none (NVE) or langevin (NVT)")->capture_default_str();
    run->add_option("--temperature", rf.integrator.temperature, "Langevin temperature")->capture_default_str();
    run->add_option("--damping", rf.integrator.damping, "Langevin relaxation time")->capture_default_str();
    run->add_option("--seed", rf.integrator.seed, "Langevin noise seed")->capture_default_str();
    run->add_option("--integrator", rf.integrator_kernel, "integrator steps: simd (double precision) or ttl (fp32 tiles)")
        ->capture_default_str();
    run->add_option("--energies", rf.run.energies_path, "CSV: step,time,ke,pe,total,temperature,pressure");
    run->add_option("--xyz", rf.run.xyz_path, "trajectory (extended XYZ)");
    run->add_option("--every", rf.run.every, "output interval in steps")->capture_default_str();
    run->add_option("--picture", rf.run.picture_path, "PNG picture of the last frame");
    run->add_option("--write-data", rf.write_data, "write the final state as a LAMMPS data file");
    on_run(run, [r] { return run_verb(r->flags, *r->ff, true); });

    CLI::App* bench_md = bench.add_subcommand("md", "MD milliseconds per step, and LAMMPS's on the same system");
    struct Bench {
        BenchFlags flags;
        std::unique_ptr<ForceFieldFlags> ff;
    };
    auto b = std::make_shared<Bench>();
    b->ff = std::make_unique<ForceFieldFlags>(bench_md, "pme", 1e-5);
    BenchFlags& bf = b->flags;
    bench_md->add_option("--atoms", bf.atoms, "number of atoms")->capture_default_str();
    bench_md->add_option("--system", bf.system, "random or micelle")->capture_default_str();
    bench_md->add_option("--steps", bf.steps, "timed steps")->capture_default_str();
    bench_md->add_option("--lammps-steps", bf.lammps_steps, "LAMMPS's timed steps")->capture_default_str();
    bench_md->add_option("--dt", bf.dt, "time step")->capture_default_str();
    bench_md->add_flag("--json", bf.json, "print JSON");
    bench_md->add_flag("--no-lammps", bf.no_lammps, "do not run LAMMPS");
    bench_md->add_flag("--no-ttl", bf.no_ttl, "do not time the all-ttl path (ms_per_step_ttl)");
    on_run(bench_md, [b] { return bench_verb(b->flags, *b->ff); });
}

}  // namespace ttlm::cli
