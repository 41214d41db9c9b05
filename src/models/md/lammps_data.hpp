// LAMMPS data files, `atom_style full` (the format `read_data` reads): what ttlm reads and writes.
//
// Supported: header counts (atoms, bonds, atom types, bond types; angles, dihedrals, impropers only
// when zero), an orthorhombic box (no tilt), and the sections Masses (a trailing "# NAME" comment
// names the type), Pair Coeffs (epsilon sigma per type, for lj/cut/coul/long), Bond Coeffs
// (harmonic: K r0), Atoms (id molecule type q x y z [nx ny nz]), Velocities and Bonds. Anything
// else is an error that names the file, the line and what was expected.
#pragma once

#include <string>
#include <string_view>

#include "models/md/system.hpp"

namespace ttlm::md {

// `source` names the text in error messages (usually the file path).
System parse_lammps_data(std::string_view text, const std::string& source);
System read_lammps_data(const std::string& path);

std::string format_lammps_data(const System& system, const std::string& title);
void write_lammps_data(const System& system, const std::string& path, const std::string& title);

}  // namespace ttlm::md
