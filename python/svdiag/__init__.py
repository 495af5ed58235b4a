"""svdiag: spectral diagnostics of neural-network weights.

For every weight matrix, from singular values computed exactly in f64: singular entropy and its
relatives, effective and stable rank, norms, the random-matrix (Marchenko–Pastur) baseline with its
outliers, heavy-tail exponents, and diagnoses. The numbers, names and messages are those of the
``svdiag`` command (installed with this package); every field is defined, with its source, in the
repository's ``docs/metrics.md``.

>>> import svdiag
>>> df = svdiag.analyze("all-MiniLM-L6-v2/")            # a file, several files, a model directory
>>> df = svdiag.analyze(model.state_dict())              # or arrays / tensors in memory, never copied
>>> df[["name", "role", "kl_uniform", "kl_excess", "stable_rank", "alpha"]]

The analysis runs in Rust with the GIL released, on all cores unless ``threads`` is given; Ctrl-C
stops it between matrices.
"""

from __future__ import annotations

import html
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _native, exceptions
from ._frame import to_frame
from ._inputs import Tensors, resolve
from ._progress import progress_of
from .exceptions import (
    FailedTensorsWarning,
    NothingToAnalyzeError,
    SvdiagError,
)

__all__ = [
    "analyze",
    "run",
    "spectrum",
    "metrics",
    "inspect",
    "trend",
    "compare",
    "delta",
    "Report",
    "Trend",
    "Comparison",
    "METRIC_FIELDS",
    "SvdiagError",
    "exceptions",
    "__version__",
]

__version__: str = _native.__version__

#: Every per-matrix metric field, in canonical order (the DataFrame's metric columns).
METRIC_FIELDS: tuple[str, ...] = tuple(_native.metric_fields()[0])

Progress = bool | Callable[[int, int, int, int], Any] | None


