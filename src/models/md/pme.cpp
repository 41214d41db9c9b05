#include "models/md/pme.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <numbers>
#include <stdexcept>

#include <fmt/core.h>

#include "models/md/pme_ttl.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

// Orders below 5 leave self-force harmonics beyond the two that are subtracted; 7 is the end of the
// error-estimate table.
constexpr int kMinOrder = 5, kMaxOrder = 7;
// Grid rows (along z) are padded so that an atom's points along z are contiguous even where they wrap:
// spreading writes into the padding and folds it back; interpolation reads a copy of the row's start.
constexpr int kRowPad = 8;
// Handing work to another thread costs tens of microseconds: a few atoms are spread on one.
constexpr int64_t kAtomsPerWorker = 1024;


// Deserno and Holm (1998), table I: the coefficients of the P3M aliasing sum for assignment orders 1..7.
constexpr double kAliasingSum[8][7] = {
    {},
    {2.0 / 3.0},
    {1.0 / 50.0, 5.0 / 294.0},
    {1.0 / 588.0, 7.0 / 1440.0, 21.0 / 3872.0},
    {1.0 / 4320.0, 3.0 / 1936.0, 7601.0 / 2271360.0, 143.0 / 28800.0},
    {1.0 / 23232.0, 7601.0 / 13628160.0, 143.0 / 69120.0, 517231.0 / 106536960.0, 106640677.0 / 11737571328.0},
    {691.0 / 68140800.0, 13.0 / 57600.0, 47021.0 / 35512320.0, 9694607.0 / 2095994880.0,
     733191589.0 / 59609088000.0, 326190917.0 / 11700633600.0},
    {1.0 / 345600.0, 3617.0 / 35512320.0, 745739.0 / 838397952.0, 56399353.0 / 12773376000.0,
     25091609.0 / 1560084480.0, 1755948832039.0 / 36229939200000.0, 4887769399.0 / 37838389248.0},
};

// Cardinal B-spline values M_order(w + j) and derivatives M'_order(w + j), j = 0..order-1, for
// w in [0, 1), by the recursion M_k(x) = (x M_{k-1}(x) + (k - x) M_{k-1}(x - 1)) / (k - 1).
void bspline(double w, int order, double* values, double* derivatives) {
    double m[kMaxOrder + 1] = {1.0};
    for (int k = 2; k <= order; ++k) {
        if (k == order && derivatives)
            for (int j = 0; j < order; ++j) derivatives[j] = (j < k - 1 ? m[j] : 0.0) - (j > 0 ? m[j - 1] : 0.0);
        for (int j = k - 1; j >= 0; --j) {
            double upper = j < k - 1 ? m[j] : 0.0, lower = j > 0 ? m[j - 1] : 0.0;
            m[j] = ((w + j) * upper + (k - w - j) * lower) / (k - 1);
        }
    }
    for (int j = 0; j < order; ++j) values[j] = m[j];
}

// Per-axis sums over the aliases k + 2 pi m / h (|m| <= kAliases) of the B-spline's Fourier transform
// U(k) = sinc(k h / 2)^order squared, times k^2, and times exp(-k^2 / 4 alpha^2), at wave numbers
// k = 2 pi s / length for the (possibly fractional) indices s. Also, for the self-force harmonics
// j = 1, 2: sum_m U(k_{m+j}) U(k_m) (with U's sign, without its phase).
constexpr int kSelfHarmonics = 2;
struct AliasSums {
    std::vector<double> u2, k2u2, gauss_u2;
    std::array<std::vector<double>, kSelfHarmonics> shifted;
};

