// A molecular system in LAMMPS's reduced LJ units (`units lj`, k_B = 1, Coulomb constant 1): an
// orthorhombic periodic box, atoms with types, charges, masses, velocities, and harmonic bonds.
// This is what a LAMMPS `atom_style full` data file holds, restricted to what ttlm's force field uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ttlm::md {

struct Vec3 {
    double x = 0, y = 0, z = 0;

    double& operator[](int d) { return d == 0 ? x : d == 1 ? y : z; }
    double operator[](int d) const { return d == 0 ? x : d == 1 ? y : z; }
    Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
    Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
    Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
    Vec3& operator+=(const Vec3& o) {
        x += o.x, y += o.y, z += o.z;
        return *this;
    }
    Vec3& operator-=(const Vec3& o) {
        x -= o.x, y -= o.y, z -= o.z;
        return *this;
    }
    double dot(const Vec3& o) const { return x * o.x + y * o.y + z * o.z; }
    double norm2() const { return dot(*this); }
};

// Periodic in all three directions, axis-aligned: [lo, lo + length) along each axis.
struct Box {
    Vec3 lo;
    Vec3 length;

    double volume() const { return length.x * length.y * length.z; }
    double min_length() const;
    // The periodic image of p inside [lo, lo + length), exactly (never equal to lo + length).
    Vec3 wrap(const Vec3& p) const;
    // The shortest periodic image of a difference vector.
    Vec3 minimum_image(const Vec3& d) const;
};

// LJ parameters per atom type; pairs mix geometrically (LAMMPS `pair_modify mix geometric`):
// epsilon_ij = sqrt(epsilon_i epsilon_j), sigma_ij = sqrt(sigma_i sigma_j).
struct AtomType {
    std::string name;  // "HEAD", "TAIL", ... (the comment of its Masses line), or "" if none
    double mass = 1;
    double epsilon = 1;
    double sigma = 1;
};

// Harmonic bond, LAMMPS `bond_style harmonic`: E = k_lammps (r - r0)^2. (The k = 100 in
// E = k/2 (r - r0)^2 is k_lammps = 50.)
struct BondType {
    double k_lammps = 50;
    double r0 = 1;
};

struct Bond {
    int32_t type = 0;  // index into System::bond_types
    int32_t a = 0, b = 0;  // atom indices (not ids)
};

struct System {
    Box box;
    std::vector<AtomType> atom_types;
    std::vector<BondType> bond_types;

    // Per atom, in the order of the data file; ids are LAMMPS atom ids (unique, >= 1).
    std::vector<int64_t> ids;
    std::vector<int64_t> molecules;
    std::vector<int32_t> types;  // index into atom_types
    std::vector<double> charges;
    std::vector<Vec3> positions;
    std::vector<Vec3> velocities;

    std::vector<Bond> bonds;

    int64_t size() const { return static_cast<int64_t>(ids.size()); }
    double mass(int64_t atom) const { return atom_types[types[atom]].mass; }
    double kinetic_energy() const;
    // Throws std::invalid_argument naming the first inconsistency (sizes, indices, non-finite or
    // non-positive values, duplicate ids) so a bad system never reaches the force field.
    void validate() const;
};

}  // namespace ttlm::md