class _Page:
    """The HTML report of a document (shared by :class:`Report`, :class:`Trend`, :class:`Comparison`)."""

    _text: str

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The self-contained HTML page ``--format html`` writes for this document (the same
        renderer): one file with its plots, that opens from disk and fetches nothing. With ``path``,
        also writes it there (through a temporary file renamed into place). Per-matrix spectra are
        drawn when the analysis kept them: ``run(..., plot_data=True)`` (``trend`` and ``compare``
        pages need nothing extra)."""
        page = _native.render_html(self._text)
        if path is not None:
            target = Path(path)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(page, encoding="utf-8")
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return page

    def _repr_html_(self) -> str:
        """Notebook display: the page in an isolated frame (its own styles, script and policy)."""
        page = html.escape(self.to_html(), quote=True)
        return f'<iframe srcdoc="{page}" sandbox="allow-scripts" style="width:100%;height:760px;border:1px solid #ccc"></iframe>'


class Report(_Page):
    """The full result of :func:`run`: the per-matrix table, what was skipped or failed and why,
    the diagnoses, and the JSON document ``svdiag analyze --format json`` writes for the same input.

    Attributes:
        document: the JSON document as a dict (``tool``, ``version``, ``inputs``, ``settings``,
            ``summary``, ``matrices``, ``skipped``, ``failed``, ``warnings``, ``diagnoses``).
        skipped: tensors that are not matrices, each with its ``reason``.
        failed: matrices whose analysis failed, each with its ``error``.
        diagnoses: the diagnoses (per matrix, per model, pruning candidates, depth profile, thresholds).
        warnings: notes that are not failures (including tied weights read once).
        aliases: for tied weights, each extra name -> the name its storage was analyzed under.
    """

    def __init__(self, text: str, columns: list, aliases: Mapping[str, str], notes: Sequence[str]) -> None:
        self._text = text
        self._columns = columns
        self.document: dict[str, Any] = json.loads(text)
        self.aliases: dict[str, str] = dict(aliases)
        self.skipped: list[dict[str, Any]] = self.document["skipped"]
        self.failed: list[dict[str, Any]] = self.document["failed"]
        self.diagnoses: dict[str, Any] = self.document.get("diagnoses", {})
        self.warnings: list[str] = list(self.document["warnings"]) + list(notes) + [
            f"{alias} shares its storage with {name}: analyzed once, as {name}" for alias, name in self.aliases.items()
        ]

    def to_json(self) -> str:
        """The JSON document, exactly as ``svdiag analyze --format json`` writes it."""
        return self._text

    def to_frame(self, output: Literal["pandas", "polars"] = "pandas") -> Any:
        """One row per analyzed matrix; the columns of ``svdiag analyze --format csv``, in order."""
        return to_frame(self._columns, output)

    @property
    def matrices(self) -> Any:
        """The per-matrix table as a pandas DataFrame."""
        return self.to_frame("pandas")

    def __repr__(self) -> str:
        s = self.document["summary"]
        return f"<svdiag.Report: {s['matrices']} matrices analyzed, {s['skipped']} skipped, {s['failed']} failed>"


def _flags(
    *,
    filter: str | None = None,
    normalization: str | None = None,
    q: float | str | None = None,
    method: str | None = None,
    quick: bool = False,
    approx: bool | str | None = None,
    approx_probes: int | None = None,
    approx_seed: int | None = None,
    farms: bool | Mapping[str, float] = False,
    polar: bool = False,
    thresholds: Mapping[str, float] | None = None,
    threads: int | None = None,
    spectrum: bool = False,
    plot_data: bool = False,
    split_gates: bool = False,
    allow_globals: Sequence[str] = (),
    base: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The command line's flags for these options (the CLI's parser validates them; an option left
    at ``None`` takes the command line's default)."""
    out = []
    if normalization is not None:
        out += ["--normalization", str(normalization)]
    if method is not None:
        out += ["--method", str(method)]
    if q is not None:
        out += ["--q", "inf" if isinstance(q, float) and math.isinf(q) else str(q)]
    if filter is not None:
        out += ["--filter", filter]
    if quick:
        out.append("--quick")
    if approx:
        out += ["--approx", "auto" if approx is True else str(approx)]
        if approx_probes is not None:
            out += ["--approx-probes", str(approx_probes)]
        if approx_seed is not None:
            out += ["--approx-seed", str(approx_seed)]
    if farms:
        out.append("--farms")
        if isinstance(farms, Mapping):
            for key, value in farms.items():
                out += [f"--farms-{key}", str(value)]
    if polar:
        out.append("--polar")
    for name, value in (thresholds or {}).items():
        out += ["--threshold", f"{name}={value}"]
    if threads is not None:
        out += ["--threads", str(threads)]
    if spectrum:
        out.append("--spectrum")
    if plot_data:
        out.append("--plot-data")
    if split_gates:
        out.append("--split-gates")
    for g in allow_globals:
        out += ["--allow-global", g]
    if base is not None:
        out += ["--base", os.fspath(base)]
    return out


def _hub_hint(paths: Sequence[str]) -> str:
    """A hint for a missing path that reads like a Hugging Face Hub id (svdiag never downloads)."""
    import re

    for p in paths:
        if not os.path.exists(p) and re.fullmatch(r"[\w.-]+/[\w.-]+", p):
            return (
                f"\n{p!r} looks like a Hugging Face Hub id: svdiag reads local files only; download it first "
                "(huggingface_hub.snapshot_download) and pass the directory"
            )
    return ""