AliasSums alias_sums(const std::vector<double>& indices, int size, double length, int order, double alpha) {
    constexpr int kAliases = 8;
    const size_t n = indices.size();
    AliasSums s;
    s.u2.resize(n), s.k2u2.resize(n), s.gauss_u2.resize(n);
    for (auto& v : s.shifted) v.resize(n);
    auto transform = [&](double m0, int m) {  // U at k = 2 pi (m0 + m size) / length
        double x = std::numbers::pi * (m0 + m * size) / size;
        return std::pow(x == 0 ? 1.0 : std::sin(x) / x, order);
    };
    for (size_t i = 0; i < n; ++i) {
        const double m0 = indices[i];
        double u2 = 0, k2u2 = 0, gauss_u2 = 0;
        for (int m = -kAliases; m <= kAliases; ++m) {
            double k = 2 * std::numbers::pi * (m0 + m * size) / length;
            double u = transform(m0, m) * transform(m0, m);
            u2 += u;
            k2u2 += k * k * u;
            gauss_u2 += std::exp(-k * k / (4 * alpha * alpha)) * u;
        }
        s.u2[i] = u2, s.k2u2[i] = k2u2, s.gauss_u2[i] = gauss_u2;
        for (int j = 1; j <= kSelfHarmonics; ++j) {
            double sum = 0;
            for (int m = -kAliases; m <= kAliases; ++m) sum += transform(m0, m + j) * transform(m0, m);
            s.shifted[j - 1][i] = sum;
        }
    }
    return s;
}

// The grid's frequency indices, 0..size/2 then negative: the first Brillouin zone.
std::vector<double> grid_indices(int size) {
    std::vector<double> out(size);
    for (int i = 0; i < size; ++i) out[i] = i <= size / 2 ? i : i - size;
    return out;
}

int next_fft_size(int n) {
    while (!FftPlan::supported(n)) ++n;
    return n;
}

}  // namespace

PmeKernel parse_pme_kernel(const std::string& name) {
    if (name == "simd") return PmeKernel::simd;
    if (name == "ttl") return PmeKernel::ttl;
    throw std::invalid_argument(fmt::format("--pme-kernel: expected simd or ttl, got '{}'", name));
}

std::string PmeGrid::describe() const {
    return fmt::format("{}x{}x{}, order {}", size[0], size[1], size[2], order);
}

double pme_error_estimate(int size, double length, int order, double alpha, double atoms, double q2) {
    const double h_alpha = length / size * alpha;
    double sum = 0;
    for (int m = 0; m < order; ++m) sum += kAliasingSum[order][m] * std::pow(h_alpha, 2 * m);
    return q2 * std::pow(h_alpha, order) *
           std::sqrt(alpha * length * std::sqrt(2 * std::numbers::pi) * sum / atoms) / (length * length);
}

