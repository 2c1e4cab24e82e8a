#!/usr/bin/env python3
"""Fits the polynomial constants of segq's vectorized exp and exact-erf GELU (src/kernels/vec_math_avx2.h).

Run with the tools venv (numpy + mpmath, which torch's sympy dependency brings):
  .venv-tools/bin/python tools/fit_gelu_coeffs.py
Weighted least squares on Chebyshev nodes against 40-digit mpmath values (near-minimax in relative
error). Prints the constants and the max relative approximation error of each fit; the float
evaluation error is measured by tests/kernels (GELU and exp against double-precision references).

GELU(x) = x * Phi(x), Phi(x) = 0.5 * erfc(-x / sqrt(2)), evaluated in two ranges:
  |x| <= 1:  Phi(x) = 0.5 + 0.5 * x * A(x^2)                  A(s) ~ erf(sqrt(s/2)) / sqrt(s)
  |x| >  1:  Q(|x|) = 0.5 * exp(-x^2/2) * B(v) * r                 Q = 1 - Phi(|x|),
             r = 1 / (|x| + 4), v = (|x| - 4) r, B(v) ~ erfc(|x|/sqrt2) * exp(x^2/2) * (|x| + 4)
             (one division serves both v and the 1/(|x|+4) factor)
exp(r) on |r| <= ln(2)/2: E(r) = 1 + r + r^2 * C(r).
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
N = 800


def cheb_nodes(lo, hi, n=N):
    return np.array([lo + (hi - lo) * (0.5 - 0.5 * np.cos(np.pi * (i + 0.5) / n)) for i in range(n)])


def fit(xs, target, basis, deg):
    ys = np.array([float(target(x)) for x in xs])
    bs = np.array([basis(x) for x in xs])
    V = np.vstack([bs**k for k in range(deg + 1)]).T
    c, *_ = np.linalg.lstsq(V / ys[:, None], np.ones(len(xs)), rcond=None)
    return c, float(np.max(np.abs(V @ c / ys - 1)))


def main():
    xs = np.maximum(cheb_nodes(0.0, 1.0), 1e-4)
    a, err_a = fit(xs, lambda x: mp.erf(mp.mpf(x) / mp.sqrt(2)) / x, lambda x: x * x, 5)
    print(f"A (|x|<=1, in x^2), max rel err {err_a:.3g}:")
    print(",\n".join(f"  {v:.9e}f" for v in a))

    def b_target(x):
        x = mp.mpf(x)
        return mp.erfc(x / mp.sqrt(2)) * mp.exp(x * x / 2) * (x + 4)

    xs = cheb_nodes(1.0, 13.2)
    b, err_b = fit(xs, b_target, lambda x: (x - 4.0) / (x + 4.0), 9)
    print(f"B (1<|x|<=13.2, in v), max rel err {err_b:.3g}:")
    print(",\n".join(f"  {v:.9e}f" for v in b))

    ln2h = float(mp.log(2)) / 2
    rs = cheb_nodes(-ln2h, ln2h)
    rs = rs[np.abs(rs) > 1e-6]
    c, err_c = fit(rs, lambda r: (mp.exp(mp.mpf(r)) - 1 - mp.mpf(r)) / mp.mpf(r) ** 2,
                   lambda r: r, 5)
    print(f"C (exp, in r), max rel err of C {err_c:.3g}:")
    print(",\n".join(f"  {v:.9e}f" for v in c))


if __name__ == "__main__":
    main()