def _device_spectra(src: Tensors, flags: list[str], filter: str | None) -> list[tuple]:
    """The device route for ``src.device_items``: each accepted spectrum as the native module takes
    it; a matrix the guard does not accept goes to ``src.items`` (copied to the host) for the CPU
    route."""
    if not src.device_items:
        return []
    import re

    from . import _torch_route
    from ._inputs import _TAGS, torch_view

    spectra = []
    for name, tensor, target in src.device_items:
        if filter is not None and not re.search(filter, name):
            # left out by the filter: a placeholder the native filter drops by name (its data is never read)
            src.items.append((name, np.zeros(0, np.uint8), "F32", (0,)))
            continue
        t = tensor.detach()
        if t.device != target:
            t = t.to(target)
        shape = [int(d) for d in t.shape]
        t = t.reshape(shape[0], -1)  # a conv kernel [out, in, kh, kw] is the matrix [out, in·kh·kw]
        rows, cols = (int(d) for d in t.shape)
        gram = _torch_route.gram_eigenvalues(t, rows, cols)
        accepted, values = False, None
        if gram is not None:
            lam, trace, l12 = gram
            accepted, values, _ = _native.gram_verdict(lam, trace, rows, cols, flags)
        tag = _TAGS[str(t.dtype).removeprefix("torch.")]
        if accepted:
            spectra.append((name, tag, shape, values, l12, _torch_route.how(t)))
        else:
            view = torch_view(name, tensor)  # the CPU route refines σ_min or takes the direct SVD
            if view is not None:
                src.items.append(view)
    return spectra


def run(
    source: Any,
    *,
    progress: Progress = None,
    label: str = "<memory>",
    device: str | None = "auto",
    **options: Any,
) -> Report:
    """Analyzes every weight matrix of ``source`` and returns the full :class:`Report`.

    Args:
        source: a checkpoint path, several paths, or a model directory (safetensors, PyTorch,
            NumPy, GGUF, ONNX; Hugging Face layouts with shards); or weights in memory: a NumPy
            array, a mapping of arrays or tensors (a state dict, nested dicts named by key path), a
            ``torch.nn.Module``, or any array with ``__dlpack__``/``__array__``. Arrays are read
            through a zero-copy byte view; tied weights are analyzed once.
        progress: ``None`` shows a progress bar in a terminal or notebook, ``False`` none; a
            callable receives ``(matrices_done, matrices, bytes_done, bytes)`` every 0.1 s.
        label: the ``file`` name given to weights in memory.
        device: for torch tensors, where their Gram matrices are formed: ``"auto"`` (default) on the
            GPU they live on when its f64 is fast (datacenter parts), else on the CPU (and a warning
            says so); ``"cuda"``, ``"cuda:1"``, ``"cpu"``: by torch on that device; ``None``: every
            tensor by svdiag's CPU route. On a device only the eigenvalues cross to the host, and
            svdiag's guard decides as on the CPU route: a matrix it does not accept is copied to the
            host and refined or decomposed there (its ``route`` says which). Exact mode only:
            ``quick``, ``approx``, ``polar``, ``farms`` and ``split_gates`` read the entries on the CPU.
        **options: the options of ``svdiag analyze``: ``filter`` (regex), ``normalization``
            (``"sigma"`` or ``"energy"``), ``q`` (Rényi order, ``float("inf")`` allowed), ``method``
            (``"auto"`` or ``"svd"``), ``quick``, ``approx`` (``True``, ``"auto"``, ``"always"``;
            ``approx_probes``, ``approx_seed``), ``farms`` (``True`` or a dict of ``window``,
            ``ratio``, ``overlap``), ``polar``, ``thresholds`` (name -> value), ``threads``,
            ``spectrum`` (keep singular values in the JSON), ``plot_data`` (keep what the HTML
            report draws of each spectrum, for :meth:`Report.to_html`), ``split_gates``,
            ``allow_globals``, ``base`` (with a PEFT adapter: the base model its updates are merged
            into; the comparison of ``W + ΔW`` with ``W`` is the report's ``document["base"]``).

    Raises:
        NothingToAnalyzeError: no matrix was analyzed (all skipped or failed; reasons in the message).
        SvdiagError: a path is missing or invalid, an option is invalid, ... (see svdiag.exceptions).

    Matrices that fail (e.g. NaN) do not raise: they are in ``Report.failed`` and announced by a
    :class:`~svdiag.exceptions.FailedTensorsWarning`.
    """
    flags = _flags(**options)
    needs_entries = any(options.get(k) for k in ("quick", "approx", "polar", "farms", "split_gates"))
    with progress_of(progress) as callback:
        src = resolve(source, device=None if needs_entries else device)
        if isinstance(src, Tensors):
            spectra = _device_spectra(src, flags, options.get("filter"))
            text, columns, failed = _native.analyze_tensors(src.items, label, flags, callback, spectra)
            report = Report(text, columns, src.aliases, src.notes)
        else:
            try:
                text, columns, failed = _native.analyze_paths(src, flags, callback)
            except exceptions.CheckpointNotFoundError as e:
                raise type(e)(str(e) + _hub_hint(src)) from None
            report = Report(text, columns, {}, [])
    if not report.document["matrices"]:
        reasons = [f"{s['name']}: {s['reason']}" for s in report.skipped] + [
            f"{f['name']}: {f['error']}" for f in report.failed
        ]
        shown = "; ".join(reasons[:10]) + (f"; … ({len(reasons) - 10} more)" if len(reasons) > 10 else "")
        raise NothingToAnalyzeError(f"no matrix was analyzed ({shown or 'no tensors'})")
    if failed:
        names = ", ".join(f["name"] for f in report.failed[:5])
        warnings.warn(
            f"{failed} of {failed + len(report.document['matrices'])} matrices failed ({names}{', …' if failed > 5 else ''}); "
            "see Report.failed",
            FailedTensorsWarning,
            stacklevel=2,
        )
    return report