double pme_rms_force_error(const Box& box, double alpha, const PmeGrid& grid, double atoms, double q2) {
    // Hockney and Eastwood's error functional for the optimal influence function G of analytic
    // differentiation: per k in the first Brillouin zone, with phi(k) = 4 pi exp(-k^2 / 4 alpha^2) / k^2,
    //   Q(k) = sum_m k_m^2 phi(k_m)^2 - N(k)^2 / (D(k) S(k)),
    //   N = sum_m k_m^2 U^2(k_m) phi(k_m), D = sum_m k_m^2 U^2(k_m), S = sum_m U^2(k_m),
    // and the RMS force error is (sum q^2 / V) sqrt(sum_k Q(k) / atoms) for uncorrelated charges. N, D and S
    // separate by axis; the first sum does not, but it is a Gaussian in k_m, so the aliases next to k
    // carry all of it. Q is smooth and even in each component of k, so the sum over the zone's K^3
    // points is the midpoint rule on kSamples^3 points of its positive octant, whatever the grid size.
    constexpr int kSamples = 24;
    std::array<AliasSums, 3> sums;
    struct Alias {
        double k2[3], gauss2[3];  // k_m^2 and exp(-k_m^2 / 2 alpha^2) for m = -1, 0, 1
    };
    std::array<std::vector<Alias>, 3> near;
    for (int d = 0; d < 3; ++d) {
        const int size = grid.size[d];
        std::vector<double> samples(kSamples);
        for (int j = 0; j < kSamples; ++j) samples[j] = (j + 0.5) * (0.5 * size) / kSamples;
        sums[d] = alias_sums(samples, size, box.length[d], grid.order, alpha);
        near[d].resize(kSamples);
        for (int j = 0; j < kSamples; ++j)
            for (int m = -1; m <= 1; ++m) {
                double k = 2 * std::numbers::pi * (samples[j] + m * size) / box.length[d];
                near[d][j].k2[m + 1] = k * k;
                near[d][j].gauss2[m + 1] = std::exp(-k * k / (2 * alpha * alpha));
            }
    }
    double q = 0;
    for (int x = 0; x < kSamples; ++x)
        for (int y = 0; y < kSamples; ++y)
            for (int z = 0; z < kSamples; ++z) {
                const AliasSums &sx = sums[0], &sy = sums[1], &sz = sums[2];
                double s = sx.u2[x] * sy.u2[y] * sz.u2[z];
                double dd = sx.k2u2[x] * sy.u2[y] * sz.u2[z] + sx.u2[x] * sy.k2u2[y] * sz.u2[z] +
                            sx.u2[x] * sy.u2[y] * sz.k2u2[z];
                double nn = 4 * std::numbers::pi * sx.gauss_u2[x] * sy.gauss_u2[y] * sz.gauss_u2[z];
                double t = 0;
                const Alias &ax = near[0][x], &ay = near[1][y], &az = near[2][z];
                for (int a = 0; a < 3; ++a)
                    for (int b = 0; b < 3; ++b)
                        for (int c = 0; c < 3; ++c)
                            t += ax.gauss2[a] * ay.gauss2[b] * az.gauss2[c] / (ax.k2[a] + ay.k2[b] + az.k2[c]);
                q += std::max(0.0, 16 * std::numbers::pi * std::numbers::pi * t - nn * nn / (dd * s));
            }
    // Each sample stands for (size / kSamples)^3 / 8 points of the octant, and there are 8 octants.
    q *= static_cast<double>(grid.size[0]) * grid.size[1] * grid.size[2] / std::pow(kSamples, 3);
    return q2 / box.volume() * std::sqrt(q / atoms);
}

PmeGrid choose_pme_grid(const Box& box, double alpha, double accuracy, std::span<const double> charges, int order) {
    if (order != 0 && (order < kMinOrder || order > kMaxOrder))
        throw std::invalid_argument(fmt::format("pme: order must be {}..{} (got {})", kMinOrder, kMaxOrder, order));
    if (!(accuracy > 0 && std::isfinite(accuracy)))
        throw std::invalid_argument(fmt::format("pme: accuracy must be > 0 (got {})", accuracy));
    if (!(alpha > 0 && std::isfinite(alpha)))
        throw std::invalid_argument(fmt::format("pme: alpha must be > 0 (got {})", alpha));
    double q2 = 0;
    for (double q : charges) q2 += q * q;
    const double atoms = std::max<double>(1, static_cast<double>(charges.size()));
    constexpr int kMaxSize = 1024;
    auto too_big = [&] {
        return std::invalid_argument(fmt::format("pme: accuracy {} needs a grid over {} points along an axis (alpha {} "
                                                 "is too large for this box, or the accuracy too tight)",
                                                 accuracy, kMaxSize, alpha));
    };

    PmeGrid best;
    double best_cost = INFINITY;
    for (int p = order ? order : kMinOrder; p <= (order ? order : kMaxOrder); ++p) {
        // Start from Deserno and Holm's closed-form estimate for P3M (ik-differentiation), per axis, then
        // refine all axes together until the error functional of this method is within the accuracy.
        PmeGrid g;
        g.order = p;
        for (int d = 0; d < 3; ++d) {
            int k = next_fft_size(std::max(2 * p, 8));
            while (pme_error_estimate(k, box.length[d], p, alpha, atoms, q2) > accuracy)
                if ((k = next_fft_size(k + 1)) > kMaxSize) throw too_big();
            g.size[d] = k;
        }
        for (double error; (error = pme_rms_force_error(box, alpha, g, atoms, q2)) > accuracy;) {
            double scale = std::max(1.04, std::pow(error / accuracy, 1.0 / p));
            for (int d = 0; d < 3; ++d)
                if ((g.size[d] = next_fft_size(static_cast<int>(std::ceil(g.size[d] * scale)))) > kMaxSize)
                    throw too_big();
        }
        // Work model: the FFTs (~ K^3 log K per transform) against spreading and interpolation (~ p^3 per atom).
        double points = static_cast<double>(g.size[0]) * g.size[1] * g.size[2];
        double cost = 2 * points * std::log2(points) + 4.0 * atoms * p * p * p;
        if (cost < best_cost) best_cost = cost, best = g;
    }
    return best;
}

