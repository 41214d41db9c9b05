#include "models/md/ewald.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include <fmt/core.h>

#include "runtime/thread_pool.hpp"

namespace ttlm::md {

double ewald_self_energy(double alpha, std::span<const double> charges, double volume) {
    double q2 = 0, q = 0;
    for (double c : charges) q2 += c * c, q += c;
    return -alpha * std::numbers::inv_sqrtpi * q2 - std::numbers::pi * q * q / (2 * alpha * alpha * volume);
}

namespace {

// LAMMPS's (and Kolafa and Perram's) RMS force error of an Ewald sum truncated at kmax along an axis.
double ewald_rms_error(int kmax, double length, double atoms, double q2, double alpha) {
    return 2 * q2 * alpha / length * std::sqrt(1 / (std::numbers::pi * kmax * atoms)) *
           std::exp(-std::numbers::pi * std::numbers::pi * kmax * kmax / (alpha * alpha * length * length));
}

// Atoms are processed in chunks this long: a chunk's rows of the e^{i k r} tables stay in L1.
constexpr int64_t kAtomChunk = 256;

}  // namespace

Ewald::Ewald(const Box& box, double alpha, double accuracy, std::span<const double> charges)
    : box_(box), alpha_(alpha) {
    if (!(alpha > 0 && std::isfinite(alpha)))
        throw std::invalid_argument(fmt::format("ewald: alpha must be > 0 (got {})", alpha));
    if (!(accuracy > 0 && std::isfinite(accuracy)))
        throw std::invalid_argument(fmt::format("ewald: accuracy must be > 0 (got {})", accuracy));
    double q2 = 0;
    for (double q : charges) q2 += q * q;
    const double atoms = std::max<double>(1, static_cast<double>(charges.size()));
    double gsq_max = 0;
    for (int d = 0; d < 3; ++d) {
        int k = 1;
        while (ewald_rms_error(k, box.length[d], atoms, q2, alpha) > accuracy) {
            if (++k > 4096)
                throw std::invalid_argument(fmt::format(
                    "ewald: accuracy {} needs more than 4096 k-vectors per axis (alpha {} is too large for "
                    "this box, or the accuracy too tight)",
                    accuracy, alpha));
        }
        kmax_[d] = k;
        double g = 2 * std::numbers::pi / box.length[d] * k;
        gsq_max = std::max(gsq_max, g * g);
    }
    gsq_max *= 1.00001;  // as LAMMPS: keep the k-vectors on the sphere despite rounding

    const double volume = box.volume();
    for (int kx = 0; kx <= kmax_[0]; ++kx)
        for (int ky = -kmax_[1]; ky <= kmax_[1]; ++ky)
            for (int kz = -kmax_[2]; kz <= kmax_[2]; ++kz) {
                bool half_space = kx > 0 || (kx == 0 && ky > 0) || (kx == 0 && ky == 0 && kz > 0);
                if (!half_space) continue;
                double gx = 2 * std::numbers::pi * kx / box.length.x, gy = 2 * std::numbers::pi * ky / box.length.y,
                       gz = 2 * std::numbers::pi * kz / box.length.z;
                double k2 = gx * gx + gy * gy + gz * gz;
                if (k2 > gsq_max) continue;
                vectors_.push_back({kx, ky, kz, 4 * std::numbers::pi / volume * std::exp(-k2 / (4 * alpha * alpha)) / k2,
                                    1 - k2 / (2 * alpha * alpha)});
            }
}

KSpaceSums Ewald::compute(std::span<const Vec3> positions, std::span<const double> charges,
                          std::span<Vec3> forces) const {
    const int64_t n = static_cast<int64_t>(positions.size());
    KSpaceSums sums;
    sums.energy = ewald_self_energy(alpha_, charges, box_.volume());
    if (n == 0 || vectors_.empty()) return sums;

    // e^{i k_d m r_d} for m = 0..kmax_d, per axis: table[d][m * n + i].
    std::array<std::vector<double>, 3> cos_table, sin_table;
    for (int d = 0; d < 3; ++d) {
        cos_table[d].resize(static_cast<size_t>(kmax_[d] + 1) * n);
        sin_table[d].resize(cos_table[d].size());
        const double unit = 2 * std::numbers::pi / box_.length[d];
        runtime::parallel_for(
            n,
            [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i)
                    for (int m = 0; m <= kmax_[d]; ++m) {
                        double phase = unit * m * (positions[i][d] - box_.lo[d]);
                        cos_table[d][m * n + i] = std::cos(phase);
                        sin_table[d][m * n + i] = std::sin(phase);
                    }
            },
            256);
    }

    // Groups of k-vectors sharing (kx, ky): the x-y phase is computed once per atom and group.
    struct Group {
        int64_t begin, end;
    };
    std::vector<Group> groups;
    for (int64_t v = 0; v < num_vectors(); ++v)
        if (v == 0 || vectors_[v].kx != vectors_[v - 1].kx || vectors_[v].ky != vectors_[v - 1].ky)
            groups.push_back({v, v + 1});
        else
            groups.back().end = v + 1;

