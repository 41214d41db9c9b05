// The force field of ttlm's MD, LAMMPS's `pair_style lj/cut/coul/long rc` + `pair_modify mix
// geometric shift no` + `kspace_style ewald|pppm` + `bond_style harmonic` + `special_bonds`, in lj
// units with `dielectric 1`:
//
//   E = sum_{pairs, r < rc} [ 4 eps_ij ((sigma_ij/r)^12 - (sigma_ij/r)^6) + q_i q_j erfc(alpha r) / r ]
//     + E_recip (Ewald or PME, see ewald.hpp, incl. self and background terms)
//     + sum_bonds K (r - r0)^2
//     + special-bond corrections for 1-2, 1-3, 1-4 pairs (topology.hpp)
//
// No force clamps, no cell capacity; the reciprocal term is recomputed at every call.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/md/ewald.hpp"
#include "models/md/neighbor_list.hpp"
#include "models/md/pair_kernel.hpp"
#include "models/md/pme.hpp"
#include "models/md/system.hpp"
#include "models/md/topology.hpp"

namespace ttlm::md {

// Which implementation evaluates the pair forces: the double-precision SIMD kernel (the default), or
// the ttl Operation (fp32 tiles, as on a Tenstorrent chip; see pair_kernel_ttl.hpp).
enum class PairKernel { simd, ttl };
PairKernel parse_pair_kernel(const std::string& name);  // "simd", "ttl"

enum class KSpace {
    none,   // real-space Coulomb only: not electrostatics, but the pair term alone (for checks)
    ewald,  // plain Ewald sum: exact, O(N^1.5) at best, the reference
    pme,    // smooth particle-mesh Ewald: the fast path
};
KSpace parse_kspace(const std::string& name);  // "none", "ewald", "pme"

struct ForceFieldOptions {
    double cutoff = 3.0;
    double alpha = 1.0;
    KSpace kspace = KSpace::pme;
    double accuracy = 1e-5;  // RMS force error of the reciprocal term, force units (LAMMPS's, in lj units)
    int pme_order = 0;       // 0: chosen from the accuracy
    SpecialBonds special;
    bool lj_shift = false;  // LAMMPS's pair_modify shift: LJ energy zero at the cutoff (forces unchanged)
    PairKernel pair_kernel = PairKernel::simd;
    PmeKernel pme_kernel = PmeKernel::simd;  // PME's spreading and interpolation
    double skin = 0.3;      // Verlet-list skin (LAMMPS's lj default)
    // Two atoms closer than this (in sigma_ij units) are an error: the configuration is broken.
    double min_distance = 0.1;
};

struct Energies {
    double lj = 0, coul_real = 0, coul_recip = 0, bond = 0;
    double potential() const { return lj + coul_real + coul_recip + bond; }
};

struct ForceResult {
    Energies energy;
    double virial = 0;  // -3V dU/dV: pressure = (2 KE + virial) / (3 V)
};

class ForceField {
   public:
    ForceField(const System& system, const ForceFieldOptions& options);

    // Forces on every atom (overwritten) for the system's current positions, which must lie in the
    // box (System::positions are kept wrapped). Rebuilds the neighbour list when atoms have moved
    // more than half the skin. Throws on overlapping atoms or non-finite results, naming the atoms.
    ForceResult compute(const System& system, std::span<Vec3> forces);

    const NeighborList& neighbor_list() const { return list_; }
    std::string describe() const;  // one line: cutoff, skin, k-space method and its resolution

   private:
    void rebuild(const System& system);

    ForceFieldOptions options_;
    NeighborList list_;
    std::vector<SpecialPair> special_pairs_;
    std::optional<Ewald> ewald_;
    std::unique_ptr<Pme> pme_;
    std::vector<PairAtom> packed_;  // in neighbour-list order
    bool has_charges_ = false;
};

}  // namespace ttlm::md
