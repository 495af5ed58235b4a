"""Sweeps on a Ray cluster: :func:`run`, :func:`analyze`, :func:`trend` and :func:`compare` return
exactly what the local calls of the same names return, with every matrix's spectrum computed by a
Ray task.

How it works:

- The driver (this process) reads the checkpoints' headers only and makes one task per matrix
  (checkpoint file, tensor), largest first. Each task asks Ray for the CPUs it uses and the memory
  it holds, so that a node never runs more matrices than fit.
- A task opens its file from the shared filesystem (the same paths on every node), computes the
  exact spectrum with the native core (the GIL released) and returns it with its content key: a
  few KB, never a tensor. Tensors never travel through Ray's object store.
- Only the driver writes the result store (SQLite must not be shared over a network filesystem).
  A task whose file and tensor it already holds is never scheduled, so an interrupted sweep resumes
  where it stopped, and two sweeps over overlapping runs compute each spectrum once. The store is
  svdiag's own result store: local runs reuse what a sweep computed.
- A worker or node lost mid-task: Ray runs the task again elsewhere (``retries`` times); the store
  keeps one result per key. A tensor that cannot be analyzed (bad data) returns its error, is never
  retried, and is reported as the local run reports it.
- The documents are then assembled on the driver by the same code as the local commands, from the
  stored spectra, without reading a tensor.

Exact mode only (``quick``, ``approx``, ``polar``, ``farms``, ``split_gates`` and ``base`` are
refused). From the command line: ``svdiag trend RUN --ray ADDRESS`` (the pip-installed ``svdiag``;
``--ray local`` starts a cluster on this machine).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any, Literal

from . import Comparison, Progress, Report, Trend, _compare_argv, _flags, _native, _paths, _trend_argv
from ._progress import progress_of

__all__ = ["analyze", "compare", "run", "trend", "connect"]

#: Environment for a cluster started here: every socket on the loopback interface, no usage reports.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def connect(address: str | None = None, **init: Any) -> None:
    """Connects to the Ray cluster at ``address`` (``"auto"``, ``"ray://head:10001"``, ``"host:port"``),
    or starts one on this machine (``None`` or ``"local"``), bound to the loopback interface. Does
    nothing when Ray is already initialized. ``init``: more arguments of ``ray.init``. (Ray reads the
    loopback setting when it is imported: import Ray after this module, or set :data:`LOOPBACK_ENV`
    yourself.)"""
    if address in (None, "local"):
        for key, value in LOOPBACK_ENV.items():
            os.environ.setdefault(key, value)
    import ray

    if ray.is_initialized():
        return
    if address in (None, "local"):
        init.setdefault("include_dashboard", False)
        ray.init(**init)
    else:
        ray.init(address=address, **init)


def _compute(argv: list[str], path: str, tensor: int, threads: int, known: Any = None) -> dict[str, Any]:
    """One task, on a worker: the spectrum of tensor ``tensor`` of ``path`` (or its error); only its
    key when the key is one of ``known`` (the keys the store had when the sweep began)."""
    from svdiag import _native as native

    # tests only: tasks that say which process runs them, and last long enough to be interrupted
    if os.environ.get("SVDIAG_TEST_PID_DIR"):
        with open(os.path.join(os.environ["SVDIAG_TEST_PID_DIR"], str(os.getpid())), "w") as f:
            f.write(f"{path}\t{tensor}")
    if os.environ.get("SVDIAG_TEST_TASK_SLEEP_MS"):
        import time

        time.sleep(int(os.environ["SVDIAG_TEST_TASK_SLEEP_MS"]) / 1000)
    return native.sweep_compute(argv, path, tensor, threads, known)


def _default_store() -> str:
    """svdiag's result store: ``$SVDIAG_CACHE``, else ``$XDG_CACHE_HOME/svdiag/spectra.sqlite3``, else
    ``~/.cache/svdiag/spectra.sqlite3`` (as the command line)."""
    if os.environ.get("SVDIAG_CACHE"):
        return os.environ["SVDIAG_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "svdiag", "spectra.sqlite3")


class Sweep:
    """What one sweep did, in tasks: planned; skipped (their file and tensor were stored: not
    scheduled); known (scheduled, but their content was stored: hashed, not computed); computed;
    failed (with their errors)."""

    def __init__(self) -> None:
        self.planned = 0
        self.skipped = 0
        self.known = 0
        self.computed = 0
        self.failed: list[dict[str, str]] = []

    def __repr__(self) -> str:
        return (f"Sweep(planned={self.planned}, skipped={self.skipped}, known={self.known}, "
                f"computed={self.computed}, failed={len(self.failed)})")


#: The last sweep's counts (for a caller that wants to know what was computed).
last_sweep = Sweep()


def command(
    argv: list[str],
    *,
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    threads_per_task: int = 1,
    retries: int = 3,
) -> tuple[Any, ...]:
    """A command line (``["trend", RUN, ...flags]``, ``compare`` or ``analyze``) on the cluster: what
    ``_native.run_command`` returns for it (``("rendered", json, csv, exit_code)``, or for analyze
    ``("analysis", json, columns, failed)``)."""
    return _sweep(argv, address=address, store=store, progress=progress, threads_per_task=threads_per_task,
                  retries=retries)


def _sweep(
    argv: list[str],
    *,
    address: str | None,
    store: str | os.PathLike[str] | None,
    progress: Progress,
    threads_per_task: int,
    retries: int,
) -> tuple[Any, ...]:
    """Computes every task of ``argv`` on the cluster, stores the results, and assembles the command's
    documents from the store (``_native.run_command``'s tuple)."""
    global last_sweep
    last_sweep = sweep = Sweep()
    tasks, settings = _native.sweep_tasks(argv)
    scratch = None
    if store is None:
        # the command's own store (--cache), else none to keep (--no-cache: a scratch one), else svdiag's
        if "--cache" in argv[:-1]:
            store = argv[argv.index("--cache") + 1]
        elif "--no-cache" in argv:
            scratch = tempfile.TemporaryDirectory(prefix="svdiag-sweep-")
            store = os.path.join(scratch.name, "spectra.sqlite3")
    try:
        st = _native.SweepStore(os.fspath(store) if store is not None else _default_store(), settings)
        return _compute_and_assemble(argv, tasks, st, sweep, address, progress, threads_per_task, retries)
    finally:
        if scratch is not None:
            scratch.cleanup()


def _compute_and_assemble(
    argv: list[str],
    tasks: list[dict[str, Any]],
    st: Any,
    sweep: Sweep,
    address: str | None,
    progress: Progress,
    threads_per_task: int,
    retries: int,
) -> tuple[Any, ...]:
    import ray

    todo = [t for t in tasks if not st.has(t["path"], t["name"])]
    sweep.planned, sweep.skipped = len(tasks), len(tasks) - len(todo)
    todo.sort(key=lambda t: -t["cost"])
    total, bytes_total = len(tasks), sum(t["bytes"] for t in tasks)
    done, bytes_done = sweep.skipped, bytes_total - sum(t["bytes"] for t in todo)
    with progress_of(progress) as callback:
        if todo:
            connect(address)
            remote = ray.remote(_compute)
            # the stored keys, once in the object store: a task whose tensor hashes to one of them
            # (a frozen layer, a copied checkpoint) returns its key without computing
            known = ray.put(set(st.keys()))
            pending = {
                remote.options(num_cpus=threads_per_task, memory=int(t["memory"]), max_retries=retries,
                               retry_exceptions=False).remote(argv, os.path.abspath(t["path"]), t["tensor"],
                                                              threads_per_task, known): t
                for t in todo
            }
            try:
                _collect(ray, pending, st, sweep, callback, (done, total, bytes_done, bytes_total))
            except BaseException:
                # Ctrl-C (or any error here): the cluster stops what this sweep asked of it; what was
                # stored stays, and a rerun resumes from it
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        # the documents, by the local commands' code, from the stored spectra; a matrix whose task
        # failed is read here and fails as it fails in a local run
        return _native.sweep_documents(argv, st, callback)


def _collect(ray: Any, pending: dict[Any, dict[str, Any]], st: Any, sweep: Sweep, callback: Any,
             counts: tuple[int, int, int, int]) -> None:
    """Stores each task's result as it arrives (taking them in batches), and reports the progress."""
    done, total, bytes_done, bytes_total = counts
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=min(len(pending), 256), timeout=0.1)
        for ref in ready:
            t = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as e:  # its worker died more than `retries` times
                result = {"error": f"the task failed on the cluster: {type(e).__name__}: {e}"}
            if "error" in result:
                sweep.failed.append({"path": t["path"], "name": t["name"], "error": result["error"]})
            else:
                st.put(t["path"], t["name"], result)
                if result.get("known"):
                    sweep.known += 1
                else:
                    sweep.computed += 1
            done, bytes_done = done + 1, bytes_done + t["bytes"]
        if callback is not None:
            callback(done, total, bytes_done, bytes_total)


