#include "models/md/fft.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <stdexcept>

#include <fmt/core.h>

#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

// One Stockham stage: y[q + s (r p + u)] = w^{p u} sum_t x[q + s (p + t m)] e^{sign 2 pi i t u / r},
// where every index names a row of `batch` values; for a fixed (p, t) the rows q = 0..s-1 are
// contiguous, so the innermost loop runs over s * batch consecutive values.
template <int R>
void stage(const double* xr, const double* xi, double* yr, double* yi, int m, int s, int64_t batch, double sign,
           const double* tw_cos, const double* tw_sin) {
    const int64_t run = int64_t{s} * batch;
    for (int p = 0; p < m; ++p) {
        const double* ar[R];
        const double* ai[R];
        double* br[R];
        double* bi[R];
        for (int t = 0; t < R; ++t) {
            ar[t] = xr + (int64_t{s} * (p + t * m)) * batch;
            ai[t] = xi + (int64_t{s} * (p + t * m)) * batch;
            br[t] = yr + (int64_t{s} * (R * p + t)) * batch;
            bi[t] = yi + (int64_t{s} * (R * p + t)) * batch;
        }
        double wr[R], wi[R];
        wr[0] = 1, wi[0] = 0;
        for (int u = 1; u < R; ++u) {
            wr[u] = tw_cos[p * (R - 1) + u - 1];
            wi[u] = sign * tw_sin[p * (R - 1) + u - 1];
        }
        for (int64_t f = 0; f < run; ++f) {
            double outr[R], outi[R];
            if constexpr (R == 2) {
                outr[0] = ar[0][f] + ar[1][f], outi[0] = ai[0][f] + ai[1][f];
                outr[1] = ar[0][f] - ar[1][f], outi[1] = ai[0][f] - ai[1][f];
            } else if constexpr (R == 3) {
                constexpr double kSin60 = 0.86602540378443864676;
                double t1r = ar[1][f] + ar[2][f], t1i = ai[1][f] + ai[2][f];
                double t2r = ar[1][f] - ar[2][f], t2i = ai[1][f] - ai[2][f];
                double mr = ar[0][f] - 0.5 * t1r, mi = ai[0][f] - 0.5 * t1i;
                // i sign sin60 (t2)
                double jr = -sign * kSin60 * t2i, ji = sign * kSin60 * t2r;
                outr[0] = ar[0][f] + t1r, outi[0] = ai[0][f] + t1i;
                outr[1] = mr + jr, outi[1] = mi + ji;
                outr[2] = mr - jr, outi[2] = mi - ji;
            } else if constexpr (R == 4) {
                double s02r = ar[0][f] + ar[2][f], s02i = ai[0][f] + ai[2][f];
                double d02r = ar[0][f] - ar[2][f], d02i = ai[0][f] - ai[2][f];
                double s13r = ar[1][f] + ar[3][f], s13i = ai[1][f] + ai[3][f];
                double d13r = ar[1][f] - ar[3][f], d13i = ai[1][f] - ai[3][f];
                // i sign (d13)
                double jr = -sign * d13i, ji = sign * d13r;
                outr[0] = s02r + s13r, outi[0] = s02i + s13i;
                outr[1] = d02r + jr, outi[1] = d02i + ji;
                outr[2] = s02r - s13r, outi[2] = s02i - s13i;
                outr[3] = d02r - jr, outi[3] = d02i - ji;
            } else {  // R == 5
                const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;
                const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;
                double t1r = ar[1][f] + ar[4][f], t1i = ai[1][f] + ai[4][f];
                double t2r = ar[2][f] + ar[3][f], t2i = ai[2][f] + ai[3][f];
                double t3r = ar[1][f] - ar[4][f], t3i = ai[1][f] - ai[4][f];
                double t4r = ar[2][f] - ar[3][f], t4i = ai[2][f] - ai[3][f];
                double m1r = ar[0][f] + c1 * t1r + c2 * t2r, m1i = ai[0][f] + c1 * t1i + c2 * t2i;
                double m2r = ar[0][f] + c2 * t1r + c1 * t2r, m2i = ai[0][f] + c2 * t1i + c1 * t2i;
                // i sign (s1 t3 + s2 t4) and i sign (s2 t3 - s1 t4)
                double j1r = -sign * (s1 * t3i + s2 * t4i), j1i = sign * (s1 * t3r + s2 * t4r);
                double j2r = -sign * (s2 * t3i - s1 * t4i), j2i = sign * (s2 * t3r - s1 * t4r);
                outr[0] = ar[0][f] + t1r + t2r, outi[0] = ai[0][f] + t1i + t2i;
                outr[1] = m1r + j1r, outi[1] = m1i + j1i;
                outr[4] = m1r - j1r, outi[4] = m1i - j1i;
                outr[2] = m2r + j2r, outi[2] = m2i + j2i;
                outr[3] = m2r - j2r, outi[3] = m2i - j2i;
            }
            br[0][f] = outr[0], bi[0][f] = outi[0];
            for (int u = 1; u < R; ++u) {
                br[u][f] = outr[u] * wr[u] - outi[u] * wi[u];
                bi[u][f] = outr[u] * wi[u] + outi[u] * wr[u];
            }
        }
    }
}

}  // namespace

