// What `ttlm md run` writes (energies CSV, XYZ trajectory, PNG picture) and the `ttlm md` command line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lammps_fixture.hpp"
#include "models/md/generate.hpp"
#include "models/md/lammps_data.hpp"
#include "models/md/picture.hpp"
#include "models/md/simulation.hpp"

namespace ttlm::md {
namespace {

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(Outputs, RunWritesEnergiesTrajectoryAndPicture) {
    const std::string dir = testing::scratch_dir("outputs");
    MicelleOptions m;
    m.lipids = 10, m.water = 300;
    System system = make_micelle_system(m);
    ForceField ff(system, {});
    RunOptions run;
    run.steps = 40, run.every = 10;
    run.energies_path = dir + "/energies.csv";
    run.xyz_path = dir + "/trajectory.xyz";
    run.picture_path = dir + "/picture.png";
    RunReport report = run_simulation(system, ff, {}, run);
    EXPECT_EQ(report.steps, 40);
    EXPECT_EQ(report.last.step, 40);

    auto csv = lines_of(run.energies_path);
    ASSERT_EQ(csv.size(), 1u + 5u);  // header, steps 0 10 20 30 40
    EXPECT_EQ(csv[0], "step,time,ke,pe,total,temperature,pressure");
    for (size_t r = 1; r < csv.size(); ++r) {
        std::stringstream row(csv[r]);
        std::array<double, 7> v{};
        char comma;
        row >> v[0];
        for (int c = 1; c < 7; ++c) row >> comma >> v[c];
        ASSERT_FALSE(row.fail()) << csv[r];
        EXPECT_EQ(v[0], 10.0 * (r - 1));
        EXPECT_DOUBLE_EQ(v[1], v[0] * 0.005);
        EXPECT_NEAR(v[4], v[2] + v[3], 1e-9 * std::abs(v[4]) + 1e-9);
        EXPECT_NEAR(v[5], 2 * v[2] / (3.0 * system.size() - 3), 1e-12 * v[5]);
    }

    auto xyz = lines_of(run.xyz_path);
    const size_t frame = system.size() + 2;
    ASSERT_EQ(xyz.size(), 5 * frame);
    for (size_t f = 0; f < 5; ++f) {
        EXPECT_EQ(xyz[f * frame], std::to_string(system.size()));
        EXPECT_NE(xyz[f * frame + 1].find("Lattice="), std::string::npos);
    }
    EXPECT_EQ(xyz[2].rfind("HEAD ", 0), 0u);
    EXPECT_EQ(xyz[3].rfind("TAIL ", 0), 0u);
    EXPECT_EQ(xyz[frame - 1].rfind("WATER ", 0), 0u);

    // The PNG decodes with an independent decoder (Python's zlib, chunk CRCs checked) to the
    // picture's size, and is not blank.
    if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 to decode the PNG";
    const std::string check = R"(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, size = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
    if kind == b'IHDR': size = struct.unpack('>II', body[:8]); assert body[8:10] == b'\x08\x02'
    if kind == b'IDAT': idat += body
    pos += 12 + n
w, h = size
raw = zlib.decompress(idat)
assert len(raw) == h * (3 * w + 1)
rows = [raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h)]
assert len(set(rows)) > h // 4, 'blank picture'
print(w, h)
)";
    std::ofstream(dir + "/check_png.py") << check;
    std::string command = "/usr/bin/python3 " + dir + "/check_png.py " + run.picture_path + " > " + dir + "/png.txt";
    ASSERT_EQ(std::system(command.c_str()), 0);
    EXPECT_EQ(lines_of(dir + "/png.txt").at(0), "800 800");
}

// The CLI, when the ttlm binary has been built next to the tests.
struct Command {
    int status;
    std::string output;
};

