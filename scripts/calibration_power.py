#!/usr/bin/env python3
"""The power of svdiag's test against the null "a Gaussian matrix of the same shape": the fraction
of matrices with planted structure of decreasing strength that the test tells from random (at the
default level 0.01), jointly (`null_p`) and statistic by statistic. Prints a Markdown table
(docs/calibration.md holds its output) with the versions and seeds it used.

    python scripts/calibration_power.py            # needs the svdiag package (pip install ./python)

Families, each on 256 × 128 matrices (c = M/N = 0.5), 200 matrices per strength:
- spike: G/√N + θ·u·vᵀ (unit u, v, Gaussian directions), θ in units of the Baik–Ben Arous–Péché
  threshold c^{1/4}, below which a spike leaves no outlier;
- bulk: G·D/√N with column scales D = diag(1 + ε·t_j), t_j evenly spaced in [−1, 1]: a slight
  deformation of the bulk, no spike;
- tail: i.i.d. Student-t entries with ν degrees of freedom (standardized): heavy tails.
"""

from __future__ import annotations

import math
import platform
import sys

import numpy as np

import svdiag

N, M, PER, SEED, LEVEL = 256, 128, 200, 20261130, 0.01
C = M / N


def unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.standard_normal(k)
    return v / np.linalg.norm(v)


def spike(rng, theta):
    return rng.standard_normal((N, M)) / math.sqrt(N) + theta * C**0.25 * np.outer(unit(rng, N), unit(rng, M))


def bulk(rng, eps):
    d = 1 + eps * np.linspace(-1, 1, M)
    return rng.standard_normal((N, M)) * d / math.sqrt(N)


def tail(rng, nu):
    if math.isinf(nu):
        return rng.standard_normal((N, M))
    return rng.standard_t(nu, (N, M)) / math.sqrt(nu / (nu - 2))


FAMILIES = {
    "spike (θ / BBP threshold)": (spike, [0.5, 0.8, 1.0, 1.2, 1.5, 2.0]),
    "bulk deformation (ε)": (bulk, [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]),
    "heavy tail (Student-t ν)": (tail, [math.inf, 30.0, 10.0, 5.0, 3.0]),
}


def main() -> None:
    rng = np.random.default_rng(SEED)
    print(f"svdiag {svdiag.__version__}, numpy {np.__version__}, Python {platform.python_version()}; "
          f"seed {SEED}; {PER} matrices of {N} × {M} per row; level {LEVEL}\n")
    print("| family | strength | joint `null_p` ≤ 0.01 | `mp_ks_p` ≤ 0.01 | `kl_excess_p` ≤ 0.01 | `outliers_above_p` ≤ 0.01 | `outliers_below_p` ≤ 0.01 | isotropy fired |")
    print("|---|---|---|---|---|---|---|---|")
    for family, (make, strengths) in FAMILIES.items():
        for s in strengths:
            weights = {f"m{i}": make(rng, s) for i in range(PER)}
            doc = svdiag.run(weights, progress=False, device=None).document
            rows = doc["matrices"]
            iso = {d["subject"] for d in doc["diagnoses"]["matrices"] if d["kind"] == "isotropy"}
            frac = lambda f: sum(1 for r in rows if r[f] is not None and r[f] <= LEVEL) / len(rows)  # noqa: E731
            print(f"| {family} | {s:g} | {frac('null_p'):.3f} | {frac('mp_ks_p'):.3f} | {frac('kl_excess_p'):.3f} | "
                  f"{frac('outliers_above_p'):.3f} | {frac('outliers_below_p'):.3f} | {len(iso) / len(rows):.3f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
