"""`svdiag.distributed` on a real Ray cluster on this machine: a head node and a second node
(`ray.cluster_utils.Cluster`, each a raylet with its own worker processes), bound to the loopback
interface, started by this module and shut down by it (never a blanket `ray stop`).

- analyze, trend and compare give byte for byte the local calls' documents;
- a second sweep computes nothing; a sweep whose driver was killed resumes where it stopped;
- a worker process killed mid-task (by its pid): the task runs again, every record is there once;
- a corrupt checkpoint and a tensor of bad data are reported as the local run reports them;
- the store is written by the driver only; no socket of the cluster listens off the loopback.

Without Ray these tests skip (locally); CI sets SVDIAG_REQUIRE_RAY=1, and they fail instead."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import svdiag
from conftest import write_safetensors

# Ray reads these when it is imported: every socket of a cluster started here on the loopback interface
os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})

if os.environ.get("SVDIAG_REQUIRE_RAY") == "1":
    import ray
else:
    ray = pytest.importorskip("ray", reason="ray is not installed (bash scripts/test.sh installs it)")

import svdiag.distributed as sd  # noqa: E402

STEPS = [100, 200, 300, 400]


def _run(root, bad_step=None, nan_step=None):
    """A run of 4 checkpoints, 3 matrices each (one frozen: the same bytes in every checkpoint)."""
    rng = np.random.default_rng(7)
    frozen = rng.standard_normal((48, 32)).astype(np.float32)
    for k, step in enumerate(STEPS):
        tensors = {"model.embed_tokens.weight": frozen}
        for layer in range(2):
            w = rng.standard_normal((40, 32)).astype(np.float32) * (1 + 0.1 * k)
            if nan_step == step and layer == 1:
                w[3, 4] = np.nan
            tensors[f"model.layers.{layer}.mlp.up_proj.weight"] = w
        path = root / f"checkpoint-{step}" / "model.safetensors"
        write_safetensors(path, tensors)
        if bad_step == step:
            path.write_bytes(path.read_bytes()[:100])  # truncated: the checkpoint cannot be read
    return root


def _store_entries(path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM spectra").fetchone()[0]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    assert all(os.environ[k] == v for k, v in sd.LOOPBACK_ENV.items())
    c = Cluster(initialize_head=True,
                head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 128 << 20})
    c.add_node(num_cpus=1, object_store_memory=128 << 20)
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def test_the_cluster_has_two_nodes_and_listens_on_loopback_only(cluster):
    psutil = pytest.importorskip("psutil")
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ours]
    assert listening, "the cluster's processes listen somewhere"
    loopback = ("127.", "::ffff:127.", "::1")
    elsewhere = [(c.laddr.ip, c.laddr.port, psutil.Process(c.pid).name()) for c in listening
                 if not c.laddr.ip.startswith(loopback)]
    assert not elsewhere, f"sockets off the loopback interface: {elsewhere}"


def test_documents_are_the_local_ones_byte_for_byte(cluster, tmp_path, monkeypatch):
    _run(tmp_path / "run")
    # a path relative to the driver's directory, which is not the workers'
    monkeypatch.chdir(tmp_path)
    run = pathlib.Path("run")
    store = tmp_path / "store.sqlite3"
    local = svdiag.trend(run, cache=False)
    dist = sd.trend(run, cache=False, store=store, progress=False)
    assert sd.last_sweep.failed == []
    assert dist.to_json() == local.to_json()
    # 12 tasks, the frozen embedding stored once (one content key)
    # the frozen embedding's key is not stored before the sweep: every task computes
    assert (sd.last_sweep.planned, sd.last_sweep.computed) == (12, 12)
    assert _store_entries(store) == 2 * len(STEPS) + 1
    # a second sweep computes nothing
    again = sd.trend(run, cache=False, store=store, progress=False)
    assert (sd.last_sweep.skipped, sd.last_sweep.computed) == (12, 0)
    assert again.to_json() == local.to_json()
    # compare and analyze, from the same store
    a, b = run / "checkpoint-100", run / "checkpoint-400"
    assert sd.compare(a, b, cache=False, store=store, progress=False).to_json() == svdiag.compare(a, b, cache=False).to_json()
    assert sd.last_sweep.computed == 0
    report = sd.run(b, store=store, progress=False)
    assert report.to_json() == svdiag.run(b, progress=False).to_json()
    frame = sd.analyze(b, store=store, progress=False)
    assert frame.equals(svdiag.analyze(b, progress=False))


def _driver(tmp_path, run, store, env, out):
    """A driver in its own process (so that it can be killed): a distributed trend of `run`, the JSON
    written to `out`; its tasks see `env`."""
    script = f"""
