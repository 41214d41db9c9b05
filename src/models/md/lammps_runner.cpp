#include "models/md/lammps_runner.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace ttlm::md {
namespace {

std::optional<std::string> find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    if (!path) return std::nullopt;
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

// The last `lines` lines of `text`.
std::string tail(const std::string& text, size_t lines) {
    size_t start = text.size();
    for (size_t n = 0; n <= lines; ++n) {
        if (start == 0) return text;
        size_t newline = text.rfind('\n', start - 1);
        if (newline == std::string::npos) return text;
        start = newline;
    }
    return text.substr(start + 1);
}

// fork + exec with stdout and stderr to `output`; returns the exit status.
int spawn(const std::vector<std::string>& argv, const std::string& dir, const std::string& output) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("lammps: fork failed");
    if (pid == 0) {
        int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        if (chdir(dir.c_str()) != 0) _exit(126);
        // Open MPI refuses to run as root unless told that it is on purpose (containers, CI).
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw std::runtime_error("lammps: waitpid failed");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string number(double v) { return fmt::format("{:.17g}", v); }

std::string lammps_template_dir() {
    if (const char* env = std::getenv("TTLM_MD_LAMMPS_DIR"); env && *env) return env;
    return TTLM_MD_LAMMPS_DIR;
}

}  // namespace

std::optional<std::string> find_lammps() {
    if (const char* env = std::getenv("TTLM_LMP"); env && *env) {
        if (access(env, X_OK) == 0) return std::string(env);
        return std::nullopt;
    }
    return find_on_path("lmp");
}

LammpsResult run_lammps(const std::string& input, const std::map<std::string, std::string>& variables,
                        const std::string& work_dir, int procs) {
    auto lmp = find_lammps();
    if (!lmp) throw std::runtime_error("lammps: no `lmp` on PATH (install Debian's `lammps` package)");
    std::string input_path = lammps_template_dir() + "/" + input;
    if (access(input_path.c_str(), R_OK) != 0)
        throw std::runtime_error(fmt::format("lammps: input template {} not found (set TTLM_MD_LAMMPS_DIR)", input_path));
    std::filesystem::create_directories(work_dir);
    std::string log_path = std::filesystem::absolute(work_dir + "/log.lammps").string();
    std::vector<std::string> argv;
    if (procs > 1) {
        auto mpirun = find_on_path("mpirun");
        if (!mpirun) throw std::runtime_error("lammps: more than one process needs `mpirun` (Debian's openmpi-bin)");
        argv = {*mpirun, "-np", std::to_string(procs), "--bind-to", "core"};
    }
    argv.insert(argv.end(), {*lmp, "-in", input_path, "-log", log_path, "-screen", "none"});
    for (const auto& [name, value] : variables) argv.insert(argv.end(), {"-var", name, value});
    std::string output_path = work_dir + "/lmp.out";
    int status = spawn(argv, work_dir, output_path);
    LammpsResult result;
    result.log = read_text(log_path);
    if (status != 0)
        throw std::runtime_error(fmt::format("lammps failed (exit {}) on {}:\n{}{}", status, input_path,
                                             tail(result.log, 15), tail(read_text(output_path), 10)));
    std::smatch m;
    std::regex loop(R"(Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps)");
    for (auto it = std::sregex_iterator(result.log.begin(), result.log.end(), loop); it != std::sregex_iterator(); ++it) {
        result.loop_seconds = std::stod((*it)[1]);
        result.loop_steps = std::stoll((*it)[2]);
    }
    return result;
}

std::map<std::string, std::string> lammps_variables(const ForceFieldOptions& o) {
    if (o.kspace == KSpace::none) throw std::invalid_argument("lammps: --kspace none has no LAMMPS counterpart here");
    return {{"cutoff", number(o.cutoff)},
            {"alpha", number(o.alpha)},
            {"kspace", o.kspace == KSpace::ewald ? "ewald" : "pppm"},
            {"accuracy", number(o.accuracy)},
            {"skin", number(o.skin)},
            {"shift", o.lj_shift ? "yes" : "no"},
            {"special", fmt::format("lj {} {} {} coul {} {} {}", number(o.special.lj[0]), number(o.special.lj[1]),
                                    number(o.special.lj[2]), number(o.special.coul[0]), number(o.special.coul[1]),
                                    number(o.special.coul[2]))}};
}

LammpsForces lammps_forces(const std::string& data_path, const ForceFieldOptions& options,
                           const std::string& work_dir) {
    auto vars = lammps_variables(options);
    vars["data"] = std::filesystem::absolute(data_path).string();
    vars["out"] = std::filesystem::absolute(work_dir).string();
    run_lammps("forces.in", vars, work_dir);

    LammpsForces result;
    auto json = nlohmann::json::parse(read_text(work_dir + "/energies.json"));
    result.energy = {json.at("lj").get<double>(), json.at("coul_real").get<double>(),
                     json.at("coul_recip").get<double>(), json.at("bond").get<double>()};
    result.pressure = json.at("pressure").get<double>();
    std::ifstream dump(work_dir + "/forces.dump");
    std::string line;
    while (std::getline(dump, line) && line.rfind("ITEM: ATOMS", 0) != 0) {
    }
    int64_t id;
    Vec3 f;
    while (dump >> id >> f.x >> f.y >> f.z) {
        result.ids.push_back(id);
        result.forces.push_back(f);
    }
    if (result.ids.empty()) throw std::runtime_error(fmt::format("lammps: no forces in {}/forces.dump", work_dir));
    return result;
}

std::vector<ThermoSample> lammps_nve(const std::string& data_path, const ForceFieldOptions& options, double dt,
                                     int64_t steps, int64_t every, const std::string& work_dir) {
    auto vars = lammps_variables(options);
    vars["data"] = std::filesystem::absolute(data_path).string();
    vars["out"] = std::filesystem::absolute(work_dir).string();
    vars["dt"] = number(dt);
    vars["steps"] = std::to_string(steps);
    vars["every"] = std::to_string(every);
    run_lammps("nve.in", vars, work_dir);
    std::vector<ThermoSample> samples;
    std::ifstream thermo(work_dir + "/thermo.txt");
    std::string line;
    while (std::getline(thermo, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream in(line);
        ThermoSample s;
        if (in >> s.step >> s.time >> s.ke >> s.pe >> s.total >> s.temperature >> s.pressure) samples.push_back(s);
    }
    return samples;
}

}  // namespace ttlm::md
