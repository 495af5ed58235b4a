#!/usr/bin/env python3
"""Reference values for `svdiag repr` (docs/metrics.md §10), from NumPy f64 directly and from the
vendi-score package.

  python3 generate.py        (needs numpy, scipy, scikit-learn and vendi-score==0.0.3)

Writes seeded representation matrices (rows = samples) as .npy files and reference.json with, per
file and Rényi order α: von Neumann and matrix Rényi entropy of ZZᵀ/tr (eigenvalues of the f64 Gram
matrix by numpy.linalg.eigvalsh), the Vendi score (vendi_score.vendi.score_dual, and NumPy's own
eigenvalues of the unit-row cosine kernel / N as a cross-check), RankMe (exp of the entropy of
σ/Σσ, np.linalg.svd) and the top-10 truncated entropy; with versions and the seed.
"""
import json
import math
import os
import platform

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 6062026
TOP_K = 10
ALPHAS = [0.5, 2.0, "inf"]


def matrices(rng):
    scales = np.geomspace(3.0, 0.05, 48)
    low = rng.normal(size=(150, 5)) @ rng.normal(size=(5, 80)) + 0.01 * rng.normal(size=(150, 80))
    return {
        "z_tall.npy": (rng.normal(size=(300, 48)) * scales).astype(np.float32),
        "z_wide.npy": rng.normal(size=(40, 200)).astype(np.float64),
        "z_lowrank.npy": low.astype(np.float32),
    }


def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def renyi(p, a):
    p = p[p > 0]
    if a == "inf":
        return float(-np.log(p.max()))
    return float(np.log((p ** a).sum()) / (1.0 - a))


def main():
    import sklearn
    import vendi_score
    from vendi_score import vendi
    rng = np.random.default_rng(SEED)
    out = {}
    for name, z in matrices(rng).items():
        np.save(os.path.join(HERE, name), z)
        z64 = z.astype(np.float64)
        g = z64.T @ z64 if z64.shape[0] >= z64.shape[1] else z64 @ z64.T
        lam = np.clip(np.linalg.eigvalsh(g), 0, None)[::-1]
        rho = lam / lam.sum()
        unit = z64 / np.linalg.norm(z64, axis=1, keepdims=True)
        gu = unit.T @ unit if unit.shape[0] >= unit.shape[1] else unit @ unit.T
        lu = np.clip(np.linalg.eigvalsh(gu), 0, None)
        lu = lu / lu.sum()
        s = np.linalg.svd(z64, compute_uv=False)
        p = s / s.sum()
        out[name] = {
            "shape": list(z.shape),
            "von_neumann_entropy": entropy(rho),
            "matrix_renyi_entropy": {str(a): renyi(rho, a) for a in ALPHAS},
            "vendi_score": float(vendi.score_dual(z64, q=1, normalize=True)),
            "vendi_score_numpy": math.exp(entropy(lu)),
            "rankme": math.exp(entropy(p)),
            "truncated_entropy": entropy(rho[:TOP_K]),
        }
    doc = {
        "generator": "tests/data/representation/generate.py",
        "seed": SEED,
        "top_k": TOP_K,
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version(),
                     "vendi-score": "0.0.3"},
        "matrices": out,
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