bool FftPlan::supported(int n) {
    if (n < 1) return false;
    for (int f : {2, 3, 5})
        while (n % f == 0) n /= f;
    return n == 1;
}

FftPlan::FftPlan(int n) : n_(n) {
    if (!supported(n))
        throw std::invalid_argument(fmt::format("FFT length {} is not a product of 2, 3 and 5", n));
    int len = n, stride = 1;
    while (len > 1) {
        int radix = len % 4 == 0 ? 4 : len % 2 == 0 ? 2 : len % 3 == 0 ? 3 : 5;
        Stage st{radix, len, stride, {}, {}};
        int m = len / radix;
        st.cos.resize(static_cast<size_t>(m) * (radix - 1));
        st.sin.resize(st.cos.size());
        for (int p = 0; p < m; ++p)
            for (int u = 1; u < radix; ++u) {
                double angle = 2 * std::numbers::pi * static_cast<double>(p * u) / len;
                st.cos[p * (radix - 1) + u - 1] = std::cos(angle);
                st.sin[p * (radix - 1) + u - 1] = std::sin(angle);
            }
        stages_.push_back(std::move(st));
        len = m;
        stride *= radix;
    }
}

void FftPlan::transform(double* re, double* im, int64_t stride, int64_t batch, int sign, double* scratch) const {
    if (n_ == 1) return;
    const int64_t size = int64_t{n_} * batch;
    double *xr = scratch, *xi = scratch + size, *yr = scratch + 2 * size, *yi = scratch + 3 * size;
    for (int64_t k = 0; k < n_; ++k) {
        std::memcpy(xr + k * batch, re + k * stride, batch * sizeof(double));
        std::memcpy(xi + k * batch, im + k * stride, batch * sizeof(double));
    }
    for (const Stage& st : stages_) {
        int m = st.len / st.radix;
        double sg = sign;
        switch (st.radix) {
            case 2: stage<2>(xr, xi, yr, yi, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            case 3: stage<3>(xr, xi, yr, yi, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            case 4: stage<4>(xr, xi, yr, yi, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            default: stage<5>(xr, xi, yr, yi, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
        }
        std::swap(xr, yr);
        std::swap(xi, yi);
    }
    for (int64_t k = 0; k < n_; ++k) {
        std::memcpy(re + k * stride, xr + k * batch, batch * sizeof(double));
        std::memcpy(im + k * stride, xi + k * batch, batch * sizeof(double));
    }
}

RealFft3d::RealFft3d(int nx, int ny, int nz)
    : nx_(nx), ny_(ny), nz_(nz), plan_x_(nx), plan_y_(ny), plan_z_(nz) {}

namespace {
// Columns of the x transform are cut into tiles of this many values: the tile's rows (nx of them) then
// fit in L2 together.
constexpr int64_t kColumnTile = 64;
}  // namespace

int64_t RealFft3d::prepare_scratch() {
    // Per worker: one z-major plane (real and imaginary) and the 1-D transforms' scratch.
    const int64_t fft_scratch = std::max({plan_z_.scratch_size(ny_), plan_y_.scratch_size(nz_half()),
                                          plan_x_.scratch_size(kColumnTile)});
    const int64_t plane = 2 * int64_t{nz_} * ny_;
    if (static_cast<int>(scratch_.size()) < runtime::num_threads()) scratch_.resize(runtime::num_threads());
    for (auto& s : scratch_) s.resize(plane + fft_scratch);
    return fft_scratch;
}

void RealFft3d::transform_x(double* re, double* im, int sign) {
    const int64_t columns = int64_t{ny_} * nz_half();
    const int64_t tiles = (columns + kColumnTile - 1) / kColumnTile;
    const int workers = static_cast<int>(std::clamp<int64_t>(tiles, 1, runtime::num_threads()));
    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        for (int64_t t = tiles * w / workers; t < tiles * (w + 1) / workers; ++t) {
            int64_t c0 = t * kColumnTile, width = std::min(kColumnTile, columns - c0);
            plan_x_.transform(re + c0, im + c0, columns, width, sign, buf.data());
        }
    });
}

void RealFft3d::forward(const double* grid, double* spec_re, double* spec_im) {
    const int nzh = nz_half();
    const int workers = std::clamp(runtime::num_threads(), 1, nx_);
    const int64_t fft_scratch = prepare_scratch();

    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        double* zr = buf.data() + fft_scratch;  // [z][y]
        double* zi = zr + int64_t{nz_} * ny_;
        for (int x = nx_ * w / workers; x < nx_ * (w + 1) / workers; ++x) {
            const double* plane = grid + int64_t{x} * ny_ * nz_;
            for (int y = 0; y < ny_; ++y)
                for (int z = 0; z < nz_; ++z) zr[int64_t{z} * ny_ + y] = plane[int64_t{y} * nz_ + z];
            std::fill(zi, zi + int64_t{nz_} * ny_, 0.0);
            plan_z_.transform(zr, zi, ny_, ny_, -1, buf.data());
            double* out_r = spec_re + int64_t{x} * ny_ * nzh;
            double* out_i = spec_im + int64_t{x} * ny_ * nzh;
            for (int y = 0; y < ny_; ++y)
                for (int z = 0; z < nzh; ++z) {
                    out_r[int64_t{y} * nzh + z] = zr[int64_t{z} * ny_ + y];
                    out_i[int64_t{y} * nzh + z] = zi[int64_t{z} * ny_ + y];
                }
            plan_y_.transform(out_r, out_i, nzh, nzh, -1, buf.data());
        }
    });
    transform_x(spec_re, spec_im, -1);
}

