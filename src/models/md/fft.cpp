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
// where every index names a row of `batch` values (row k of x at x + k * in_stride, of y at
// y + k * out_stride); the innermost loop runs along a row.
template <int R>
void stage(const double* xr, const double* xi, int64_t in_stride, double* yr, double* yi, int64_t out_stride, int m,
           int s, int64_t batch, double sign, const double* tw_cos, const double* tw_sin) {
    for (int p = 0; p < m; ++p) {
        double wr[R], wi[R];
        wr[0] = 1, wi[0] = 0;
        for (int u = 1; u < R; ++u) {
            wr[u] = tw_cos[p * (R - 1) + u - 1];
            wi[u] = sign * tw_sin[p * (R - 1) + u - 1];
        }
        for (int q = 0; q < s; ++q) {
            const double* ar[R];
            const double* ai[R];
            double* br[R];
            double* bi[R];
            for (int t = 0; t < R; ++t) {
                ar[t] = xr + (q + int64_t{s} * (p + t * m)) * in_stride;
                ai[t] = xi + (q + int64_t{s} * (p + t * m)) * in_stride;
                br[t] = yr + (q + int64_t{s} * (R * p + t)) * out_stride;
                bi[t] = yi + (q + int64_t{s} * (R * p + t)) * out_stride;
            }
            for (int64_t f = 0; f < batch; ++f) {
                double outr[R], outi[R];
                if constexpr (R == 2) {
                    outr[0] = ar[0][f] + ar[1][f], outi[0] = ai[0][f] + ai[1][f];
                    outr[1] = ar[0][f] - ar[1][f], outi[1] = ai[0][f] - ai[1][f];
                } else if constexpr (R == 3) {
                    constexpr double kSin60 = 0.86602540378443864676;
                    double t1r = ar[1][f] + ar[2][f], t1i = ai[1][f] + ai[2][f];
                    double t2r = ar[1][f] - ar[2][f], t2i = ai[1][f] - ai[2][f];
                    double mr = ar[0][f] - 0.5 * t1r, mi = ai[0][f] - 0.5 * t1i;
                    double jr = -sign * kSin60 * t2i, ji = sign * kSin60 * t2r;  // i sign sin60 t2
                    outr[0] = ar[0][f] + t1r, outi[0] = ai[0][f] + t1i;
                    outr[1] = mr + jr, outi[1] = mi + ji;
                    outr[2] = mr - jr, outi[2] = mi - ji;
                } else if constexpr (R == 4) {
                    double s02r = ar[0][f] + ar[2][f], s02i = ai[0][f] + ai[2][f];
                    double d02r = ar[0][f] - ar[2][f], d02i = ai[0][f] - ai[2][f];
                    double s13r = ar[1][f] + ar[3][f], s13i = ai[1][f] + ai[3][f];
                    double d13r = ar[1][f] - ar[3][f], d13i = ai[1][f] - ai[3][f];
                    double jr = -sign * d13i, ji = sign * d13r;  // i sign d13
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
    // Stockham is out of place: stages alternate between two scratch buffers, the first reading the
    // caller's rows and the last writing them back (a single stage goes through scratch and is copied).
    const int64_t size = int64_t{n_} * batch;
    double* buffers[2][2] = {{scratch, scratch + size}, {scratch + 2 * size, scratch + 3 * size}};
    const double* in_r = re;
    const double* in_i = im;
    int64_t in_stride = stride;
    const size_t last = stages_.size() - 1;
    for (size_t k = 0; k < stages_.size(); ++k) {
        const Stage& st = stages_[k];
        const bool to_caller = k == last && k > 0;
        double* out_r = to_caller ? re : buffers[k % 2][0];
        double* out_i = to_caller ? im : buffers[k % 2][1];
        const int64_t out_stride = to_caller ? stride : batch;
        const int m = st.len / st.radix;
        const double sg = sign;
        switch (st.radix) {
            case 2: stage<2>(in_r, in_i, in_stride, out_r, out_i, out_stride, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            case 3: stage<3>(in_r, in_i, in_stride, out_r, out_i, out_stride, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            case 4: stage<4>(in_r, in_i, in_stride, out_r, out_i, out_stride, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
            default: stage<5>(in_r, in_i, in_stride, out_r, out_i, out_stride, m, st.stride, batch, sg, st.cos.data(), st.sin.data()); break;
        }
        in_r = out_r, in_i = out_i, in_stride = out_stride;
    }
    if (stages_.size() == 1)
        for (int64_t k = 0; k < n_; ++k) {
            std::memcpy(re + k * stride, in_r + k * batch, batch * sizeof(double));
            std::memcpy(im + k * stride, in_i + k * batch, batch * sizeof(double));
        }
}

RealFft3d::RealFft3d(int nx, int ny, int nz)
    : nx_(nx), ny_(ny), nz_(nz), plan_x_(nx), plan_y_(ny), plan_z_(nz) {}

namespace {
// Columns of the x transform are cut into tiles of this many values: the tile's rows (nx of them) then
// fit in L2 together.
constexpr int64_t kColumnTile = 64;
// Handing work to another thread costs tens of microseconds: small grids stay on one.
constexpr int64_t kPointsPerWorker = 32768;
int workers_for(int64_t points, int64_t items) {
    return static_cast<int>(std::clamp<int64_t>(std::min(points / kPointsPerWorker, items), 1, runtime::num_threads()));
}
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
    const int workers = workers_for(int64_t{nx_} * columns, tiles);
    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        for (int64_t t = tiles * w / workers; t < tiles * (w + 1) / workers; ++t) {
            int64_t c0 = t * kColumnTile, width = std::min(kColumnTile, columns - c0);
            plan_x_.transform(re + c0, im + c0, columns, width, sign, buf.data());
        }
    });
}

// The z transforms are of real lines: two planes go through one complex transform, the first as the
// real part and the second as the imaginary part, and are separated by the spectra's symmetry
// (A(m) = (X(m) + conj X(n - m)) / 2, B(m) = (X(m) - conj X(n - m)) / 2i).
void RealFft3d::forward(const double* grid, double* spec_re, double* spec_im, int64_t row_stride) {
    if (row_stride == 0) row_stride = nz_;
    const int nzh = nz_half();
    const int pairs = (nx_ + 1) / 2;
    const int workers = workers_for(int64_t{nx_} * ny_ * nz_, pairs);
    const int64_t fft_scratch = prepare_scratch();
    const int64_t plane_size = int64_t{ny_} * nz_, grid_plane = int64_t{ny_} * row_stride;
    const int64_t spec_plane = int64_t{ny_} * nzh;
    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        double* zr = buf.data() + fft_scratch;  // [z][y]
        double* zi = zr + plane_size;
        for (int pair = pairs * w / workers; pair < pairs * (w + 1) / workers; ++pair) {
            const int x = 2 * pair;
            const bool two = x + 1 < nx_;
            const double* a = grid + x * grid_plane;
            const double* b = two ? a + grid_plane : nullptr;
            for (int y = 0; y < ny_; ++y)
                for (int z = 0; z < nz_; ++z) {
                    zr[int64_t{z} * ny_ + y] = a[y * row_stride + z];
                    zi[int64_t{z} * ny_ + y] = two ? b[y * row_stride + z] : 0.0;
                }
            plan_z_.transform(zr, zi, ny_, ny_, -1, buf.data());
            double *ar = spec_re + x * spec_plane, *ai = spec_im + x * spec_plane;
            for (int y = 0; y < ny_; ++y)
                for (int m = 0; m < nzh; ++m) {
                    const int64_t at = int64_t{m} * ny_ + y, mirror = int64_t{(nz_ - m) % nz_} * ny_ + y;
                    const double xr = zr[at], xi = zi[at], yr = zr[mirror], yi = zi[mirror];
                    ar[int64_t{y} * nzh + m] = 0.5 * (xr + yr);
                    ai[int64_t{y} * nzh + m] = 0.5 * (xi - yi);
                    if (two) {
                        ar[spec_plane + int64_t{y} * nzh + m] = 0.5 * (xi + yi);
                        ai[spec_plane + int64_t{y} * nzh + m] = 0.5 * (yr - xr);
                    }
                }
            for (int k = 0; k < (two ? 2 : 1); ++k)
                plan_y_.transform(ar + k * spec_plane, ai + k * spec_plane, nzh, nzh, -1, buf.data());
        }
    });
    transform_x(spec_re, spec_im, -1);
}

void RealFft3d::backward(double* spec_re, double* spec_im, double* grid, int64_t row_stride) {
    if (row_stride == 0) row_stride = nz_;
    const int nzh = nz_half();
    const int pairs = (nx_ + 1) / 2;
    const int workers = workers_for(int64_t{nx_} * ny_ * nz_, pairs);
    const int64_t fft_scratch = prepare_scratch();
    const int64_t plane_size = int64_t{ny_} * nz_, grid_plane = int64_t{ny_} * row_stride;
    const int64_t spec_plane = int64_t{ny_} * nzh;
    transform_x(spec_re, spec_im, +1);
    runtime::run_on_workers(workers, [&](int w) {
        std::vector<double>& buf = scratch_[w];
        double* zr = buf.data() + fft_scratch;
        double* zi = zr + plane_size;
        for (int pair = pairs * w / workers; pair < pairs * (w + 1) / workers; ++pair) {
            const int x = 2 * pair;
            const bool two = x + 1 < nx_;
            double *ar = spec_re + x * spec_plane, *ai = spec_im + x * spec_plane;
            for (int k = 0; k < (two ? 2 : 1); ++k)
                plan_y_.transform(ar + k * spec_plane, ai + k * spec_plane, nzh, nzh, +1, buf.data());
            // C = A + i B over the whole line; the upper halves of A and B are the conjugate mirrors.
            for (int y = 0; y < ny_; ++y)
                for (int m = 0; m < nz_; ++m) {
                    const bool lower = m < nzh;
                    const int64_t at = int64_t{y} * nzh + (lower ? m : nz_ - m);
                    const double conj = lower ? 1.0 : -1.0;
                    const double a_re = ar[at], a_im = conj * ai[at];
                    const double b_re = two ? ar[spec_plane + at] : 0.0, b_im = two ? conj * ai[spec_plane + at] : 0.0;
                    zr[int64_t{m} * ny_ + y] = a_re - b_im;
                    zi[int64_t{m} * ny_ + y] = a_im + b_re;
                }
            plan_z_.transform(zr, zi, ny_, ny_, +1, buf.data());
            double* a = grid + x * grid_plane;
            for (int y = 0; y < ny_; ++y)
                for (int z = 0; z < nz_; ++z) {
                    a[y * row_stride + z] = zr[int64_t{z} * ny_ + y];
                    if (two) a[grid_plane + y * row_stride + z] = zi[int64_t{z} * ny_ + y];
                }
        }
    });
}

}  // namespace ttlm::md
