#!/usr/bin/env python3
"""SciPy reference values for svdiag's special functions and random-simplex entropy moments
(docs/metrics.md §3), written to simplex.json.

  python3 tests/data/reference/simplex.py

Exact Shannon moments use SciPy's digamma/polygamma in the Dirichlet formulas; the Rényi values are
Su's (2026) mean-field approximations computed with SciPy's gammaln; a NumPy Monte Carlo (seeded) gives
an independent check of the exact variance.
"""
import json
import math
import os

import numpy as np
import scipy
from scipy.special import digamma, gammaln, polygamma

HERE = os.path.dirname(os.path.abspath(__file__))


def shannon_moments(n):
    mean = digamma(n + 1) - digamma(2)
    t = lambda x: polygamma(1, x)
    second = (n - 1) / (n + 1) * ((digamma(2) - digamma(n + 2)) ** 2 - t(n + 2)) \
        + 2 / (n + 1) * ((digamma(3) - digamma(n + 2)) ** 2 + t(3) - t(n + 2))
    return float(mean), float(second - mean ** 2)


def renyi_approx(n, q):
    mean = math.log(n) - gammaln(q + 1) / (q - 1)
    var = (math.exp(gammaln(2 * q + 1) - 2 * gammaln(q + 1)) / (q - 1) ** 2 - (q * q + 1) / (q - 1) ** 2) / n
    return float(mean), float(var)


def main():
    xs = [0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 7.25, 10.0, 33.3, 1e3, 1e6]
    rng = np.random.default_rng(7)
    mc = {}
    for n in (3, 10, 50):
        e = rng.exponential(size=(200000, n))
        p = e / e.sum(axis=1, keepdims=True)
        h = -(p * np.log(p)).sum(axis=1)
        mc[str(n)] = {"mean": float(h.mean()), "var": float(h.var(ddof=1)), "samples": 200000}
    out = {
        "generator": "tests/data/reference/simplex.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "digamma": {str(x): float(digamma(x)) for x in xs},
        "trigamma": {str(x): float(polygamma(1, x)) for x in xs},
        "gammaln": {str(x): float(gammaln(x)) for x in xs},
        "shannon": {str(n): shannon_moments(n) for n in (1, 2, 3, 5, 10, 100, 1000, 100000)},
        "renyi": {f"{n}/{q}": renyi_approx(n, q) for n in (10, 1000) for q in (0.5, 2.0, 3.0)},
        "monte_carlo_numpy_seed7": mc,
    }
    with open(os.path.join(HERE, "simplex.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
