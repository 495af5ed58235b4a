"""Numbers against NumPy f64: the singular values of `svdiag.spectrum` and the metrics of
`svdiag.metrics`, on seeded matrices of every dtype and on matrices of known spectrum."""

from __future__ import annotations

import numpy as np
import pytest

import svdiag

RNG = np.random.default_rng(2026)


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("shape", [(50, 30), (30, 50), (40, 40)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_singular_values_match_numpy_f64(shape, dtype):
    w = RNG.standard_normal(shape).astype(dtype)
    want = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    assert _rel(svdiag.spectrum(w), want) < 1e-9
    assert _rel(svdiag.spectrum(w, method="svd"), want) < 1e-9


def _numpy_metrics(s, shape):
    p = s / s.sum()
    h = -np.sum(p[p > 0] * np.log(p[p > 0]))
    return {
        "entropy": h,
        "kl_uniform": np.log(len(s)) - h,
        "effective_rank": np.exp(h),
        "stable_rank": np.sum(s**2) / s[0] ** 2,
        "spectral_norm": s[0],
        "frobenius_norm": np.sqrt(np.sum(s**2)),
        "nuclear_norm": s.sum(),
        "renyi_entropy": -np.log(np.sum(p**2)),
        "condition_number": s[0] / s[-1],
    }


def test_metrics_of_a_matrix_and_of_its_singular_values_match_numpy():
    w = RNG.standard_normal((60, 45))
    s = np.linalg.svd(w, compute_uv=False)
    want = _numpy_metrics(s, w.shape)
    got = svdiag.metrics(w)
    from_values = svdiag.metrics(s, shape=w.shape)
    for name, value in want.items():
        assert _rel(got[name], value) < 1e-9, name
        assert _rel(from_values[name], value) < 1e-12, name
    assert _rel(got["l12_norm"], np.sum(np.linalg.norm(w, axis=0))) < 1e-12
    assert from_values["l12_norm"] is None
    assert got["route"] in ("gram", "gram-refined", "svd")


def test_a_known_spectrum_is_recovered():
    # W = U diag(s) Vᵀ with orthogonal U, V from QR of seeded Gaussian matrices
    s = np.geomspace(10.0, 0.1, 20)
    u, _ = np.linalg.qr(RNG.standard_normal((30, 20)))
    v, _ = np.linalg.qr(RNG.standard_normal((25, 20)))
    w = (u * s) @ v.T  # 30×25 of rank 20: five singular values are zero
    got = svdiag.spectrum(w)
    assert len(got) == 25 and _rel(got[:20], s) < 1e-9 and np.all(got[20:] < 1e-13 * s[0])
    m = svdiag.metrics(w)
    assert m["numerical_rank"] == 20
    assert abs(m["nuclear_norm"] - s.sum()) < 1e-12 * s.sum()
