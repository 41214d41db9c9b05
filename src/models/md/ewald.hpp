// The reciprocal-space part of Ewald electrostatics (Coulomb constant 1, LAMMPS `units lj`):
//
//   E_recip = (2 pi / V) sum_{k != 0} exp(-k^2 / 4 alpha^2) / k^2 |S(k)|^2,  S(k) = sum_j q_j e^{i k.r_j}
//             - alpha / sqrt(pi) sum_j q_j^2            (self energy)
//             - pi Q^2 / (2 alpha^2 V)                  (neutralising background of a net charge Q)
//
// which LAMMPS reports as `elong`. The real-space part, erfc(alpha r) q_i q_j / r, is the pair kernel's.
//
// Ewald: the plain sum over k-vectors, the exact reference. Its k-vectors are LAMMPS's (kspace_style
// ewald): per axis the smallest kmax whose RMS force error estimate (Kolafa and Perram) is within the
// accuracy, then every k with |k|^2 <= max_axis (2 pi kmax / L)^2. With the same alpha and accuracy
// both programs sum the same terms.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "models/md/system.hpp"

namespace ttlm::md {

struct KSpaceSums {
    double energy = 0;
    double virial = 0;  // -3V dE/dV at fixed fractional coordinates (for the scalar pressure)
};

// The self and neutralising-background terms, shared by Ewald and PME.
double ewald_self_energy(double alpha, std::span<const double> charges, double volume);

class Ewald {
   public:
    // `accuracy` is the RMS force error allowed, in force units (LAMMPS's relative accuracy times its
    // two_charge_force, which is 1 in lj units).
    Ewald(const Box& box, double alpha, double accuracy, std::span<const double> charges);

    std::array<int, 3> kmax() const { return kmax_; }
    int64_t num_vectors() const { return static_cast<int64_t>(vectors_.size()); }

    // Adds the reciprocal-space forces to `forces`; the energy includes the self and background terms.
    KSpaceSums compute(std::span<const Vec3> positions, std::span<const double> charges, std::span<Vec3> forces) const;

   private:
    struct KVector {
        int kx, ky, kz;
        double prefactor;  // (4 pi / V) exp(-k^2 / 4 alpha^2) / k^2: the half-space sum counts k and -k
        double virial_factor;  // 1 - k^2 / (2 alpha^2)
    };
    Box box_;
    double alpha_;
    std::array<int, 3> kmax_{};
    std::vector<KVector> vectors_;  // half space, grouped by (kx, ky) with kz increasing
};

}  // namespace ttlm::md