    // e^{i (kx x + ky y)} for atoms [a0, a1), times `weight` (the charges, or 1).
    auto xy_phase = [&](const KVector& k, int64_t a0, int64_t a1, const double* weight, double* out_re,
                        double* out_im) {
        const double* cx = cos_table[0].data() + k.kx * n;
        const double* sx = sin_table[0].data() + k.kx * n;
        const double* cy = cos_table[1].data() + std::abs(k.ky) * n;
        const double* sy = sin_table[1].data() + std::abs(k.ky) * n;
        const double sign_y = k.ky < 0 ? -1 : 1;
        for (int64_t i = a0; i < a1; ++i) {
            double w = weight ? weight[i] : 1.0;
            out_re[i - a0] = w * (cx[i] * cy[i] - sign_y * sx[i] * sy[i]);
            out_im[i - a0] = w * (sx[i] * cy[i] + sign_y * cx[i] * sy[i]);
        }
    };

    // Structure factors S(k) = sum_i q_i e^{i k.r_i}, threads over groups.
    std::vector<double> s_re(num_vectors()), s_im(num_vectors());
    // (A group costs ~n multiply-adds; hand-offs between threads cost tens of microseconds.)
    const int64_t groups_per_chunk = std::max<int64_t>(1, 65536 / n);
    runtime::parallel_for(static_cast<int64_t>(groups.size()), [&](int64_t g0, int64_t g1) {
        std::vector<double> xy_re(n), xy_im(n);
        for (int64_t g = g0; g < g1; ++g) {
            xy_phase(vectors_[groups[g].begin], 0, n, charges.data(), xy_re.data(), xy_im.data());
            for (int64_t v = groups[g].begin; v < groups[g].end; ++v) {
                const double* cz = cos_table[2].data() + std::abs(vectors_[v].kz) * n;
                const double* sz = sin_table[2].data() + std::abs(vectors_[v].kz) * n;
                const double sign_z = vectors_[v].kz < 0 ? -1 : 1;
                double re = 0, im = 0;
#pragma omp simd reduction(+ : re, im)
                for (int64_t i = 0; i < n; ++i) {
                    re += xy_re[i] * cz[i] - sign_z * xy_im[i] * sz[i];
                    im += xy_im[i] * cz[i] + sign_z * xy_re[i] * sz[i];
                }
                s_re[v] = re, s_im[v] = im;
            }
        }
    }, groups_per_chunk);
    for (int64_t v = 0; v < num_vectors(); ++v) {
        double e = vectors_[v].prefactor * (s_re[v] * s_re[v] + s_im[v] * s_im[v]);
        sums.energy += e;
        sums.virial += e * vectors_[v].virial_factor;
    }

    // F_i = sum_k 2 prefactor q_i k Im(conj(S(k)) e^{i k.r_i}), threads over atoms.
    const int64_t chunks = (n + kAtomChunk - 1) / kAtomChunk;
    runtime::parallel_for(chunks, [&](int64_t c0, int64_t c1) {
        double xy_re[kAtomChunk], xy_im[kAtomChunk], fx[kAtomChunk], fy[kAtomChunk], fz[kAtomChunk];
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t a0 = c * kAtomChunk, a1 = std::min(n, a0 + kAtomChunk), len = a1 - a0;
            std::fill(fx, fx + len, 0.0), std::fill(fy, fy + len, 0.0), std::fill(fz, fz + len, 0.0);
            for (const Group& g : groups) {
                xy_phase(vectors_[g.begin], a0, a1, nullptr, xy_re, xy_im);
                for (int64_t v = g.begin; v < g.end; ++v) {
                    const KVector& k = vectors_[v];
                    const double* cz = cos_table[2].data() + std::abs(k.kz) * n + a0;
                    const double* sz = sin_table[2].data() + std::abs(k.kz) * n + a0;
                    const double sign_z = k.kz < 0 ? -1 : 1;
                    const double a = 2 * k.prefactor * s_re[v], b = 2 * k.prefactor * s_im[v];
                    const double gx = 2 * std::numbers::pi * k.kx / box_.length.x,
                                 gy = 2 * std::numbers::pi * k.ky / box_.length.y,
                                 gz = 2 * std::numbers::pi * k.kz / box_.length.z;
#pragma omp simd
                    for (int64_t i = 0; i < len; ++i) {
                        double e_re = xy_re[i] * cz[i] - sign_z * xy_im[i] * sz[i];
                        double e_im = xy_im[i] * cz[i] + sign_z * xy_re[i] * sz[i];
                        double t = a * e_im - b * e_re;
                        fx[i] += t * gx, fy[i] += t * gy, fz[i] += t * gz;
                    }
                }
            }
            for (int64_t i = 0; i < len; ++i) forces[a0 + i] += Vec3{fx[i], fy[i], fz[i]} * charges[a0 + i];
        }
    });
    return sums;
}

}  // namespace ttlm::md
