// The integrator's steps as ttl Operations over atom tiles, as a TT-Lang author would write them for
// the chip: the state (positions and velocities) lives in fp32 tensors, 1,024 atoms per 32x32 tile and
// one tensor per axis, and each step streams the tiles through a reader, a compute kernel and a
// writer on Grid::Auto. Two operations per time step, either side of the force computation:
//   advance  B A (velocity Verlet), or B A O A (Langevin, BAOAB): half kick with the old forces,
//            drift with the wrap into the box, and for Langevin the Ornstein-Uhlenbeck step and the
//            second half drift;
//   kick     B: the half kick with the new forces.
// The noise of the O step is the double integrator's counter_normal(seed, step, atom id, axis),
// generated on the host as a tensor (the chip has no such generator); the forces come from the host's
// force field (double) rounded to fp32 tiles.
//
// Precision: positions are fp32 offsets from the box's lower corner, so each drift rounds a position
// to half an fp32 ulp of its offset, at most L 2^-24 (4e-6 in a box of 70 sigma), and a displacement
// shorter than that is lost (an atom slower than L 2^-24 / dt stands still); velocities carry 2^-24
// relative per kick. tests/md/test_integrator_ttl.cpp states and checks the resulting bounds
// against the double-precision integrator. There is no floor in ttl's block math: a drift moves an
// atom by less than a box length (checked), so the wrap is a compare-and-shift made of sign and clamp.
#pragma once

#include <cstdint>
#include <span>

#include "models/md/integrator.hpp"
#include "models/md/system.hpp"
#include "ttl/operation.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::md {

class IntegratorTtl {
   public:
    // Loads the system's state (positions must lie in the box) into fp32 tiles.
    IntegratorTtl(const System& system, const IntegratorOptions& options);

    // B A [O A] with `forces` (the forces of the current positions); `step` selects the noise.
    void advance(std::span<const Vec3> forces, uint64_t step, const ttl::ExecOptions& options = ttl::default_options());
    // B with `forces`.
    void kick(std::span<const Vec3> forces, const ttl::ExecOptions& options = ttl::default_options());

    // The fp32 state, widened to double, into the system. Throws, naming the atom, if a position is
    // not finite or left the box (an atom moved by more than a box length: the system blew up).
    void store_positions(System& system) const;
    void store_velocities(System& system) const;

   private:
    enum class Stage { advance, kick };
    void run(Stage stage, const ttl::ExecOptions& options);
    void load_forces(std::span<const Vec3> forces);

    IntegratorOptions options_;
    Box box_;
    std::vector<int64_t> ids_;
    int64_t atoms_ = 0, tiles_ = 0;
    // Per axis, [tiles * 32, 32]: atom i is element i.
    ttl::Tensor positions_[3], velocities_[3], forces_[3], noise_[3];
    ttl::Tensor half_dt_over_mass_;  // dt / 2m per atom
    ttl::Tensor noise_scale_;        // sqrt((1 - c^2) kT / m) per atom (Langevin)
};

}  // namespace ttlm::md
