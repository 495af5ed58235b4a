"""Keras weights through the Python package: a `.keras` archive and a legacy `.h5` written by Keras
itself (tests/data/keras/real/, made by make_real.py) give, for every weight matrix, the metrics that
h5py + NumPy's f64 SVD give for the same matrix; the optimizer's state is skipped."""

from __future__ import annotations

import json
import pathlib
import zipfile

import numpy as np
import pytest

import svdiag

h5py = pytest.importorskip("h5py", reason="h5py is not installed (bash scripts/test.sh installs it)")

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "keras" / "real"


def _numpy_metrics(w: np.ndarray) -> dict[str, float]:
    s = np.linalg.svd(w, compute_uv=False)
    p = s / s.sum()
    h = float(-(p * np.log(p)).sum())
    return {"spectral_norm": float(s[0]), "entropy": h, "effective_rank": float(np.exp(h)),
            "stable_rank": float((s**2).sum() / s[0] ** 2), "condition_number": float(s[0] / s[-1])}


def _matrix(d, path: str) -> np.ndarray:
    a = d[()]
    if a.dtype.kind == "V":  # bfloat16, stored by Keras as opaque 2-byte elements
        a = (np.frombuffer(a.tobytes(), "<u2").astype(np.uint32) << 16).view(np.float32).reshape(a.shape)
    a = a.astype(np.float64)
    output_last = "conv" in path or "output_dense" in path or "attention_output" in path
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 3 and output_last else a.reshape(a.shape[0], -1)


@pytest.mark.parametrize("file", ["model.keras", "legacy.h5"])
def test_keras_files_match_h5py_and_numpy(file):
    reference = json.loads((DATA / "reference.json").read_text())["files"][file]
    report = svdiag.run(DATA / file, progress=False)
    rows = {r["name"]: r for r in report.document["matrices"]}
    assert set(rows) == {r["name"] for r in reference}
    skipped = report.document["skipped"]
    assert sum(s["reason"].startswith("optimizer state") for s in skipped) >= 10

    def check(f):
        for r in reference:
            w = _matrix(f[r["path"]], r["path"])
            got = rows[r["name"]]
            assert got["matrix_shape"] == list(w.shape)
            for field, want in _numpy_metrics(w).items():
                assert got[field] == pytest.approx(want, rel=1e-9), (r["name"], field)

    if file.endswith(".keras"):
        with zipfile.ZipFile(DATA / file) as z, z.open("model.weights.h5") as member, h5py.File(member) as f:
            check(f)
    else:
        with h5py.File(DATA / file) as f:
            check(f)


def test_a_keras_frame_names_the_layers():
    df = svdiag.analyze(DATA / "model.keras", progress=False)
    assert {"mha/query/kernel", "conv/kernel", "head/kernel"} <= set(df["name"])
    assert df.set_index("name").loc["mha/query/kernel", "role"] == "attn_q"