Pme::Pme(const Box& box, double alpha, const PmeGrid& grid, PmeKernel kernel)
    : box_(box), alpha_(alpha), grid_(grid), fft_(grid.size[0], grid.size[1], grid.size[2]) {
    if (grid.order < kMinOrder || grid.order > kMaxOrder)
        throw std::invalid_argument(fmt::format("pme: order must be {}..{} (got {})", kMinOrder, kMaxOrder, grid.order));
    for (int d = 0; d < 3; ++d)
        if (grid.size[d] < grid.order)
            throw std::invalid_argument(
                fmt::format("pme: grid size {} is smaller than the order {}", grid.size[d], grid.order));
    const int nx = grid.size[0], ny = grid.size[1], nz = grid.size[2], nzh = fft_.nz_half();
    // The influence function that minimises the RMS force error for B-spline assignment with analytic
    // differentiation (Hockney and Eastwood's optimal G; Ballenegger, Cerda and Holm, J. Chem. Theory
    // Comput. 8, 936 (2012)): with U the assignment's Fourier transform, phi(k) = 4 pi / k^2
    // exp(-k^2 / 4 alpha^2), and sums over the aliases k_m = k + 2 pi m / h,
    //   G(k) = sum_m k_m^2 U^2(k_m) phi(k_m) / ([sum_m k_m^2 U^2(k_m)] [sum_m U^2(k_m)]).
    // Every factor separates by axis (k_m^2 phi(k_m) is a Gaussian), so per-axis alias sums suffice.
    // SPME's B-spline moduli are the no-aliasing limit of this G and give several times larger errors.
    std::array<AliasSums, 3> sums;
    for (int d = 0; d < 3; ++d)
        sums[d] = alias_sums(grid_indices(grid.size[d]), grid.size[d], box.length[d], grid.order, alpha);
    influence_.assign(fft_.spectrum_size(), 0.0);
    virial_factor_.assign(fft_.spectrum_size(), 0.0);
    const double pi2_over_alpha2 = std::numbers::pi * std::numbers::pi / (alpha * alpha);
    for (int x = 0; x < nx; ++x)
        for (int y = 0; y < ny; ++y)
            for (int z = 0; z < nzh; ++z) {
                if (x == 0 && y == 0 && z == 0) continue;
                double mx = (x <= nx / 2 ? x : x - nx) / box.length.x, my = (y <= ny / 2 ? y : y - ny) / box.length.y,
                       mz = z / box.length.z;
                double m2 = mx * mx + my * my + mz * mz;
                const AliasSums &sx = sums[0], &sy = sums[1], &sz = sums[2];
                double u2 = sx.u2[x] * sy.u2[y] * sz.u2[z];
                double k2u2 = sx.k2u2[x] * sy.u2[y] * sz.u2[z] + sx.u2[x] * sy.k2u2[y] * sz.u2[z] +
                              sx.u2[x] * sy.u2[y] * sz.k2u2[z];
                double numerator = 4 * std::numbers::pi * sx.gauss_u2[x] * sy.gauss_u2[y] * sz.gauss_u2[z];
                int64_t i = (int64_t{x} * ny + y) * nzh + z;
                influence_[i] = numerator / (k2u2 * u2) / box.volume();
                virial_factor_[i] = 1 - 2 * pi2_over_alpha2 * m2;
            }
    // Analytic differentiation lets a charge push itself through the mesh, by a force that depends on
    // its position in its grid cell: for a charge q at grid coordinate u, the mesh energy has the terms
    // q^2 sum_n C_n cos(2 pi n.u) with C_n = (-1)^{order |n|} sum_k G(k) sum_m U(k_{m+n}) U(k_m)
    // (Ballenegger, Cerda and Holm 2012). The harmonics n = j e_d, j = 1, 2, carry nearly all of it;
    // compute() subtracts them from energies and forces.
    for (int d = 0; d < 3; ++d)
        for (int j = 1; j <= kSelfHarmonics; ++j) {
            double c = 0;
            for (int x = 0; x < nx; ++x)
                for (int y = 0; y < ny; ++y)
                    for (int z = 0; z < nzh; ++z) {
                        double alias[3] = {d == 0 ? sums[0].shifted[j - 1][x] : sums[0].u2[x],
                                           d == 1 ? sums[1].shifted[j - 1][y] : sums[1].u2[y],
                                           d == 2 ? sums[2].shifted[j - 1][z] : sums[2].u2[z]};
                        double weight = (z == 0 || 2 * z == nz) ? 1.0 : 2.0;  // the half spectrum's mirror
                        c += weight * influence_[(int64_t{x} * ny + y) * nzh + z] * alias[0] * alias[1] * alias[2];
                    }
            self_harmonics_[d][j - 1] = (grid.order * j) % 2 ? -c : c;
        }
    row_stride_ = nz + kRowPad;
    charge_grid_.assign(int64_t{nx} * ny * row_stride_, 0.0);
    spectrum_re_.assign(fft_.spectrum_size(), 0.0);
    spectrum_im_.assign(fft_.spectrum_size(), 0.0);
    if (kernel == PmeKernel::ttl) ttl_mesh_ = std::make_unique<PmeMeshTtl>(grid.size, grid.order);
}

