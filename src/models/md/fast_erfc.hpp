// erfc(x) for x >= 0 to ~1e-12 relative, as exp(-x^2) t P(t) with t = 1 / (1 + p x): one division,
// one exp and a degree-16 polynomial, no branches, so the pair kernel evaluates it in SIMD lanes
// (std::erfc is ~20x slower and scalar). The coefficients come from scripts/reference/md/fit_erfc.py
// (Chebyshev interpolation in high precision); tests/md checks the result against std::erfc.
#pragma once

#include <cmath>

namespace ttlm::md {

inline constexpr double kErfcP = 0.3275911;
// P(t), lowest power first.
inline constexpr double kErfcPoly[17] = {
    0.18482348628305337,   0.18482348623259343, 0.17490623814584186,  0.15507162103743444,
    0.12691768539464099,   0.093629541065465963, 0.05950116359123625, 0.030575477833687619,
    -0.00053953010058556828, 0.026567135089967581, -0.10205643438590938, 0.18299133234590736,
    -0.26855712245766317,  0.25890754068056987, -0.14683389181561904, 0.045152868010973388,
    -0.0058805969519047851,
};

// erfc(x) exp(x^2), for x >= 0.
inline double scaled_erfc(double x) {
    double t = 1 / (1 + kErfcP * x);
    double acc = kErfcPoly[16];
    for (int k = 15; k >= 0; --k) acc = acc * t + kErfcPoly[k];
    return t * acc;
}

inline double fast_erfc(double x) { return scaled_erfc(x) * std::exp(-x * x); }

}  // namespace ttlm::md
