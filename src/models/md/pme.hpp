// Smooth particle-mesh Ewald (Essmann et al., J. Chem. Phys. 103, 8577 (1995)): the reciprocal-space
// part of the Ewald sum (see ewald.hpp) with charges spread on a grid by cardinal B-splines, a 3-D FFT,
// the Ewald kernel applied in k-space, and forces interpolated back with the B-splines' derivatives.
//
// Two refinements over textbook SPME make its errors those of P3M with analytic differentiation
// (Ballenegger, Cerda and Holm, J. Chem. Theory Comput. 8, 936 (2012)): the influence function is
// Hockney and Eastwood's optimal one for B-spline assignment instead of the B-spline moduli, and the
// force a charge exerts on itself through the mesh (which depends on where it sits in its grid cell)
// is subtracted. Together they cut the force error ~10x on the same grid.
//
// The grid is chosen from the accuracy: the smallest FFT-friendly sizes whose RMS force error, from
// the error functional of this method, is within it (the search starts from Deserno and Holm's
// closed-form P3M estimate, J. Chem. Phys. 109, 7694 (1998), which LAMMPS's pppm uses). tests/md
// checks the estimate against the exact Ewald sum.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/md/ewald.hpp"
#include "models/md/fft.hpp"
#include "models/md/system.hpp"
#include "ttl/operation.hpp"

namespace ttlm::md {

// Which kernels spread the charges and interpolate the forces: double-precision SIMD loops (the
// default), or ttl Operations on fp32 tiles (pme_ttl.hpp). The FFTs stay on the host either way.
enum class PmeKernel { simd, ttl };
PmeKernel parse_pme_kernel(const std::string& name);  // "simd", "ttl"

class PmeMeshTtl;

struct PmeGrid {
    std::array<int, 3> size{};
    int order = 0;  // B-spline order (interpolation points per axis), 5..7
    std::string describe() const;  // "72x72x72, order 6"
};

// Deserno-Holm RMS force error estimate of P3M (ik-differentiation) along one axis for `size` points.
double pme_error_estimate(int size, double length, int order, double alpha, double atoms, double q2);
// The RMS force error of this PME (analytic differentiation, optimal influence function) from Hockney
// and Eastwood's error functional, for `atoms` charges with sum of squares q2.
double pme_rms_force_error(const Box& box, double alpha, const PmeGrid& grid, double atoms, double q2);

// The grid for `accuracy`; order 0 picks the order (5, 6 or 7) with the least estimated work.
PmeGrid choose_pme_grid(const Box& box, double alpha, double accuracy, std::span<const double> charges, int order);

class Pme {
   public:
    Pme(const Box& box, double alpha, const PmeGrid& grid, PmeKernel kernel = PmeKernel::simd);
    ~Pme();

    const PmeGrid& grid() const { return grid_; }
    PmeKernel kernel() const { return ttl_mesh_ ? PmeKernel::ttl : PmeKernel::simd; }
    // How the ttl kernels run (validate mode, in tests); by default ttl::default_options() at each call.
    void set_ttl_options(const ttl::ExecOptions& options) { ttl_options_ = options; }

    // Adds the reciprocal-space forces to `forces`; the energy includes the self and background terms.
    KSpaceSums compute(std::span<const Vec3> positions, std::span<const double> charges, std::span<Vec3> forces);
    // The spread charge mesh alone, [x][y][z] (to check the spreading kernels against each other).
    std::vector<double> charge_mesh(std::span<const Vec3> positions, std::span<const double> charges);

   private:
    // The atoms' stencils: base points, B-spline weights, harmonics, and the atoms sorted by grid row.
    void assign(std::span<const Vec3> positions, std::span<const double> charges);
    void spread(std::span<const double> charges);
    void interpolate(std::span<const double> charges, std::span<Vec3> forces);

    Box box_;
    double alpha_;
    PmeGrid grid_;
    RealFft3d fft_;
    // exp(-pi^2 m^2 / alpha^2) / (pi V m^2) times the B-spline moduli |b(m)|^2, on the half spectrum
    // (0 at m = 0), and the virial factor 1 - 2 pi^2 m^2 / alpha^2.
    std::vector<double> influence_, virial_factor_;
    // Self-force harmonics C_{j e_d}, j = 1, 2, per axis d (see the constructor).
    std::array<std::array<double, 2>, 3> self_harmonics_{};
    std::vector<double> charge_grid_, spectrum_re_, spectrum_im_;  // the grid doubles as the potential
    int64_t row_stride_ = 0;                                        // padded z rows
    // Per atom: base grid index per axis, and B-spline weights and derivatives [atom][axis][order].
    std::vector<std::array<int, 3>> base_;
    std::vector<std::array<std::array<double, 2>, 3>> harmonics_;  // sin, cos of 2 pi u per axis
    std::vector<double> weights_, derivatives_;
    std::vector<int32_t> sorted_atoms_, row_start_;  // atoms sorted by their first grid row (x, y)
    std::unique_ptr<PmeMeshTtl> ttl_mesh_;             // with PmeKernel::ttl
    std::optional<ttl::ExecOptions> ttl_options_;
    std::vector<Vec3> gradients_;                      // the ttl interpolation's output
};

}  // namespace ttlm::md