def run(
    source: Any,
    *,
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    threads_per_task: int = 1,
    retries: int = 3,
    **options: Any,
) -> Report:
    """:func:`svdiag.run` of checkpoint paths or model directories, on a Ray cluster (``address`` as
    for :func:`connect`; ``store``: the driver's result store, default svdiag's). Options as for
    :func:`svdiag.run`, exact mode only."""
    argv = ["analyze", *_paths(source), *_flags(**options)]
    _, text, columns, _ = _sweep(argv, address=address, store=store, progress=progress,
                                 threads_per_task=threads_per_task, retries=retries)
    return Report(text, columns, {}, [])


def analyze(source: Any, *, output: Literal["pandas", "polars"] = "pandas", **options: Any) -> Any:
    """:func:`svdiag.analyze` on a Ray cluster: :func:`run`'s report as a DataFrame."""
    return run(source, **options).to_frame(output)


def trend(
    run_: Any,
    *,
    alerts: Sequence[str] = (),
    drifts: Sequence[str] = (),
    no_alerts: bool = False,
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    threads_per_task: int = 1,
    retries: int = 3,
    **options: Any,
) -> Trend:
    """:func:`svdiag.trend` on a Ray cluster: every matrix of every checkpoint is a task."""
    argv = _trend_argv(run_, alerts, drifts, no_alerts, options)
    _, text, csv_text, _ = _sweep(argv, address=address, store=store, progress=progress,
                                  threads_per_task=threads_per_task, retries=retries)
    return Trend(text, csv_text)


def compare(
    a: Any,
    b: Any,
    *,
    step: int | None = None,
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    threads_per_task: int = 1,
    retries: int = 3,
    **options: Any,
) -> Comparison:
    """:func:`svdiag.compare` on a Ray cluster."""
    argv = _compare_argv(a, b, step, options)
    _, text, csv_text, _ = _sweep(argv, address=address, store=store, progress=progress,
                                  threads_per_task=threads_per_task, retries=retries)
    return Comparison(text, csv_text)