Pme::~Pme() = default;

namespace {

// Spreading and interpolation for a compile-time order, so that the loops over an atom's points unroll.
// Along z an atom's weights are padded with zeros to kLanes values (one AVX-512 vector, two AVX2 ones):
// the z loops are then whole vectors, and the zeros land in the rows' padding.
constexpr int kLanes = 8;
static_assert(kLanes >= kMaxOrder && kRowPad >= kLanes - 1);

// A row's kLanes values as two 4-lane vectors (GCC/Clang vector extensions: AVX2 on the baseline target).
using Double4 = double __attribute__((vector_size(32)));
inline Double4 load4(const double* p) {
    Double4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(double* p, Double4 v) { std::memcpy(p, &v, sizeof v); }
inline double sum4(Double4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

template <int P>
struct Mesh {
    static_assert(kLanes == 8);
    const std::array<int, 3>* base;
    const double* weights;      // [atom][axis][kLanes]
    const double* derivatives;  // [atom][axis][kLanes]
    int nx, ny;
    int64_t row_stride;

    void spread(double* grid, int64_t atom, double charge) const {
        const auto& b = base[atom];
        const double* w = weights + atom * 3 * kLanes;
        const Double4 wz0 = load4(w + 2 * kLanes), wz1 = load4(w + 2 * kLanes + 4);
        for (int a = 0; a < P; ++a) {
            const int gx = b[0] + a >= nx ? b[0] + a - nx : b[0] + a;
            const double qa = charge * w[a];
            for (int c = 0; c < P; ++c) {
                const int gy = b[1] + c >= ny ? b[1] + c - ny : b[1] + c;
                const double qac = qa * w[kLanes + c];
                double* row = grid + (int64_t{gx} * ny + gy) * row_stride + b[2];
                store4(row, load4(row) + qac * wz0);
                store4(row + 4, load4(row + 4) + qac * wz1);
            }
        }
    }

    // The gradient of the potential at the atom, in grid units: sum_k phi(k) grad M(u - k). The rows are
    // summed lane by lane, and the z weights applied once at the end.
    Vec3 gradient(const double* phi, int64_t atom) const {
        const auto& b = base[atom];
        const double* w = weights + atom * 3 * kLanes;
        const double* dw = derivatives + atom * 3 * kLanes;
        Double4 sum0{}, sum1{}, dx0{}, dx1{}, dy0{}, dy1{};
        for (int a = 0; a < P; ++a) {
            const int gx = b[0] + a >= nx ? b[0] + a - nx : b[0] + a;
            for (int c = 0; c < P; ++c) {
                const int gy = b[1] + c >= ny ? b[1] + c - ny : b[1] + c;
                const double* row = phi + (int64_t{gx} * ny + gy) * row_stride + b[2];
                const Double4 r0 = load4(row), r1 = load4(row + 4);
                const double ww = w[a] * w[kLanes + c], wx = dw[a] * w[kLanes + c], wy = w[a] * dw[kLanes + c];
                sum0 += ww * r0, sum1 += ww * r1;
                dx0 += wx * r0, dx1 += wx * r1;
                dy0 += wy * r0, dy1 += wy * r1;
            }
        }
        const Double4 wz0 = load4(w + 2 * kLanes), wz1 = load4(w + 2 * kLanes + 4);
        const Double4 dz0 = load4(dw + 2 * kLanes), dz1 = load4(dw + 2 * kLanes + 4);
        return {sum4(dx0 * wz0 + dx1 * wz1), sum4(dy0 * wz0 + dy1 * wz1), sum4(sum0 * dz0 + sum1 * dz1)};
    }
};

template <typename F>
void with_order(int order, F&& f) {
    switch (order) {
        case 5: f(std::integral_constant<int, 5>{}); break;
        case 6: f(std::integral_constant<int, 6>{}); break;
        default: f(std::integral_constant<int, 7>{}); break;
    }
}

}  // namespace

void Pme::spread(std::span<const double> charges) {
    if (ttl_mesh_) {
        ttl_mesh_->assign({base_, weights_.data(), derivatives_.data(), kLanes}, charges);
        ttl_mesh_->spread(charge_grid_.data(), row_stride_, ttl_options_.value_or(ttl::default_options()));
        return;
    }
    const int p = grid_.order, nx = grid_.size[0], ny = grid_.size[1], nz = grid_.size[2];
    std::fill(charge_grid_.begin(), charge_grid_.end(), 0.0);
    with_order(p, [&](auto order) {
        const Mesh<order()> mesh{base_.data(), weights_.data(), derivatives_.data(), nx, ny, row_stride_};
        // Atoms whose base planes lie in chunks two apart write disjoint planes when every chunk is at
        // least order - 1 planes wide: even chunks run in parallel, then odd ones. No locks, no private grids.
        int chunks = 2 * static_cast<int>(std::clamp<int64_t>(static_cast<int64_t>(base_.size()) / kAtomsPerWorker, 1,
                                                               runtime::num_threads()));
        while (chunks > 2 && nx / chunks < p - 1) chunks -= 2;
        if (nx / chunks < p - 1) chunks = 1;
        auto spread_planes = [&](int plane0, int plane1) {
            for (int32_t k = row_start_[int64_t{plane0} * ny]; k < row_start_[int64_t{plane1} * ny]; ++k)
                mesh.spread(charge_grid_.data(), sorted_atoms_[k], charges[sorted_atoms_[k]]);
        };
        if (chunks == 1) {
            spread_planes(0, nx);
        } else {
            for (int parity = 0; parity < 2; ++parity)
                runtime::run_on_workers(chunks / 2, [&](int w) {
                    int c = 2 * w + parity;
                    spread_planes(nx * c / chunks, nx * (c + 1) / chunks);
                });
        }
    });
    // Fold what was written past the end of each row back to its start (the z wrap).
    runtime::parallel_for(int64_t{nx} * ny, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            double* row = &charge_grid_[r * row_stride_];
            for (int k = 0; k < p - 1; ++k) row[k] += row[nz + k], row[nz + k] = 0;
        }
    }, 4096);
}

