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


def _long_run(root, checkpoints: int, matrices: int, size: int):
    rng = np.random.default_rng(11)
    for step in range(1, checkpoints + 1):
        tensors = {
            f"model.layers.{i}.mlp.up_proj.weight": rng.standard_normal((size, size), dtype=np.float32)
            for i in range(matrices)
        }
        write_safetensors(root / f"checkpoint-{step * 100}" / "model.safetensors", tensors)
    return root


def test_a_run_commands_progress_counts_the_matrices_of_every_checkpoint(tmp_path):
    run = _run(tmp_path / "run")
    calls = []
    svdiag.trend(run, cache=False, progress=lambda *c: calls.append(c))
    # the totals grow as checkpoints are read; at the end every matrix of every checkpoint is counted
    assert calls[-1][:2] == (2 * len(STEPS), 2 * len(STEPS))
    assert calls[-1][2] == calls[-1][3] == 2 * len(STEPS) * 32 * 32 * 8
    done = [c[0] for c in calls]
    assert done == sorted(done)


@pytest.mark.parametrize("command", ["trend", "compare", "delta"])
def test_ctrl_c_stops_a_run_command_before_its_next_matrix(tmp_path, command):
    import _thread
    import sqlite3
    import threading
    import time

    checkpoints, matrices = 3, 200
    run = _long_run(tmp_path / "run", checkpoints=checkpoints, matrices=matrices, size=320)
    first, last = run / "checkpoint-100", run / "checkpoint-300"
    store = tmp_path / "store.sqlite"
    call, total = {
        "trend": (lambda: svdiag.trend(run, cache=store, threads=1, progress=False), checkpoints * matrices),
        "compare": (lambda: svdiag.compare(first, last, cache=store, threads=1, progress=False), 2 * matrices),
        "delta": (lambda: svdiag.delta(first, last, cache=store, threads=1, progress=False), matrices),
    }[command]
    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        call()
    elapsed = time.monotonic() - start
    timer.cancel()
    # it stopped before its next matrix: fewer spectra were computed (each is stored as soon as it
    # is) than the command has; the time is only a loose check that it did not run on
    with sqlite3.connect(store) as db:
        (computed,) = db.execute("SELECT COUNT(*) FROM spectra").fetchone()
    assert computed < total, f"{command}: all {total} spectra computed: it did not stop"
    assert elapsed < 0.5 + 3.0, f"{command} stopped after {elapsed:.2f} s"
    # the result store written until the signal stays whole: the same command on a few matrices
    # gives what it gives without a store
    few = r"layers\.[0-3]\."
    stored = svdiag.trend(run, cache=store, filter=few, progress=False)
    fresh = svdiag.trend(run, cache=False, filter=few, progress=False)
    assert stored.to_json() == fresh.to_json()
