"""The analysis releases the GIL, stops on Ctrl-C between matrices, reports progress, and gives the
same numbers on any number of threads."""

from __future__ import annotations

import _thread
import threading
import time

import numpy as np
import pytest

import svdiag


def _weights(n: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"layers.{i}.mlp.up_proj.weight": rng.standard_normal((size, size)) for i in range(n)}


def test_another_python_thread_runs_during_an_analysis():
    weights = _weights(6, 600)
    inside = threading.Event()
    done = threading.Event()

    def work():
        inside.set()
        svdiag.run(weights, progress=False, threads=1)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    inside.wait()
    spins = 0
    while not done.is_set():
        spins += 1  # runs only while the worker's native call has released the GIL
    worker.join()
    assert spins > 10_000, f"the main thread ran {spins} iterations during the analysis"


def test_ctrl_c_stops_a_long_analysis_within_a_second():
    weights = _weights(400, 300)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        svdiag.run(weights, progress=False, threads=1)
    elapsed = time.monotonic() - start
    timer.cancel()
    # all 400 matrices take several seconds; the run stops at the next matrix after the signal
    assert elapsed < 0.3 + 1.0, f"stopped after {elapsed:.2f} s"


def test_a_progress_callable_sees_every_matrix():
    calls = []
    svdiag.run(_weights(5, 50), progress=lambda *c: calls.append(c), threads=1)
    assert calls[-1][:2] == (5, 5)
    assert calls[-1][2] == calls[-1][3] == 5 * 50 * 50 * 8


def test_a_progress_callable_that_raises_stops_the_run_with_its_error():
    def boom(*_):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        svdiag.run(_weights(3, 50), progress=boom)


def test_results_do_not_depend_on_the_thread_count():
    weights = _weights(6, 80, seed=3)
    one = svdiag.run(weights, progress=False, threads=1).to_json()
    two = svdiag.run(weights, progress=False, threads=2).to_json()
    assert one == two