void Pme::interpolate(std::span<const double> charges, std::span<Vec3> forces) {
    const int p = grid_.order, nx = grid_.size[0], ny = grid_.size[1], nz = grid_.size[2];
    const Vec3 scale{nx / box_.length.x, ny / box_.length.y, nz / box_.length.z};
    // Forces from each atom's potential gradient g (grid units), less the self force q^2 2 pi
    // (size / length) sum_j j C_j sin(2 pi j u), with sin(4 pi u) = 2 sin(2 pi u) cos(2 pi u).
    auto add_forces = [&](auto&& gradient) {
        runtime::parallel_for(
            static_cast<int64_t>(base_.size()),
            [&](int64_t begin, int64_t end) {
                for (int64_t k = begin; k < end; ++k) {
                    const int64_t i = sorted_atoms_[k];
                    Vec3 g = gradient(i);
                    Vec3 self;
                    for (int d = 0; d < 3; ++d) {
                        const auto [sin1, cos1] = harmonics_[i][d];
                        self[d] = self_harmonics_[d][0] * sin1 + 2 * self_harmonics_[d][1] * (2 * sin1 * cos1);
                    }
                    self = self * (2 * std::numbers::pi * charges[i] * charges[i]);
                    forces[i] -= Vec3{(g.x * charges[i] + self.x) * scale.x, (g.y * charges[i] + self.y) * scale.y,
                                      (g.z * charges[i] + self.z) * scale.z};
                }
            },
            64);
    };
    if (ttl_mesh_) {
        gradients_.resize(base_.size());
        ttl_mesh_->gradients(charge_grid_.data(), row_stride_, gradients_,
                             ttl_options_.value_or(ttl::default_options()));
        add_forces([&](int64_t i) { return gradients_[i]; });
        return;
    }
    // Each row's padding repeats its start, so an atom's points along z are contiguous.
    runtime::parallel_for(int64_t{nx} * ny, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            double* row = &charge_grid_[r * row_stride_];
            for (int k = 0; k < p - 1; ++k) row[nz + k] = row[k];
        }
    }, 4096);
    with_order(p, [&](auto order) {
        const Mesh<order()> mesh{base_.data(), weights_.data(), derivatives_.data(), nx, ny, row_stride_};
        add_forces([&](int64_t i) { return mesh.gradient(charge_grid_.data(), i); });
    });
}

