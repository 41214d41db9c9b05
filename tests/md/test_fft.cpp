// The FFTs against a direct O(n^2) DFT in long double.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <vector>

#include "models/md/fft.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::md {
namespace {

using cld = std::complex<long double>;

std::vector<cld> direct_dft(const std::vector<cld>& x, int sign) {
    const size_t n = x.size();
    std::vector<cld> out(n);
    for (size_t m = 0; m < n; ++m)
        for (size_t k = 0; k < n; ++k)
            out[m] += x[k] * std::polar(1.0L, sign * 2 * std::numbers::pi_v<long double> * ((m * k) % n) / n);
    return out;
}

TEST(Fft, SupportedLengths) {
    EXPECT_TRUE(FftPlan::supported(1));
    EXPECT_TRUE(FftPlan::supported(72));
    EXPECT_TRUE(FftPlan::supported(2 * 3 * 5 * 5));
    EXPECT_FALSE(FftPlan::supported(7));
    EXPECT_FALSE(FftPlan::supported(0));
    EXPECT_THROW(FftPlan(14), std::invalid_argument);
}

TEST(Fft, OneDimensionalBatchesMatchDirectDft) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<double> u(-1, 1);
    for (int n : {1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 25, 27, 30, 32, 45, 60, 64, 72, 81, 90, 100}) {
        const int64_t batch = 3, stride = 5;  // rows longer than the batch, as in the 3-D transform
        FftPlan plan(n);
        std::vector<double> re(n * stride, 7.0), im(n * stride, 7.0), scratch(plan.scratch_size(batch));
        std::vector<std::vector<cld>> input(batch, std::vector<cld>(n));
        for (int64_t b = 0; b < batch; ++b)
            for (int k = 0; k < n; ++k) {
                input[b][k] = {u(rng), u(rng)};
                re[k * stride + b] = static_cast<double>(input[b][k].real());
                im[k * stride + b] = static_cast<double>(input[b][k].imag());
            }
        for (int sign : {-1, +1}) {
            std::vector<double> r = re, i = im;
            plan.transform(r.data(), i.data(), stride, batch, sign, scratch.data());
            for (int64_t b = 0; b < batch; ++b) {
                auto ref = direct_dft(input[b], sign);
                for (int m = 0; m < n; ++m) {
                    EXPECT_NEAR(r[m * stride + b], static_cast<double>(ref[m].real()), 1e-13 * n) << n << " " << m;
                    EXPECT_NEAR(i[m * stride + b], static_cast<double>(ref[m].imag()), 1e-13 * n) << n << " " << m;
                }
            }
            for (int k = 0; k < n; ++k)  // the columns outside the batch are untouched
                for (int64_t b = batch; b < stride; ++b) EXPECT_EQ(r[k * stride + b], 7.0);
        }
    }
}

TEST(Fft, RealThreeDimensionalMatchesDirectDftAndInverts) {
    std::mt19937 rng(2);
    std::uniform_real_distribution<double> u(-1, 1);
    for (auto [nx, ny, nz] : {std::array{4, 6, 8}, std::array{5, 3, 9}, std::array{6, 10, 5}, std::array{8, 8, 8}}) {
        for (int threads : {1, 2}) {
            runtime::set_num_threads(threads);
            RealFft3d fft(nx, ny, nz);
            std::vector<double> grid(nx * ny * nz);
            for (auto& g : grid) g = u(rng);
            std::vector<double> re(fft.spectrum_size()), im(fft.spectrum_size());
            fft.forward(grid.data(), re.data(), im.data());
            for (int mx = 0; mx < nx; ++mx)
                for (int my = 0; my < ny; ++my)
                    for (int mz = 0; mz < fft.nz_half(); ++mz) {
                        cld ref = 0;
                        for (int x = 0; x < nx; ++x)
                            for (int y = 0; y < ny; ++y)
                                for (int z = 0; z < nz; ++z) {
                                    long double phase = -2 * std::numbers::pi_v<long double> *
                                                        ((long double)(mx * x) / nx + (long double)(my * y) / ny +
                                                         (long double)(mz * z) / nz);
                                    ref += (long double)grid[(x * ny + y) * nz + z] * std::polar(1.0L, phase);
                                }
                        int64_t i = (int64_t{mx} * ny + my) * fft.nz_half() + mz;
                        EXPECT_NEAR(re[i], static_cast<double>(ref.real()), 1e-12);
                        EXPECT_NEAR(im[i], static_cast<double>(ref.imag()), 1e-12);
                    }
            std::vector<double> back(grid.size());
            fft.backward(re.data(), im.data(), back.data());
            for (size_t k = 0; k < grid.size(); ++k) EXPECT_NEAR(back[k] / (nx * ny * nz), grid[k], 1e-14);
        }
    }
    runtime::set_num_threads(0);
}

}  // namespace
}  // namespace ttlm::md
