// LAMMPS data files: exact round trips, clear errors for malformed files, and fuzzing.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "models/md/generate.hpp"
#include "models/md/lammps_data.hpp"

namespace ttlm::md {
namespace {

System small_micelle() {
    MicelleOptions o;
    o.lipids = 4, o.water = 30, o.ion_pairs = 2, o.seed = 7;
    return make_micelle_system(o);
}

TEST(LammpsData, RoundTripIsExact) {
    System a = small_micelle();
    System b = parse_lammps_data(format_lammps_data(a, "round trip"), "mem");
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.molecules, b.molecules);
    EXPECT_EQ(a.types, b.types);
    EXPECT_EQ(a.charges, b.charges);
    for (int64_t i = 0; i < a.size(); ++i) {
        for (int d = 0; d < 3; ++d) {
            EXPECT_EQ(a.positions[i][d], b.positions[i][d]);
            EXPECT_EQ(a.velocities[i][d], b.velocities[i][d]);
        }
    }
    ASSERT_EQ(a.bonds.size(), b.bonds.size());
    for (size_t k = 0; k < a.bonds.size(); ++k) {
        EXPECT_EQ(a.bonds[k].a, b.bonds[k].a);
        EXPECT_EQ(a.bonds[k].b, b.bonds[k].b);
    }
    ASSERT_EQ(a.atom_types.size(), b.atom_types.size());
    for (size_t t = 0; t < a.atom_types.size(); ++t) {
        EXPECT_EQ(a.atom_types[t].name, b.atom_types[t].name);
        EXPECT_EQ(a.atom_types[t].epsilon, b.atom_types[t].epsilon);
        EXPECT_EQ(a.atom_types[t].sigma, b.atom_types[t].sigma);
    }
    EXPECT_EQ(a.bond_types[0].k_lammps, 50.0);
    EXPECT_EQ(a.box.length.x, b.box.length.x);
}

const char* kMinimal = R"(title line

3 atoms
1 bonds
1 atom types
1 bond types

-1 4 xlo xhi
0 5 ylo yhi
0 5 zlo zhi

Masses

1 2.5 # BEAD

Pair Coeffs

1 0.5 1.1

Bond Coeffs

1 50 1

Atoms # full

10 1 1 0.25 0.5 0.5 0.5
20 1 1 -0.25 1.5 0.5 0.5 1 0 0
30 2 1 0 2.5 2.5 -0.5

Velocities

20 1 2 3
10 0 0 0
30 0 0 0

Bonds

1 1 10 20
)";

TEST(LammpsData, ReadsIdsImagesAndWraps) {
    System s = parse_lammps_data(kMinimal, "minimal.data");
    ASSERT_EQ(s.size(), 3);
    EXPECT_EQ(s.box.lo.x, -1);
    EXPECT_EQ(s.box.length.x, 5);
    EXPECT_EQ(s.atom_types[0].name, "BEAD");
    EXPECT_EQ(s.atom_types[0].mass, 2.5);
    EXPECT_EQ(s.ids[1], 20);
    EXPECT_DOUBLE_EQ(s.positions[1].x, 1.5);  // image flag +1 then wrapped back into [-1, 4)
    EXPECT_DOUBLE_EQ(s.positions[2].z, 4.5);  // -0.5 wrapped into [0, 5)
    EXPECT_EQ(s.velocities[1].y, 2);
    EXPECT_EQ(s.velocities[0].y, 0);  // listed out of order: matched by id
    ASSERT_EQ(s.bonds.size(), 1u);
    EXPECT_EQ(s.bonds[0].a, 0);
    EXPECT_EQ(s.bonds[0].b, 1);
}

