#!/usr/bin/python3
"""Coefficients of ttlm's fast erfc (src/models/md/fast_erfc.hpp).

erfc(x) = exp(-x^2) * t * P(t), t = 1 / (1 + p x), p = 0.3275911 (the Abramowitz-Stegun 7.1.26 choice),
with P a degree-16 polynomial: the Chebyshev interpolant (in high precision, mpmath) of
erfc(x) exp(x^2) / t over t in (0, 1], i.e. over all x >= 0, converted to powers of t.

Run with Debian's python3 (mpmath comes with python3-sympy / python3-torch):
    /usr/bin/python3 scripts/reference/md/fit_erfc.py
It prints the C++ coefficient table and the worst relative error over x in [0, 26].
"""
import math

import mpmath as mp

mp.mp.dps = 40
P = mp.mpf("0.3275911")
DEGREE = 16
NODES = 400


def h_of_t(t):
    x = (1 / t - 1) / P
    return mp.erfc(x) * mp.exp(x * x) / t


def chebyshev_coefficients():
    nodes = [(mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) + 1) / 2 for k in range(NODES)]
    values = [h_of_t(t) for t in nodes]
    coeffs = []
    for j in range(DEGREE + 1):
        s = mp.fsum(values[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES))
        coeffs.append(s * 2 / NODES)
    coeffs[0] /= 2
    return coeffs


def to_powers_of_t(cheb):
    # T_0 = 1, T_1 = u, T_j = 2u T_{j-1} - T_{j-2}, with u = 2t - 1; polynomials as lists of powers of t.
    basis = [[mp.mpf(1)], [mp.mpf(-1), mp.mpf(2)]]
    for _ in range(2, DEGREE + 1):
        prev, prev2 = basis[-1], basis[-2]
        nxt = [mp.mpf(0)] * (len(prev) + 1)
        for i, v in enumerate(prev):
            nxt[i + 1] += 4 * v
            nxt[i] -= 2 * v
        for i, v in enumerate(prev2):
            nxt[i] -= v
        basis.append(nxt)
    powers = [mp.mpf(0)] * (DEGREE + 1)
    for j, c in enumerate(cheb):
        for i, v in enumerate(basis[j]):
            powers[i] += c * v
    return [float(v) for v in powers]


def fast_erfc(x, coeffs):
    t = 1 / (1 + float(P) * x)
    acc = 0.0
    for c in reversed(coeffs):
        acc = acc * t + c
    return t * acc * math.exp(-x * x)


def main():
    coeffs = to_powers_of_t(chebyshev_coefficients())
    worst = 0.0
    for k in range(26001):
        x = k * 0.001
        worst = max(worst, abs(fast_erfc(x, coeffs) / float(mp.erfc(x)) - 1))
    print("// P(t), lowest power first")
    print("inline constexpr double kErfcPoly[%d] = {" % (DEGREE + 1))
    for c in coeffs:
        print("    %.17g," % c)
    print("};")
    print("// worst relative error over x in [0, 26]: %.3g" % worst)


if __name__ == "__main__":
    main()
