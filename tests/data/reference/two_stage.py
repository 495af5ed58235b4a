#!/usr/bin/env python3
"""NumPy reference values for the two-stage reductions (crates/core/src/linalg/two_stage.rs): the
Gram route from order 1536 (two-stage tridiagonalization) and the direct SVD from order 256
(two-stage bidiagonalization), on matrices too large to commit. Their entries are a hash of
(seed, row, column) that Rust and NumPy evaluate bit for bit (integer arithmetic modulo 2^64, then
an exact scaling to [-0.5, 0.5) and exact power-of-two column scales), so only the shapes, seeds
and NumPy's results are stored.

  python3 tests/data/reference/two_stage.py      # writes two_stage.json next to this script

Checked by crates/core/tests/two_stage_reference.rs.
"""
import json
import os
import platform
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import metrics_from_singular_values  # noqa: E402  (the §2 metrics in NumPy)

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
# (name, rows, cols, seed, graded: column j scaled by 2^-floor(grade·j/cols))
CASES = [
    ("gram_tall", 1700, 1600, 1, 0),
    ("gram_wide", 1600, 1700, 2, 0),
    ("svd_tall", 300, 280, 3, 0),
    ("svd_wide", 280, 600, 4, 0),
    ("svd_graded", 300, 300, 5, 20),
]
NORMALIZATIONS = ["sigma", "energy"]
QS = [0.5, 2.0]


def entries(rows, cols, seed, grade):
    """The hash of (seed, i, j) in [-0.5, 0.5), then the column scales; f64."""
    i = np.arange(rows, dtype=np.uint64)[:, None]
    j = np.arange(cols, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        z = i * np.uint64(1_000_003) + j * np.uint64(998_244_353) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    w = (z >> np.uint64(11)).astype(np.float64) / float(2 ** 53) - 0.5
    if grade:
        shift = np.floor(grade * np.arange(cols) / cols)
        w = w * np.exp2(-shift)[None, :]
    return w


def main():
    out = {
        "generator": "tests/data/reference/two_stage.py",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "lapack": "numpy.linalg.svd (dgesdd), f64",
        "cases": {},
    }
    for name, rows, cols, seed, grade in CASES:
        w = entries(rows, cols, seed, grade)
        s = np.linalg.svd(w, compute_uv=False)
        l12 = float(np.sum(np.linalg.norm(w, axis=0)))
        metrics = {
            f"{norm}/{q}": metrics_from_singular_values(s, w.shape, l12, norm, q)
            for norm in NORMALIZATIONS for q in QS
        }
        out["cases"][name] = {
            "rows": rows, "cols": cols, "seed": seed, "grade": grade,
            "checksum": float(w.sum()), "corner": float(w[rows - 1, cols - 1]),
            "singular_values": [float(x) for x in s],
            "metrics": metrics,
        }
    path = os.path.join(HERE, "two_stage.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(path)


if __name__ == "__main__":
    main()