// Each malformed file must fail with a message that says where and what.
TEST(LammpsData, MalformedFilesGetClearErrors) {
    struct Case {
        std::string from, to, expected;
    };
    const std::vector<Case> cases = {
        {"3 atoms", "", "no 'N atoms' line"},
        {"3 atoms", "4 atoms", "Atoms: expected 4 lines"},
        {"30 2 1 0 2.5 2.5 -0.5", "30 2 1 0 2.5", "Atoms: expected 7 or 10 fields"},
        {"0.5 0.5 0.5\n", "0.5 nan 0.5\n", "finite"},
        {"0.5 0.5 0.5\n", "0.5 0.5x 0.5\n", "expected a number, got '0.5x'"},
        {"30 2 1 0", "30 2 2 0", "atom type 2 is out of range 1..1"},
        {"30 2 1 0", "20 2 1 0", "atom id 20 appears twice"},
        {"1 1 10 20", "1 1 10 99", "atom id 99 which is not in Atoms"},
        {"0 5 zlo zhi", "0 5 zlo zhi\n0 1 0 xy xz yz", "triclinic"},
        {"1 bond types", "1 bond types\n2 angles", "'angles' is not supported"},
        {"Atoms # full", "Atoms # charge", "atom style 'charge' is not supported"},
        {"Pair Coeffs\n\n1 0.5 1.1\n", "", "has no epsilon and sigma"},
        {"1 0.5 1.1", "1 0.5 1.1 2.5", "per-type LJ cutoffs are not supported"},
        {"-1 4 xlo xhi", "4 -1 xlo xhi", "expected lo < hi"},
        {"Bond Coeffs\n", "Bond Coeffs # morse\n", "bond style 'morse' is not supported"},
        {"Masses\n\n1 2.5 # BEAD\n", "Masses\n\n1 -2.5\n", "mass must be > 0"},
        {"Velocities", "Dihedrals", "section 'Dihedrals' is not supported"},
        {"1 atom types", "1 atom types\n7 widgets", "unknown header line '7 widgets'"},
        {"1 1 10 20", "1 1 10 10", "joins atom 10 to itself"},
    };
    for (const Case& c : cases) {
        std::string text = kMinimal;
        size_t at = text.find(c.from);
        ASSERT_NE(at, std::string::npos) << c.from;
        text.replace(at, c.from.size(), c.to);
        try {
            parse_lammps_data(text, "bad.data");
            ADD_FAILURE() << "no error for: " << c.expected;
        } catch (const std::exception& e) {
            std::string message = e.what();
            EXPECT_NE(message.find("bad.data"), std::string::npos) << message;
            EXPECT_NE(message.find(c.expected), std::string::npos) << "expected '" << c.expected << "' in: " << message;
        }
    }
    EXPECT_THROW(parse_lammps_data("", "empty.data"), std::runtime_error);
    EXPECT_THROW(read_lammps_data("/nonexistent/dir/file.data"), std::runtime_error);
}

// Random damage to a valid file: the parser either returns a valid system or throws a std::exception;
// it never crashes, hangs or allocates without bound (the sanitizer build checks memory errors).
TEST(LammpsData, FuzzedFilesFailCleanly) {
    const std::string valid = format_lammps_data(small_micelle(), "fuzz");
    std::mt19937_64 rng(12345);
    const std::string junk[] = {"nan", "-1", "1e308", "99999999999999999999", "#", "\n", "Atoms", "x", " ", "0",
                                "Bonds\n\n", "1e-320", "inf", "\t", "18446744073709551616 atoms\n"};
    int parsed = 0, rejected = 0;
    for (int trial = 0; trial < 1500; ++trial) {
        std::string text = valid;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !text.empty(); ++e) {
            size_t pos = rng() % text.size();
            switch (rng() % 5) {
                case 0: text.resize(pos); break;                                   // truncate
                case 1: text.erase(pos, 1 + rng() % 40); break;                    // delete a span
                case 2: text.insert(pos, junk[rng() % std::size(junk)]); break;    // insert a token
                case 3: text[pos] = static_cast<char>(rng() % 256); break;          // flip a byte
                default: {                                                          // duplicate a line
                    size_t begin = text.rfind('\n', pos), end = text.find('\n', pos);
                    begin = begin == std::string::npos ? 0 : begin;
                    end = end == std::string::npos ? text.size() : end;
                    text.insert(end, text.substr(begin, end - begin));
                }
            }
        }
        try {
            System s = parse_lammps_data(text, "fuzz.data");
            s.validate();  // what the parser returns is always a consistent system
            ++parsed;
        } catch (const std::exception& e) {
            EXPECT_NE(std::string(e.what()).find("fuzz.data"), std::string::npos) << e.what();
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 1000);  // the damage is real
    EXPECT_GT(parsed, 0);       // and harmless edits (comments, whitespace) still parse
}

}  // namespace
}  // namespace ttlm::md