void Pme::assign(std::span<const Vec3> positions, std::span<const double> charges) {
    if (positions.size() != charges.size())
        throw std::invalid_argument(fmt::format("pme: {} charges for {} positions", charges.size(), positions.size()));
    const int64_t n = static_cast<int64_t>(positions.size());
    const int p = grid_.order, nx = grid_.size[0];

    // B-spline weights, stored in increasing grid index: point base + a gets M(w + p - 1 - a); and
    // sin and cos of 2 pi u for the self-force correction.
    base_.resize(n);
    harmonics_.resize(n);
    weights_.assign(n * 3 * kLanes, 0.0);
    derivatives_.assign(n * 3 * kLanes, 0.0);
    runtime::parallel_for(
        n,
        [&](int64_t begin, int64_t end) {
            double values[kMaxOrder], slopes[kMaxOrder];
            for (int64_t i = begin; i < end; ++i)
                for (int d = 0; d < 3; ++d) {
                    const int size = grid_.size[d];
                    double u = (positions[i][d] - box_.lo[d]) / box_.length[d] * size;
                    double floor_u = std::floor(u);
                    int g = static_cast<int>(floor_u);
                    bspline(u - floor_u, p, values, slopes);
                    base_[i][d] = ((g - p + 1) % size + size) % size;
                    harmonics_[i][d] = {std::sin(2 * std::numbers::pi * (u - floor_u)),
                                        std::cos(2 * std::numbers::pi * (u - floor_u))};
                    for (int a = 0; a < p; ++a) {
                        weights_[(i * 3 + d) * kLanes + a] = values[p - 1 - a];
                        derivatives_[(i * 3 + d) * kLanes + a] = slopes[p - 1 - a];
                    }
                }
        },
        256);
    // Atoms sorted by their first grid row (x, then y): spreading and interpolation then sweep the grid
    // in memory order instead of jumping around it (at 100K atoms the grid is far bigger than the
    // caches), and the atoms of each x plane are contiguous for the race-free parallel spreading.
    const int ny = grid_.size[1];
    row_start_.assign(int64_t{nx} * ny + 1, 0);
    for (int64_t i = 0; i < n; ++i) ++row_start_[int64_t{base_[i][0]} * ny + base_[i][1] + 1];
    for (int64_t r = 0; r < int64_t{nx} * ny; ++r) row_start_[r + 1] += row_start_[r];
    sorted_atoms_.resize(n);
    {
        std::vector<int32_t> fill(row_start_.begin(), row_start_.end() - 1);
        for (int64_t i = 0; i < n; ++i)
            sorted_atoms_[fill[int64_t{base_[i][0]} * ny + base_[i][1]]++] = static_cast<int32_t>(i);
    }
}