import ray, svdiag.distributed as sd
ray.init(address={ray.get_runtime_context().gcs_address!r}, log_to_driver=False,
         runtime_env={{"env_vars": {env!r}}})
t = sd.trend({str(run)!r}, cache=False, store={str(store)!r}, progress=False)
open({str(out)!r}, "w").write(t.to_json())
print(sd.last_sweep)
"""
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_sweep_resumes_after_its_driver_is_killed(cluster, tmp_path):
    run = _run(tmp_path / "run")
    store = tmp_path / "store.sqlite3"
    driver = _driver(tmp_path, run, store, {"SVDIAG_TEST_TASK_SLEEP_MS": "700"}, tmp_path / "never.json")
    deadline = time.time() + 120
    while time.time() < deadline and not (store.exists() and _store_entries(store) >= 3):
        time.sleep(0.1)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate()
    stored = _store_entries(store)
    assert 3 <= stored < 2 * len(STEPS) + 1, "killed mid-sweep"
    resumed = sd.trend(run, cache=False, store=store, progress=False)
    s = sd.last_sweep
    # the rest: computed, or hashed to a stored key (the frozen embedding stored from another checkpoint)
    assert s.skipped >= 3 and s.computed + s.known == 12 - s.skipped and s.failed == []
    assert resumed.to_json() == svdiag.trend(run, cache=False).to_json()


def test_ctrl_c_stops_the_sweep_and_its_tasks_on_the_cluster(cluster, tmp_path):
    psutil = pytest.importorskip("psutil")
    run = _run(tmp_path / "run")
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {"SVDIAG_TEST_TASK_SLEEP_MS": "5000", "SVDIAG_TEST_PID_DIR": str(pids)}
    driver = _driver(tmp_path, run, tmp_path / "store.sqlite3", env, tmp_path / "never.json")
    deadline = time.time() + 120
    while time.time() < deadline and not any(pids.iterdir()):
        time.sleep(0.05)
    running = [int(p.name) for p in pids.iterdir()]
    assert running
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode != 0 and "KeyboardInterrupt" in stderr, stderr
    # the tasks it had started stop (cancelled, or ended with their driver), not left to run to the end
    deadline = time.time() + 30
    while time.time() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in running):
        time.sleep(0.1)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in running)


def test_a_worker_killed_mid_task_loses_nothing_and_the_store_is_the_drivers(cluster, tmp_path):
    run = _run(tmp_path / "run")
    store = tmp_path / "store.sqlite3"
    pids = tmp_path / "pids"
    pids.mkdir()
    worker_cache = tmp_path / "worker-cache"
    env = {"SVDIAG_TEST_TASK_SLEEP_MS": "1500", "SVDIAG_TEST_PID_DIR": str(pids),
           # were a worker to open a result store of its own, it would be here
           "SVDIAG_CACHE": str(worker_cache / "spectra.sqlite3"), "XDG_CACHE_HOME": str(worker_cache)}
    out = tmp_path / "trend.json"
    driver = _driver(tmp_path, run, store, env, out)
    deadline = time.time() + 120
    while time.time() < deadline and not any(pids.iterdir()):
        time.sleep(0.05)
    victim = int(next(pids.iterdir()).name)
    os.kill(victim, signal.SIGKILL)  # mid-task: it sleeps 1.5 s before computing
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "computed=12" in stdout and "failed=0" in stdout, stdout
    doc = json.loads(out.read_text())
    assert out.read_text() == svdiag.trend(run, cache=False).to_json()
    assert _store_entries(tmp_path / "store.sqlite3") == 2 * len(STEPS) + 1  # the command's --cache
    # every matrix of every checkpoint once in the series, every content key once in the store
    keys = [(row["matrix"], row["step"]) for row in doc["series"]] if "series" in doc else None
    if keys is not None:
        assert len(keys) == len(set(keys)) == 12
    assert _store_entries(store) == 2 * len(STEPS) + 1
    assert not worker_cache.exists(), "a worker wrote a result store"


def test_a_corrupt_checkpoint_and_bad_data_are_reported_as_locally(cluster, tmp_path):
    run = _run(tmp_path / "run", bad_step=200, nan_step=300)
    local = svdiag.trend(run, cache=False)
    dist = sd.trend(run, cache=False, store=tmp_path / "store.sqlite3", progress=False)
    assert dist.to_json() == local.to_json()
    doc = json.loads(dist.to_json())
    assert any("checkpoint-200" in n and "not analyzed" in n for n in doc["notes"]), doc["notes"]
    (failed,) = sd.last_sweep.failed
    assert failed["name"] == "model.layers.1.mlp.up_proj.weight" and "NaN" in failed["error"]
    assert sd.last_sweep.planned == 9  # the truncated checkpoint has no task


def test_the_command_line_takes_ray(cluster, tmp_path):
    run = _run(tmp_path / "run")
    out = tmp_path / "t.json"
    env = dict(os.environ, RAY_ADDRESS=ray.get_runtime_context().gcs_address)
    p = subprocess.run([sys.executable, "-m", "svdiag", "trend", str(run), "--ray", "auto", "-o", str(out),
                        "--cache", str(tmp_path / "store.sqlite3")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "12 computed on the cluster" in p.stderr, p.stderr
    assert out.read_text() == svdiag.trend(run, cache=False).to_json()
    assert _store_entries(tmp_path / "store.sqlite3") == 2 * len(STEPS) + 1  # the command's --cache


def test_a_copied_checkpoint_is_hashed_not_computed_and_progress_counts_every_task(cluster, tmp_path):
    import shutil

    run = _run(tmp_path / "run")
    store = tmp_path / "store.sqlite3"
    sd.run(run / "checkpoint-100", store=store, progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(run / "checkpoint-100", copy)
    calls = []
    report = sd.run(copy, store=store, progress=lambda *counts: calls.append(counts))
    # another path: scheduled; the same bytes: each task hashes to a stored key and computes nothing
    assert (sd.last_sweep.planned, sd.last_sweep.known, sd.last_sweep.computed) == (3, 3, 0)
    assert report.to_json() == svdiag.run(copy, progress=False).to_json()
    done, total, bytes_done, bytes_total = calls[-1]
    assert (done, total) == (3, 3) and bytes_done == bytes_total > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:])), "done never decreases"


def test_a_node_lost_mid_sweep_loses_nothing(cluster, tmp_path):
    """A third node joins; the tasks are slow and say which process runs them; the node is removed
    (not gracefully) while one of its workers runs a task: Ray runs its tasks again on the others."""
    psutil = pytest.importorskip("psutil")
    run = _run(tmp_path / "run")
    store = tmp_path / "store.sqlite3"
    pids = tmp_path / "pids"
    pids.mkdir()
    node = cluster.add_node(num_cpus=2, object_store_memory=128 << 20)
    cluster.wait_for_nodes()
    raylet = node.all_processes["raylet"][0].process.pid
    out = tmp_path / "trend.json"
    driver = _driver(tmp_path, run, store, {"SVDIAG_TEST_TASK_SLEEP_MS": "2000", "SVDIAG_TEST_PID_DIR": str(pids)}, out)

    def on_the_node():
        workers = {p.pid for p in psutil.Process(raylet).children(recursive=True)}
        return [p for p in pids.iterdir() if int(p.name) in workers]

    deadline = time.time() + 120
    while time.time() < deadline and not on_the_node():
        time.sleep(0.05)
    assert on_the_node(), "no task ran on the new node"
    cluster.remove_node(node, allow_graceful=False)
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "failed=0" in stdout, stdout
    assert out.read_text() == svdiag.trend(run, cache=False).to_json()
    assert _store_entries(store) == 2 * len(STEPS) + 1
