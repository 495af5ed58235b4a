"""Weights passed in memory are not copied: analyzing a ~1 GB state dict of f32 matrices held by the
caller (NumPy arrays, or torch tensors) raises the process's peak memory by what the workers need (a
Gram matrix and a few blocks each), not by another copy of the weights."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# 64 matrices of 1024×4096 f32: 1 GiB held by the caller
MATRICES, ROWS, COLS = 64, 1024, 4096

NUMPY = r"""
import numpy as np
rng = np.random.default_rng(0)
weights = {f"layers.{i}.mlp.weight": rng.standard_normal((ROWS, COLS), dtype=np.float32) for i in range(MATRICES)}
"""

TORCH = r"""
import torch
torch.manual_seed(0)
weights = {f"layers.{i}.mlp.weight": torch.randn(ROWS, COLS) for i in range(MATRICES)}
"""

MEASURE = r"""
import json, resource, svdiag
held = sum(w.nbytes for w in weights.values())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
report = svdiag.run(weights, progress=False, threads=2)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"held": held, "growth": after - before, "analyzed": len(report.matrices)}))
"""


def _growth(make: str) -> dict:
    head = f"ROWS, COLS, MATRICES = {ROWS}, {COLS}, {MATRICES}\n"
    out = subprocess.run([sys.executable, "-c", head + make + MEASURE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _check(m: dict) -> None:
    assert m["held"] == MATRICES * ROWS * COLS * 4 and m["analyzed"] == MATRICES
    # two workers: a 1024² f64 Gram matrix (8 MB), 4 MB blocks and the eigen-solver's workspace each;
    # a second copy of the weights would add 1 GiB
    assert m["growth"] < 0.25 * m["held"], m


def test_a_gigabyte_numpy_state_dict_is_not_copied():
    _check(_growth(NUMPY))


def test_a_gigabyte_torch_state_dict_is_not_copied():
    pytest.importorskip("torch", reason="torch is not installed (SVDIAG_TEST_TORCH=1 installs it)")
    _check(_growth(TORCH))