std::vector<double> Pme::charge_mesh(std::span<const Vec3> positions, std::span<const double> charges) {
    assign(positions, charges);
    spread(charges);
    const int nx = grid_.size[0], ny = grid_.size[1], nz = grid_.size[2];
    std::vector<double> mesh(static_cast<size_t>(nx) * ny * nz);
    for (int64_t row = 0; row < int64_t{nx} * ny; ++row)
        std::copy_n(&charge_grid_[row * row_stride_], nz, &mesh[row * nz]);
    return mesh;
}

KSpaceSums Pme::compute(std::span<const Vec3> positions, std::span<const double> charges, std::span<Vec3> forces) {
    const int64_t n = static_cast<int64_t>(positions.size());
    KSpaceSums sums;
    sums.energy = ewald_self_energy(alpha_, charges, box_.volume());
    assign(positions, charges);
    spread(charges);
    fft_.forward(charge_grid_.data(), spectrum_re_.data(), spectrum_im_.data(), row_stride_);

    // E = 1/2 sum over all m of G(m) |S(m)|^2; the half spectrum stands for m and -m except where
    // m_z = -m_z (z = 0 and, for even nz, z = nz / 2).
    const int nz = grid_.size[2], nzh = fft_.nz_half();
    const int64_t columns = fft_.spectrum_size() / nzh;
    const int workers =
        static_cast<int>(std::clamp<int64_t>(fft_.spectrum_size() / 32768, 1, runtime::num_threads()));
    std::vector<KSpaceSums> partial(workers);
    runtime::run_on_workers(workers, [&](int w) {
        double energy = 0, virial = 0;
        for (int64_t col = columns * w / workers; col < columns * (w + 1) / workers; ++col)
            for (int z = 0; z < nzh; ++z) {
                int64_t i = col * nzh + z;
                double weight = (z == 0 || 2 * z == nz) ? 0.5 : 1.0;
                double e = weight * influence_[i] * (spectrum_re_[i] * spectrum_re_[i] + spectrum_im_[i] * spectrum_im_[i]);
                energy += e;
                virial += e * virial_factor_[i];
                spectrum_re_[i] *= influence_[i];
                spectrum_im_[i] *= influence_[i];
            }
        partial[w] = {energy, virial};
    });
    for (const KSpaceSums& s : partial) sums.energy += s.energy, sums.virial += s.virial;
    // Less the self-energy harmonics q^2 C_j cos(2 pi j u), with cos(4 pi u) = 2 cos^2(2 pi u) - 1.
    for (int64_t i = 0; i < n; ++i)
        for (int d = 0; d < 3; ++d) {
            const double cos1 = harmonics_[i][d][1];
            sums.energy -= charges[i] * charges[i] *
                           (self_harmonics_[d][0] * cos1 + self_harmonics_[d][1] * (2 * cos1 * cos1 - 1));
        }

    fft_.backward(spectrum_re_.data(), spectrum_im_.data(), charge_grid_.data(), row_stride_);  // the potential
    interpolate(charges, forces);
    return sums;
}

}  // namespace ttlm::md