Command run_ttlm(const std::string& args) {
    const std::string ttlm = std::string(TTLM_BINARY_DIR) + "/tools/ttlm/ttlm";
    std::string command = ttlm + " " + args + " 2>&1";
    Command out{-1, ""};
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.output.append(buf.data(), n);
    int status = pclose(pipe);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

TEST(Cli, GenerateForcesRun) {
    if (access((std::string(TTLM_BINARY_DIR) + "/tools/ttlm/ttlm").c_str(), X_OK) != 0)
        GTEST_SKIP() << "the ttlm binary is not built";
    const std::string dir = testing::scratch_dir("cli");
    Command gen = run_ttlm("md generate --system micelle --lipids 8 --water 200 --seed 3 --out " + dir + "/m.data");
    ASSERT_EQ(gen.status, 0) << gen.output;
    System system = read_lammps_data(dir + "/m.data");
    EXPECT_EQ(system.size(), 8 * 9 + 200);

    Command forces = run_ttlm("md forces --data " + dir + "/m.data --accuracy 1e-6 --special-lj 0,1,1 --dump-forces " +
                              dir + "/f.txt");
    ASSERT_EQ(forces.status, 0) << forces.output;
    std::string last = forces.output.substr(forces.output.rfind('{'));
    auto json = nlohmann::json::parse(last);
    for (const char* key : {"pe_total", "lj", "coul_real", "coul_recip", "bond"}) EXPECT_TRUE(json.contains(key)) << key;
    EXPECT_NEAR(json["pe_total"].get<double>(),
                json["lj"].get<double>() + json["coul_real"].get<double>() + json["coul_recip"].get<double>() +
                    json["bond"].get<double>(),
                1e-9 * std::abs(json["pe_total"].get<double>()));
    auto dump = lines_of(dir + "/f.txt");
    ASSERT_EQ(dump.size(), static_cast<size_t>(system.size()) + 1);
    EXPECT_EQ(dump[1].rfind("1 ", 0), 0u);

    Command run = run_ttlm("md run --data " + dir + "/m.data --steps 20 --dt 0.005 --thermostat langevin --energies " +
                           dir + "/e.csv --every 10 --xyz " + dir + "/t.xyz --picture " + dir + "/p.png");
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(lines_of(dir + "/e.csv").size(), 4u);
    EXPECT_TRUE(std::filesystem::exists(dir + "/p.png"));
    // Every hot kernel as a ttl Operation.
    Command tiles = run_ttlm("md run --data " + dir + "/m.data --steps 20 --dt 0.005 --thermostat langevin --integrator "
                             "ttl --pme-kernel ttl --pair-kernel ttl --energies " + dir + "/e_ttl.csv --every 10");
    ASSERT_EQ(tiles.status, 0) << tiles.output;
    EXPECT_NE(tiles.output.find("integrator by the ttl kernels"), std::string::npos) << tiles.output;
    EXPECT_NE(tiles.output.find("mesh by the ttl kernels"), std::string::npos) << tiles.output;
    EXPECT_EQ(lines_of(dir + "/e_ttl.csv").size(), 4u);

    // Bad input: an error naming the problem, exit status 1, no crash.
    std::ofstream(dir + "/broken.data") << "title\n\n3 atoms\n";
    Command broken = run_ttlm("md forces --data " + dir + "/broken.data");
    EXPECT_EQ(broken.status, 1);
    EXPECT_NE(broken.output.find("broken.data"), std::string::npos) << broken.output;
    Command bad_special = run_ttlm("md forces --data " + dir + "/m.data --special-lj 0,1");
    EXPECT_EQ(bad_special.status, 1);
    EXPECT_NE(bad_special.output.find("--special-lj: expected three numbers"), std::string::npos) << bad_special.output;
    for (const char* option : {"--integrator", "--pme-kernel"}) {
        Command bad_kernel = run_ttlm("md run --data " + dir + "/m.data --steps 1 --dt 0.005 " + option + " fp16");
        EXPECT_EQ(bad_kernel.status, 1);
        EXPECT_NE(bad_kernel.output.find(std::string(option) + ": expected simd or ttl"), std::string::npos)
            << bad_kernel.output;
    }
    Command small_box = run_ttlm("md forces --data " + dir + "/m.data --cutoff 5");
    EXPECT_EQ(small_box.status, 1);
    EXPECT_NE(small_box.output.find("smaller than twice the cutoff"), std::string::npos) << small_box.output;
}

}  // namespace
}  // namespace ttlm::md
