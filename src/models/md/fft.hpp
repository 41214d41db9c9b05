// Fast Fourier transforms for PME, in double precision.
//
// Written here because no permissively licensed FFT with double precision is in Debian's archive as a
// library CMake can find (FFTW is GPL; kissfft is packaged for float only; pocketfft is not packaged).
// Lengths are products of 2, 3 and 5, which is all PME needs: the grid size is ours to choose.
//
// The 1-D transform is a Stockham autosort FFT (radix 4, 2, 3, 5) over a batch of sequences stored as
// rows: element k of every sequence is one contiguous row, so each butterfly is a loop over the batch
// that the compiler vectorises. Complex numbers are split into separate real and imaginary arrays.
#pragma once

#include <cstdint>
#include <vector>

namespace ttlm::md {

class FftPlan {
   public:
    explicit FftPlan(int n);
    static bool supported(int n);  // n >= 1 with no prime factor other than 2, 3, 5
    int size() const { return n_; }

    // Transforms `batch` sequences in place: element k of sequence b is re[k * stride + b] (and im).
    // sign -1 is the forward transform, X_m = sum_k x_k e^{-2 pi i m k / n}; +1 the unnormalised inverse.
    // `scratch` must hold scratch_size(batch) doubles.
    void transform(double* re, double* im, int64_t stride, int64_t batch, int sign, double* scratch) const;
    int64_t scratch_size(int64_t batch) const { return 4 * int64_t{n_} * batch; }

   private:
    struct Stage {
        int radix;
        int len;     // sub-transform length before the stage
        int stride;  // product of the radices of the earlier stages
        std::vector<double> cos, sin;  // twiddles e^{-2 pi i p u / len}: [p][u - 1], p < len / radix
    };
    int n_;
    std::vector<Stage> stages_;
};

// Real-to-complex 3-D FFT of an nx x ny x nz grid (z fastest) to its half spectrum
// nx x ny x (nz / 2 + 1), and back. Threads share the work by planes and by columns.
class RealFft3d {
   public:
    RealFft3d(int nx, int ny, int nz);
    int nx() const { return nx_; }
    int ny() const { return ny_; }
    int nz() const { return nz_; }
    int nz_half() const { return nz_ / 2 + 1; }
    int64_t spectrum_size() const { return int64_t{nx_} * ny_ * nz_half(); }

    // spectrum[(x * ny + y) * nz_half + z] = sum over the grid of g e^{-2 pi i (x m_x / nx + ...)}, for
    // a grid stored as grid[(x * ny + y) * row_stride + z] (row_stride >= nz; 0 means nz).
    void forward(const double* grid, double* spectrum_re, double* spectrum_im, int64_t row_stride = 0);
    // The unnormalised inverse of forward (forward then backward multiplies by nx ny nz). Overwrites
    // the spectrum; the grid's padding beyond nz in each row is left alone.
    void backward(double* spectrum_re, double* spectrum_im, double* grid, int64_t row_stride = 0);

   private:
    void transform_x(double* re, double* im, int sign);
    int64_t prepare_scratch();  // sizes the per-worker scratch; returns the 1-D transforms' share

    int nx_, ny_, nz_;
    FftPlan plan_x_, plan_y_, plan_z_;
    std::vector<std::vector<double>> scratch_;  // per worker
};

}  // namespace ttlm::md
