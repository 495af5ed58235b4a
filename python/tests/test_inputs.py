"""Weights in memory: every supported kind of array reaches Rust as a byte view of its own storage
(no copy), with copies only where the bytes cannot be read as they are, one tensor at a time."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import svdiag
from svdiag._inputs import Tensors, resolve

RNG = np.random.default_rng(7)


def _only(report):
    (record,) = report.document["matrices"]
    return {k: v for k, v in record.items() if k not in ("name", "file", "dtype")}


def test_contiguous_arrays_are_viewed_not_copied():
    w = RNG.standard_normal((64, 32)).astype(np.float32)
    src = resolve({"w": w})
    assert isinstance(src, Tensors)
    (name, raw, tag, shape) = src.items[0]
    assert (name, tag, shape) == ("w", "F32", (64, 32))
    assert raw.dtype == np.uint8 and raw.size == w.nbytes
    assert np.shares_memory(raw, w)


def test_a_transposed_view_is_made_contiguous_and_gives_its_copys_metrics():
    w = RNG.standard_normal((40, 70))
    view = w.T
    assert not view.flags.c_contiguous
    assert _only(svdiag.run(view, progress=False)) == _only(svdiag.run(np.ascontiguousarray(view), progress=False))


def test_fortran_and_big_endian_arrays_are_read_by_value():
    w = RNG.standard_normal((30, 20))
    ref = _only(svdiag.run(w, progress=False))
    assert _only(svdiag.run(np.asfortranarray(w), progress=False)) == ref
    assert _only(svdiag.run(w.astype(">f8"), progress=False)) == ref


def test_bf16_from_ml_dtypes_equals_its_exact_f32_widening():
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bf16 arrays come from ml_dtypes")
    w = RNG.standard_normal((48, 24)).astype(ml_dtypes.bfloat16)
    src = resolve(w)
    assert src.items[0][2] == "BF16" and np.shares_memory(src.items[0][1], w)
    # every bf16 value is exactly an f32 value: the spectra are the same matrix's
    assert _only(svdiag.run(w, progress=False)) == _only(svdiag.run(w.astype(np.float32), progress=False))


def test_f16_and_f64_arrays():
    w = RNG.standard_normal((16, 24))
    assert svdiag.run(w.astype(np.float16), progress=False).document["matrices"][0]["dtype"] == "F16"
    assert svdiag.run(w, progress=False).document["matrices"][0]["dtype"] == "F64"


def test_tied_weights_are_analyzed_once_and_both_names_listed():
    emb = RNG.standard_normal((100, 16)).astype(np.float32)
    report = svdiag.run({"embed_tokens.weight": emb, "lm_head.weight": emb}, progress=False)
    assert [r["name"] for r in report.document["matrices"]] == ["embed_tokens.weight"]
    assert report.aliases == {"lm_head.weight": "embed_tokens.weight"}
    assert "lm_head.weight shares its storage with embed_tokens.weight: analyzed once, as embed_tokens.weight" in report.warnings


def test_higher_rank_tensors_are_reshaped_and_non_matrices_skipped_with_reasons():
    conv = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32)
    report = svdiag.run({"conv": conv, "bias": np.zeros(8, np.float32), "ids": np.arange(6).reshape(2, 3)}, progress=False)
    (record,) = report.document["matrices"]
    assert record["matrix_shape"] == [8, 27] and record["reshaped"]
    reasons = {s["name"]: s["reason"] for s in report.skipped}
    assert reasons["bias"] == "1-D tensor (a bias, norm or vector): no matrix"
    assert reasons["ids"].startswith("dtype I64 is not a floating-point type")


def test_importing_svdiag_does_not_import_torch():
    code = "import svdiag, sys; assert 'torch' not in sys.modules and 'polars' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_object_that_is_no_weights_is_refused_with_what_is_accepted():
    with pytest.raises(TypeError, match="pass a path, a list of paths"):
        svdiag.run(42)