def analyze(source: Any, *, output: Literal["pandas", "polars"] = "pandas", **options: Any) -> Any:
    """One row per weight matrix of ``source``: a pandas (or, with ``output="polars"``, polars)
    DataFrame with the columns of ``svdiag analyze --format csv`` in the same order.

    Integer columns that can be undefined (``layer``, ``numerical_rank``, ``num_tail``,
    ``outliers_above``, ``outliers_below``, ``farms_windows``) are nullable integers; an undefined
    metric is NaN in pandas and null in polars (the reason is in :func:`run`'s report). ``shape`` is
    the stored shape as a tuple, ``diagnoses`` a tuple of names. Takes the arguments of :func:`run`.
    """
    return run(source, **options).to_frame(output)


def _matrix(x: Any) -> tuple[np.ndarray, str, int, int]:
    src = resolve(x)
    if not isinstance(src, Tensors) or len(src.items) != 1:
        raise TypeError("expected one matrix (a 2-D array or tensor)")
    name, raw, tag, shape = src.items[0]
    if len(shape) < 2:
        raise ValueError(f"expected a matrix, got shape {shape}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    return raw, tag, rows, cols


def spectrum(matrix: Any, *, method: str | None = None) -> np.ndarray:
    """The singular values of one matrix, in f64, non-increasing, by the same guarded route as
    :func:`analyze` (a tensor with more than two axes is taken as ``[d0, d1·d2·…]``).

    >>> svdiag.spectrum(np.diag([3.0, 4.0, 0.0]))
    array([4., 3., 0.])
    """
    raw, tag, rows, cols = _matrix(matrix)
    values, _, _, _ = _native.measure(raw, tag, rows, cols, _flags(method=method))
    assert values is not None  # exact modes always return the singular values
    return values


def metrics(
    x: Any,
    *,
    shape: tuple[int, int] | None = None,
    normalization: str | None = None,
    q: float | str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    """Every metric of one matrix, by canonical name (``None`` where undefined).

    ``x`` is a matrix (any array or tensor), or, with ``shape=(m, n)``, its ``min(m, n)`` singular
    values; from singular values alone ``l12_norm`` (a function of the columns) is ``None``.

    >>> m = svdiag.metrics(np.diag([3.0, 4.0]))
    >>> m["stable_rank"], round(m["kl_uniform"], 6), m["numerical_rank"], m["route"]
    (1.5625, 0.010239, 2, 'gram')
    >>> svdiag.metrics([4.0, 3.0], shape=(2, 2))["l12_norm"] is None
    True
    """
    flags = _flags(normalization=normalization, q=q, method=method)
    if shape is not None:
        values = np.asarray(x, dtype=np.float64).reshape(-1)
        return _native.metrics_of(values.tolist(), int(shape[0]), int(shape[1]), flags)
    raw, tag, rows, cols = _matrix(x)
    _, out, route, reason = _native.measure(raw, tag, rows, cols, flags)
    out["route"] = route
    out["route_reason"] = reason
    return out


def inspect(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    filter: str | None = None,
    allow_globals: Sequence[str] = (),
) -> Any:
    """What checkpoints hold, without computing anything: one row per tensor (``file``, ``format``,
    ``name``, ``dtype``, ``shape``, ``bytes``, and the ``matrix_shape`` analysis would use or the
    ``skip_reason``), as a pandas DataFrame."""
    import pandas as pd

    paths = resolve(source)
    if isinstance(paths, Tensors):
        raise TypeError("inspect reads checkpoint files: pass a path or a list of paths")
    doc = json.loads(_native.inspect_paths(paths, _flags(filter=filter, allow_globals=allow_globals)))
    frame = pd.DataFrame(doc["tensors"])
    for col in ("shape", "matrix_shape"):
        frame[col] = [tuple(v) if v is not None else None for v in frame[col]]
    return frame


def _run_flags(
    *,
    filter: str | None = None,
    normalization: str | None = None,
    q: float | str | None = None,
    method: str | None = None,
    threads: int | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    allow_globals: Sequence[str] = (),
) -> list[str]:
    """The flags the run commands share. ``cache``: ``None`` or ``True`` the command's default result
    store, ``False`` none, a path that file."""
    out = _flags(filter=filter, normalization=normalization, q=q, method=method, threads=threads, allow_globals=allow_globals)
    if cache is False:
        out.append("--no-cache")
    elif cache is not None and cache is not True:
        out += ["--cache", os.fspath(cache)]
    return out + ["--quiet"]


def _paths(source: Any) -> list[str]:
    paths = resolve(source)
    if isinstance(paths, Tensors):
        raise TypeError("the run commands read checkpoints from disk: pass paths (a run directory or checkpoints)")
    return paths


class Trend(_Page):
    """A training run as time series (``svdiag trend``): ``series``, one row per matrix and checkpoint
    with every metric (the command's CSV, long form); ``alerts`` (jumps and drifts with their evidence,
    diagnosis, mitigations and caveat); ``aggregates`` (per-role and per-depth medians at each step);
    ``checkpoints``; ``document``, the JSON the command writes (``to_json()``)."""

    def __init__(self, text: str, csv_text: str) -> None:
        import io

        import pandas as pd

        self._text = text
        self.document: dict[str, Any] = json.loads(text)
        self.series = pd.read_csv(io.StringIO(csv_text))
        self.alerts: list[dict[str, Any]] = self.document["alerts"]
        self.aggregates = pd.DataFrame(self.document["aggregates"])
        self.checkpoints = pd.DataFrame(self.document["run"]["checkpoints"])
        self.notes: list[str] = self.document["notes"]

    def to_json(self) -> str:
        """The JSON document, exactly as ``svdiag trend --format json`` writes it."""
        return self._text

    def __repr__(self) -> str:
        return f"<svdiag.Trend: {len(self.checkpoints)} checkpoints, {self.series['matrix'].nunique()} matrices, {len(self.alerts)} alerts>"


class Comparison(_Page):
    """Two checkpoints or runs side by side (``svdiag compare``): ``matrices``, the differences per
    matrix and metric (the command's CSV, long form); ``verdicts`` (per metric, with the sign test's
    evidence); ``only_in_a``, ``only_in_b``, ``shape_mismatch``; ``document`` (``to_json()``)."""

    def __init__(self, text: str, csv_text: str) -> None:
        import io

        import pandas as pd

        self._text = text
        self.document: dict[str, Any] = json.loads(text)
        self.matrices = pd.read_csv(io.StringIO(csv_text))
        self.verdicts: list[dict[str, Any]] = self.document["verdicts"]
        self.only_in_a: list[str] = self.document["only_in_a"]
        self.only_in_b: list[str] = self.document["only_in_b"]
        self.shape_mismatch: list[Any] = self.document["shape_mismatch"]

    def to_json(self) -> str:
        """The JSON document, exactly as ``svdiag compare --format json`` writes it."""
        return self._text

    def __repr__(self) -> str:
        return f"<svdiag.Comparison: {len(self.verdicts)} verdicts>"


def trend(
    run: Any,
    *,
    alerts: Sequence[str] = (),
    drifts: Sequence[str] = (),
    no_alerts: bool = False,
    progress: Progress = None,
    **options: Any,
) -> Trend:
    """Every checkpoint of a training run (a run directory, or checkpoint paths in order) as time
    series, with alerts, as ``svdiag trend``. ``alerts``/``drifts`` take the command's rules
    (``"kl_uniform:rise:6"``, ``"stable_rank:fall:0.5"``); the other options are those of the run
    commands: ``filter``, ``normalization``, ``q``, ``method``, ``threads``, ``cache`` (``None``: the
    command's result store, ``False``: none, or a path), ``allow_globals``; ``progress`` as for
    :func:`run` (the bar counts the matrices of every checkpoint read so far). Alerts do not raise:
    they are in ``Trend.alerts``. Ctrl-C stops the command before its next matrix
    (``KeyboardInterrupt``); spectra already computed stay in the result store."""
    _, text, csv_text, _ = _run_command(_trend_argv(run, alerts, drifts, no_alerts, options), progress)
    return Trend(text, csv_text)


def _trend_argv(run: Any, alerts: Sequence[str], drifts: Sequence[str], no_alerts: bool, options: dict[str, Any]) -> list[str]:
    """``svdiag trend``'s command line for :func:`trend`'s arguments."""
    argv = ["trend", *_paths(run), *_run_flags(**options)]
    for rule in alerts:
        argv += ["--alert", rule]
    for rule in drifts:
        argv += ["--drift", rule]
    if no_alerts:
        argv.append("--no-alerts")
    return argv


def _compare_argv(a: Any, b: Any, step: int | None, options: dict[str, Any]) -> list[str]:
    """``svdiag compare``'s command line for :func:`compare`'s arguments."""
    argv = ["compare", *_paths(a), *_paths(b), *_run_flags(**options)]
    if step is not None:
        argv += ["--step", str(step)]
    return argv


def _run_command(argv: list[str], progress: Progress) -> tuple[Any, ...]:
    with progress_of(progress) as callback:
        return _native.run_command(argv, callback)


def compare(a: Any, b: Any, *, step: int | None = None, progress: Progress = None, **options: Any) -> Comparison:
    """Two checkpoints, or two runs (their last checkpoints, or those at ``step``), matrix by matrix,
    with a verdict per metric, as ``svdiag compare``. Options, progress and Ctrl-C as for :func:`trend`."""
    _, text, csv_text, _ = _run_command(_compare_argv(a, b, step, options), progress)
    return Comparison(text, csv_text)


def delta(
    a: Any, b: Any, *, spectrum: bool = False, plot_data: bool = False, progress: Progress = None, **options: Any
) -> Report:
    """Every metric of the update ``W_B − W_A`` of each matrix present in both checkpoints (or runs'
    last checkpoints), as ``svdiag delta``: a :class:`Report` whose document says ``"command": "delta"``.
    Options, progress and Ctrl-C as for :func:`trend`."""
    argv = ["delta", *_paths(a), *_paths(b), *_run_flags(**options)]
    if spectrum:
        argv.append("--spectrum")
    if plot_data:
        argv.append("--plot-data")
    _, text, columns, failed = _run_command(argv, progress)
    report = Report(text, columns, {}, [])
    if failed:
        warnings.warn(f"{failed} updates failed; see Report.failed", FailedTensorsWarning, stacklevel=2)
    return report
