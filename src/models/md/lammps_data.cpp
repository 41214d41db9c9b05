#include "models/md/lammps_data.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <fmt/core.h>

namespace ttlm::md {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        size_t j = i;
        while (j < s.size() && !is_space(s[j])) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// One line of the file: its words before any '#', and the comment after it.
struct Line {
    std::vector<std::string_view> words;
    std::string_view comment;
    bool blank() const { return words.empty(); }
};

class Reader {
   public:
    Reader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

    // False at the end of the text.
    bool next(Line& line) {
        if (pos_ >= text_.size()) return false;
        size_t end = text_.find('\n', pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::string_view raw = text_.substr(pos_, end - pos_);
        pos_ = end + 1;
        ++line_number_;
        if (raw.find('\0') != std::string_view::npos) fail("the file contains a NUL byte (is it a data file?)");
        size_t hash = raw.find('#');
        line.comment = hash == std::string_view::npos ? std::string_view{} : trim(raw.substr(hash + 1));
        line.words = split(hash == std::string_view::npos ? raw : raw.substr(0, hash));
        return true;
    }
    bool next_nonblank(Line& line) {
        while (next(line))
            if (!line.blank()) return true;
        return false;
    }

    [[noreturn]] void fail(const std::string& message) const {
        throw std::runtime_error(fmt::format("{}:{}: {}", source_, line_number_, message));
    }
    [[noreturn]] void fail_at_end(const std::string& message) const {
        throw std::runtime_error(fmt::format("{}: {}", source_, message));
    }

    double real(std::string_view word, std::string_view what) const {
        double value = 0;
        auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
        if (ec != std::errc() || end != word.data() + word.size())
            fail(fmt::format("{}: expected a number, got '{}'", what, word));
        if (!std::isfinite(value)) fail(fmt::format("{}: expected a finite number, got '{}'", what, word));
        return value;
    }
    int64_t integer(std::string_view word, std::string_view what) const {
        int64_t value = 0;
        auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
        if (ec != std::errc() || end != word.data() + word.size())
            fail(fmt::format("{}: expected an integer, got '{}'", what, word));
        return value;
    }

   private:
    std::string_view text_;
    std::string source_;
    size_t pos_ = 0;
    int64_t line_number_ = 0;
};

std::string join(const std::vector<std::string_view>& words, size_t begin, size_t end) {
    std::string out;
    for (size_t i = begin; i < end && i < words.size(); ++i) {
        if (!out.empty()) out += ' ';
        out += words[i];
    }
    return out;
}

const std::vector<std::string> kSupportedSections = {"Masses", "Pair Coeffs", "Bond Coeffs", "Atoms", "Velocities",
                                                     "Bonds"};
// Sections of other atom styles and force fields, recognised so that the error can say so.
const std::vector<std::string> kOtherSections = {
    "PairIJ Coeffs",    "Angle Coeffs",      "Dihedral Coeffs",    "Improper Coeffs",       "BondBond Coeffs",
    "BondAngle Coeffs", "MiddleBondTorsion Coeffs", "EndBondTorsion Coeffs", "AngleTorsion Coeffs",
    "AngleAngleTorsion Coeffs", "BondBond13 Coeffs", "AngleAngle Coeffs", "Angles", "Dihedrals", "Impropers",
    "Ellipsoids",       "Lines",             "Triangles",          "Bodies"};

std::optional<std::string> section_name(const Line& line) {
    std::string two = join(line.words, 0, 2), one = std::string(line.words[0]);
    for (const auto& s : kSupportedSections)
        if ((s == one && line.words.size() == 1) || (s == two && line.words.size() == 2)) return s;
    for (const auto& s : kOtherSections)
        if (s == one || s == two) return s;
    return std::nullopt;
}

struct Header {
    int64_t atoms = -1, bonds = 0, atom_types = -1, bond_types = 0;
    std::optional<std::pair<double, double>> bounds[3];
};

void parse_header_line(Reader& in, const Line& line, Header& h) {
    const auto& w = line.words;
    std::string keyword = join(w, 1, w.size());
    auto count = [&](std::string_view what) {
        int64_t n = in.integer(w[0], what);
        if (n < 0) in.fail(fmt::format("{}: expected a count >= 0, got {}", what, n));
        return n;
    };
    if (keyword == "atoms") {
        h.atoms = count("atoms");
    } else if (keyword == "bonds") {
        h.bonds = count("bonds");
    } else if (keyword == "atom types") {
        h.atom_types = count("atom types");
    } else if (keyword == "bond types") {
        h.bond_types = count("bond types");
    } else if (keyword == "angles" || keyword == "dihedrals" || keyword == "impropers" || keyword == "angle types" ||
               keyword == "dihedral types" || keyword == "improper types" || keyword == "ellipsoids" ||
               keyword == "lines" || keyword == "triangles" || keyword == "bodies") {
        if (count(keyword) != 0)
            in.fail(fmt::format("'{}' is not supported (ttlm's force field has LJ, Coulomb and harmonic bonds only)",
                                keyword));
    } else if (keyword.starts_with("extra ") && keyword.ends_with(" per atom")) {
        count(keyword);  // storage hints for LAMMPS; nothing for ttlm to do
    } else if (w.size() == 4 &&
               (join(w, 2, 4) == "xlo xhi" || join(w, 2, 4) == "ylo yhi" || join(w, 2, 4) == "zlo zhi")) {
        int d = w[2][0] - 'x';
        double lo = in.real(w[0], join(w, 2, 4)), hi = in.real(w[1], join(w, 2, 4));
        if (!(hi > lo)) in.fail(fmt::format("{}: expected lo < hi, got {} {}", join(w, 2, 4), lo, hi));
        if (h.bounds[d]) in.fail(fmt::format("{} given twice", join(w, 2, 4)));
        h.bounds[d] = {lo, hi};
    } else if (w.size() == 6 && join(w, 3, 6) == "xy xz yz") {
        for (int k = 0; k < 3; ++k)
            if (in.real(w[k], "xy xz yz") != 0)
                in.fail("triclinic boxes (non-zero xy xz yz tilt) are not supported; ttlm needs an orthorhombic box");
    } else {
        in.fail(fmt::format("unknown header line '{}' (expected counts such as 'N atoms', box bounds 'lo hi xlo xhi', "
                            "or a section such as Masses or Atoms)",
                            join(w, 0, w.size())));
    }
}

}  // namespace

System parse_lammps_data(std::string_view text, const std::string& source) {
    Reader in(text, source);
    Line line;
    if (!in.next(line)) in.fail_at_end("empty file (expected a LAMMPS data file)");  // the title line

    Header h;
    std::optional<std::string> section;
    while (in.next_nonblank(line)) {
        if ((section = section_name(line))) break;
        parse_header_line(in, line, h);
    }
    if (h.atoms < 0) in.fail_at_end("the header has no 'N atoms' line");
    if (h.atom_types < 0) in.fail_at_end("the header has no 'N atom types' line");
    if (h.atoms > 0 && h.atom_types == 0) in.fail_at_end("'0 atom types' but the file has atoms");
    for (int d = 0; d < 3; ++d)
        if (!h.bounds[d]) in.fail_at_end(fmt::format("the header has no '{0}lo {0}hi' line", "xyz"[d]));

    System system;
    for (int d = 0; d < 3; ++d) {
        system.box.lo[d] = h.bounds[d]->first;
        system.box.length[d] = h.bounds[d]->second - h.bounds[d]->first;
    }
    // Counts come from the file: reserve no more than its size could hold, so a corrupt count fails
    // on the missing lines instead of on an allocation.
    auto capped = [&](int64_t n) { return static_cast<size_t>(std::min<int64_t>(n, text.size() / 8 + 1)); };
    system.atom_types.resize(capped(h.atom_types));
    if (static_cast<int64_t>(system.atom_types.size()) != h.atom_types)
        in.fail_at_end(fmt::format("{} atom types cannot fit in a file of {} bytes", h.atom_types, text.size()));
    system.bond_types.resize(capped(h.bond_types));
    if (static_cast<int64_t>(system.bond_types.size()) != h.bond_types)
        in.fail_at_end(fmt::format("{} bond types cannot fit in a file of {} bytes", h.bond_types, text.size()));

    std::map<std::string, bool> seen;
    std::vector<char> has_mass(h.atom_types, 0), has_pair(h.atom_types, 0), has_bond_coeff(h.bond_types, 0);
    std::unordered_map<int64_t, int64_t> index_of_id;
    std::vector<std::array<int64_t, 4>> raw_bonds;  // id type a b (atom ids)
    std::vector<std::pair<int64_t, Vec3>> raw_velocities;

    while (section) {
        const std::string name = *section;
        if (std::find(kSupportedSections.begin(), kSupportedSections.end(), name) == kSupportedSections.end())
            in.fail(fmt::format("section '{}' is not supported (ttlm reads Masses, Pair Coeffs, Bond Coeffs, Atoms, "
                                "Velocities and Bonds)",
                                name));
        if (seen[name]) in.fail(fmt::format("section '{}' appears twice", name));
        seen[name] = true;
        std::string style = line.comment.empty() ? std::string() : std::string(split(line.comment)[0]);
        if (name == "Atoms" && !style.empty() && style != "full")
            in.fail(fmt::format("Atoms: atom style '{}' is not supported (expected 'full')", style));
        if (name == "Pair Coeffs" && !style.empty() && !style.starts_with("lj/cut"))
            in.fail(fmt::format("Pair Coeffs: pair style '{}' is not supported (expected lj/cut/coul/long "
                                "coefficients: epsilon sigma)",
                                style));
        if (name == "Bond Coeffs" && !style.empty() && style != "harmonic")
            in.fail(fmt::format("Bond Coeffs: bond style '{}' is not supported (expected 'harmonic')", style));

        int64_t rows = name == "Masses" || name == "Pair Coeffs" ? h.atom_types
                       : name == "Bond Coeffs"                   ? h.bond_types
                       : name == "Bonds"                         ? h.bonds
                                                                 : h.atoms;
        for (int64_t r = 0; r < rows; ++r) {
            if (!in.next_nonblank(line))
                in.fail_at_end(fmt::format("{}: expected {} lines, the file ended after {}", name, rows, r));
            const auto& w = line.words;
            if (section_name(line))
                in.fail(fmt::format("{}: expected {} lines, found only {} before the next section", name, rows, r));
            auto expect_fields = [&](size_t n, const char* layout) {
                if (w.size() != n) in.fail(fmt::format("{}: expected {} fields ({}), got {}", name, n, layout, w.size()));
            };
            auto type_index = [&](std::string_view word, int64_t count, const char* what) {
                int64_t t = in.integer(word, what);
                if (t < 1 || t > count) in.fail(fmt::format("{}: {} {} is out of range 1..{}", name, what, t, count));
                return t - 1;
            };
            if (name == "Masses") {
                expect_fields(2, "type mass");
                int64_t t = type_index(w[0], h.atom_types, "atom type");
                if (has_mass[t]) in.fail(fmt::format("Masses: atom type {} given twice", t + 1));
                has_mass[t] = 1;
                system.atom_types[t].mass = in.real(w[1], "Masses: mass");
                if (system.atom_types[t].mass <= 0) in.fail("Masses: mass must be > 0");
                if (!line.comment.empty()) system.atom_types[t].name = std::string(split(line.comment)[0]);
            } else if (name == "Pair Coeffs") {
                if (w.size() == 4) in.fail("Pair Coeffs: per-type LJ cutoffs are not supported (expected: type epsilon sigma)");
                expect_fields(3, "type epsilon sigma");
                int64_t t = type_index(w[0], h.atom_types, "atom type");
                if (has_pair[t]) in.fail(fmt::format("Pair Coeffs: atom type {} given twice", t + 1));
                has_pair[t] = 1;
                system.atom_types[t].epsilon = in.real(w[1], "Pair Coeffs: epsilon");
                system.atom_types[t].sigma = in.real(w[2], "Pair Coeffs: sigma");
                if (system.atom_types[t].epsilon < 0 || system.atom_types[t].sigma <= 0)
                    in.fail("Pair Coeffs: expected epsilon >= 0 and sigma > 0");
            } else if (name == "Bond Coeffs") {
                expect_fields(3, "type K r0");
                int64_t t = type_index(w[0], h.bond_types, "bond type");
                if (has_bond_coeff[t]) in.fail(fmt::format("Bond Coeffs: bond type {} given twice", t + 1));
                has_bond_coeff[t] = 1;
                system.bond_types[t] = {in.real(w[1], "Bond Coeffs: K"), in.real(w[2], "Bond Coeffs: r0")};
                if (system.bond_types[t].k_lammps < 0 || system.bond_types[t].r0 < 0)
                    in.fail("Bond Coeffs: expected K >= 0 and r0 >= 0");
            } else if (name == "Atoms") {
                if (w.size() != 7 && w.size() != 10)
                    in.fail(fmt::format("Atoms: expected 7 or 10 fields (id molecule type q x y z [nx ny nz]) for "
                                        "atom_style full, got {}",
                                        w.size()));
                int64_t id = in.integer(w[0], "Atoms: atom id");
                if (id < 1) in.fail(fmt::format("Atoms: atom id {} (expected >= 1)", id));
                if (!index_of_id.emplace(id, system.size()).second)
                    in.fail(fmt::format("Atoms: atom id {} appears twice", id));
                system.ids.push_back(id);
                system.molecules.push_back(in.integer(w[1], "Atoms: molecule id"));
                system.types.push_back(static_cast<int32_t>(type_index(w[2], h.atom_types, "atom type")));
                system.charges.push_back(in.real(w[3], "Atoms: charge"));
                Vec3 p{in.real(w[4], "Atoms: x"), in.real(w[5], "Atoms: y"), in.real(w[6], "Atoms: z")};
                if (w.size() == 10)
                    for (int d = 0; d < 3; ++d) {
                        int64_t image = in.integer(w[7 + d], "Atoms: image flag");
                        if (std::abs(image) > (int64_t{1} << 40)) in.fail("Atoms: image flag out of range");
                        p[d] += static_cast<double>(image) * system.box.length[d];
                    }
                if (!std::isfinite(p.x) || !std::isfinite(p.y) || !std::isfinite(p.z))
                    in.fail("Atoms: position is not finite");
                system.positions.push_back(system.box.wrap(p));
                system.velocities.push_back({});
            } else if (name == "Velocities") {
                expect_fields(4, "id vx vy vz");
                raw_velocities.push_back({in.integer(w[0], "Velocities: atom id"),
                                          {in.real(w[1], "Velocities: vx"), in.real(w[2], "Velocities: vy"),
                                           in.real(w[3], "Velocities: vz")}});
            } else {  // Bonds
                expect_fields(4, "id type atom1 atom2");
                raw_bonds.push_back({in.integer(w[0], "Bonds: bond id"),
                                     type_index(w[1], h.bond_types, "bond type"),
                                     in.integer(w[2], "Bonds: atom1"), in.integer(w[3], "Bonds: atom2")});
            }
        }
        section.reset();
        if (in.next_nonblank(line)) {
            section = section_name(line);
            if (!section)
                in.fail(fmt::format("expected a section name (Masses, Pair Coeffs, Bond Coeffs, Atoms, Velocities, "
                                    "Bonds) or the end of the file, got '{}'",
                                    join(line.words, 0, line.words.size())));
        }
    }

    if (h.atoms > 0 && !seen["Atoms"]) in.fail_at_end("no Atoms section");
    if (h.bonds > 0 && !seen["Bonds"]) in.fail_at_end("no Bonds section");
    for (int64_t t = 0; t < h.atom_types; ++t) {
        if (!has_mass[t]) in.fail_at_end(fmt::format("Masses: atom type {} has no mass", t + 1));
        if (!has_pair[t])
            in.fail_at_end(fmt::format("Pair Coeffs: atom type {} has no epsilon and sigma (ttlm reads LJ "
                                       "parameters from the Pair Coeffs section)",
                                       t + 1));
    }
    for (int64_t t = 0; t < h.bond_types; ++t)
        if (!has_bond_coeff[t]) in.fail_at_end(fmt::format("Bond Coeffs: bond type {} has no K and r0", t + 1));

    std::vector<char> has_velocity(system.size(), 0);
    for (const auto& [id, v] : raw_velocities) {
        auto it = index_of_id.find(id);
        if (it == index_of_id.end()) in.fail_at_end(fmt::format("Velocities: atom id {} is not in Atoms", id));
        if (has_velocity[it->second]) in.fail_at_end(fmt::format("Velocities: atom id {} given twice", id));
        has_velocity[it->second] = 1;
        system.velocities[it->second] = v;
    }
    for (const auto& [id, type, a, b] : raw_bonds) {
        auto ia = index_of_id.find(a), ib = index_of_id.find(b);
        if (ia == index_of_id.end() || ib == index_of_id.end())
            in.fail_at_end(fmt::format("Bonds: bond {} refers to atom id {} which is not in Atoms", id,
                                       ia == index_of_id.end() ? a : b));
        if (a == b) in.fail_at_end(fmt::format("Bonds: bond {} joins atom {} to itself", id, a));
        system.bonds.push_back({static_cast<int32_t>(type), static_cast<int32_t>(ia->second),
                                static_cast<int32_t>(ib->second)});
    }
    try {
        system.validate();
    } catch (const std::invalid_argument& e) {
        in.fail_at_end(e.what());
    }
    return system;
}

System read_lammps_data(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error(fmt::format("{}: cannot open the data file", path));
    std::ostringstream text;
    text << file.rdbuf();
    return parse_lammps_data(text.str(), path);
}

std::string format_lammps_data(const System& s, const std::string& title) {
    std::string out = fmt::format("LAMMPS data file: {}\n\n", title);
    out += fmt::format("{} atoms\n{} bonds\n{} atom types\n{} bond types\n\n", s.size(), s.bonds.size(),
                       s.atom_types.size(), s.bond_types.size());
    for (int d = 0; d < 3; ++d)
        out += fmt::format("{:.17g} {:.17g} {}lo {}hi\n", s.box.lo[d], s.box.lo[d] + s.box.length[d], "xyz"[d],
                           "xyz"[d]);
    out += "\nMasses\n\n";
    for (size_t t = 0; t < s.atom_types.size(); ++t)
        out += fmt::format("{} {:.17g}{}\n", t + 1, s.atom_types[t].mass,
                           s.atom_types[t].name.empty() ? "" : " # " + s.atom_types[t].name);
    out += "\nPair Coeffs # lj/cut/coul/long\n\n";
    for (size_t t = 0; t < s.atom_types.size(); ++t)
        out += fmt::format("{} {:.17g} {:.17g}\n", t + 1, s.atom_types[t].epsilon, s.atom_types[t].sigma);
    if (!s.bond_types.empty()) {
        out += "\nBond Coeffs # harmonic\n\n";
        for (size_t t = 0; t < s.bond_types.size(); ++t)
            out += fmt::format("{} {:.17g} {:.17g}\n", t + 1, s.bond_types[t].k_lammps, s.bond_types[t].r0);
    }
    out += "\nAtoms # full\n\n";
    for (int64_t i = 0; i < s.size(); ++i)
        out += fmt::format("{} {} {} {:.17g} {:.17g} {:.17g} {:.17g}\n", s.ids[i], s.molecules[i], s.types[i] + 1,
                           s.charges[i], s.positions[i].x, s.positions[i].y, s.positions[i].z);
    out += "\nVelocities\n\n";
    for (int64_t i = 0; i < s.size(); ++i)
        out += fmt::format("{} {:.17g} {:.17g} {:.17g}\n", s.ids[i], s.velocities[i].x, s.velocities[i].y,
                           s.velocities[i].z);
    if (!s.bonds.empty()) {
        out += "\nBonds\n\n";
        for (size_t b = 0; b < s.bonds.size(); ++b)
            out += fmt::format("{} {} {} {}\n", b + 1, s.bonds[b].type + 1, s.ids[s.bonds[b].a], s.ids[s.bonds[b].b]);
    }
    return out;
}

void write_lammps_data(const System& system, const std::string& path, const std::string& title) {
    std::ofstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error(fmt::format("{}: cannot create the data file", path));
    file << format_lammps_data(system, title);
    if (!file.flush()) throw std::runtime_error(fmt::format("{}: write failed", path));
}

}  // namespace ttlm::md