void RealFft3d::backward(double* spec_re, double* spec_im, double* grid) {
    const int nzh = nz_half();
    const int workers = std::clamp(runtime::num_threads(), 1, nx_);
    const int64_t fft_scratch = prepare_scratch();

    transform_x(spec_re, spec_im, +1);
    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        double* zr = buf.data() + fft_scratch;
        double* zi = zr + int64_t{nz_} * ny_;
        for (int x = nx_ * w / workers; x < nx_ * (w + 1) / workers; ++x) {
            double* in_r = spec_re + int64_t{x} * ny_ * nzh;
            double* in_i = spec_im + int64_t{x} * ny_ * nzh;
            plan_y_.transform(in_r, in_i, nzh, nzh, +1, buf.data());
            // Each z line is the spectrum of a real sequence: the upper half is the conjugate mirror.
            for (int y = 0; y < ny_; ++y) {
                for (int z = 0; z < nzh; ++z) {
                    zr[int64_t{z} * ny_ + y] = in_r[int64_t{y} * nzh + z];
                    zi[int64_t{z} * ny_ + y] = in_i[int64_t{y} * nzh + z];
                }
                for (int z = nzh; z < nz_; ++z) {
                    zr[int64_t{z} * ny_ + y] = in_r[int64_t{y} * nzh + (nz_ - z)];
                    zi[int64_t{z} * ny_ + y] = -in_i[int64_t{y} * nzh + (nz_ - z)];
                }
            }
            plan_z_.transform(zr, zi, ny_, ny_, +1, buf.data());
            double* plane = grid + int64_t{x} * ny_ * nz_;
            for (int y = 0; y < ny_; ++y)
                for (int z = 0; z < nz_; ++z) plane[int64_t{y} * nz_ + z] = zr[int64_t{z} * ny_ + y];
        }
    });
}

}  // namespace ttlm::md
