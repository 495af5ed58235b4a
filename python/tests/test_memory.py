"""Weights passed in memory are not copied: analyzing ~0.5 GB of f32 matrices held by the caller raises
the process's peak memory by what the workers need (a Gram matrix and a few blocks each), not by
another copy of the weights."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, resource, numpy as np, svdiag
rng = np.random.default_rng(0)
weights = {f"layers.{i}.mlp.weight": rng.standard_normal((1024, 4096), dtype=np.float32) for i in range(32)}
held = sum(w.nbytes for w in weights.values())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
svdiag.run(weights, progress=False, threads=2)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"held": held, "growth": after - before}))
"""


def test_a_half_gigabyte_state_dict_is_not_copied():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    assert m["held"] == 32 * 1024 * 4096 * 4
    # two workers: a 1024² f64 Gram matrix (8 MB), 4 MB blocks and the eigen-solver's workspace each
    assert m["growth"] < 0.25 * m["held"], m
