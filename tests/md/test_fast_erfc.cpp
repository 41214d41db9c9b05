// fast_erfc against the C library's erfc over the whole range the pair kernel can see.
#include <gtest/gtest.h>

#include <cmath>

#include "models/md/fast_erfc.hpp"

namespace ttlm::md {
namespace {

TEST(FastErfc, MatchesStdErfcToTwelveDigits) {
    double worst = 0, worst_x = 0;
    for (int k = 0; k <= 200000; ++k) {
        double x = k * 1e-4;  // [0, 20]: alpha r far beyond any cutoff
        double ref = std::erfc(x);
        if (ref < 1e-300) break;
        double err = std::abs(fast_erfc(x) / ref - 1);
        if (err > worst) worst = err, worst_x = x;
    }
    EXPECT_LT(worst, 2e-12) << "at x = " << worst_x;
}

TEST(FastErfc, ScaledFormIsErfcTimesGaussianInverse) {
    for (double x : {0.0, 0.1, 1.0, 2.5, 3.0, 5.0})
        EXPECT_NEAR(scaled_erfc(x), std::erfc(x) * std::exp(x * x), 2e-12 * std::erfc(x) * std::exp(x * x)) << x;
    EXPECT_NEAR(fast_erfc(0.0), 1.0, 1e-12);
}

}  // namespace
}  // namespace ttlm::md
