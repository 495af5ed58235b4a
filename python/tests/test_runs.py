"""Training runs from Python: trend, compare and delta give the command's documents byte for byte,
with the series and differences as DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pytest

import svdiag
from conftest import run_cli, write_safetensors
from svdiag.exceptions import InvalidOptionError, NotARunError

STEPS = [100, 200, 300, 400, 500, 600, 700]


def _planted(n: int, s: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (u * s) @ v.T


def _run(root, collapse_at=None, decay=0.05):
    for k, step in enumerate(STEPS):
        tensors = {}
        for layer in range(2):
            d = decay * (1 + 0.02 * k + 0.1 * layer)
            if collapse_at is not None and k >= collapse_at and layer == 1:
                d *= 8  # the spectrum concentrates suddenly
            s = np.exp(-d * np.arange(32))
            tensors[f"model.layers.{layer}.mlp.up_proj.weight"] = _planted(32, s, seed=layer + 1)
        write_safetensors(root / f"checkpoint-{step}" / "model.safetensors", tensors)
    return root


def test_trend_is_the_commands_document_and_finds_the_planted_jump(tmp_path):
    run = _run(tmp_path / "run", collapse_at=6)
    t = svdiag.trend(run, cache=False)
    cli = run_cli("trend", str(run), "--no-cache", "--quiet", "--format", "json")
    assert cli.returncode == 3, cli.stderr
    assert t.to_json() == cli.stdout
    assert list(t.checkpoints["step"]) == STEPS
    assert len(t.series) == len(STEPS) * 2 and {"matrix", "step", "kl_uniform"} <= set(t.series.columns)
    (alert,) = [a for a in t.alerts if a["kind"] == "jump"]
    assert alert["matrix"] == "model.layers.1.mlp.up_proj.weight" and alert["to_step"] == 700
    assert alert["diagnosis"] == "late_stage_degradation"


def test_compare_and_delta_are_the_commands_documents(tmp_path):
    a, b = _run(tmp_path / "adamw"), _run(tmp_path / "muon", decay=0.02)
    c = svdiag.compare(a, b, cache=False)
    cli = run_cli("compare", str(a), str(b), "--no-cache", "--quiet", "--format", "json")
    assert c.to_json() == cli.stdout
    verdict = next(v for v in c.verdicts if v["metric"] == "kl_uniform")
    assert verdict["evidence"]["lower"] == 2 and verdict["evidence"]["higher"] == 0
    assert set(c.matrices["matrix"]) == {f"model.layers.{i}.mlp.up_proj.weight" for i in range(2)}

    d = svdiag.delta(a / "checkpoint-100", a / "checkpoint-700", cache=False)
    cli = run_cli("delta", str(a / "checkpoint-100"), str(a / "checkpoint-700"), "--no-cache", "--quiet", "--format", "json")
    assert d.to_json() == cli.stdout and json.loads(cli.stdout)["command"] == "delta"
    assert len(d.to_frame()) == 2


def test_the_store_is_used_when_asked(tmp_path):
    run = _run(tmp_path / "run")
    store = tmp_path / "spectra.sqlite3"
    first = svdiag.trend(run, cache=store)
    assert store.exists()
    assert svdiag.trend(run, cache=store).to_json() == first.to_json()


def test_run_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotARunError):
        svdiag.trend(tmp_path / "empty", cache=False)
    with pytest.raises(InvalidOptionError, match="--alert"):
        svdiag.trend(_run(tmp_path / "run"), alerts=["no_such_metric:rise"], cache=False)
    with pytest.raises(TypeError, match="read checkpoints from disk"):
        svdiag.trend({"w": np.ones((3, 3))})
