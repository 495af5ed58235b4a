"""Training callbacks: spectral metrics of the model while it trains, logged where the trainer logs.

- :class:`HFSpectralCallback` for ``transformers.Trainer``;
- :class:`LightningSpectralCallback` for ``lightning.pytorch`` and :class:`PLSpectralCallback` for
  ``pytorch_lightning`` (Lightning refuses to mix objects of its two package names).

Each class is created on first use, so importing this module imports neither framework.

What they log, under ``prefix`` (default ``svdiag``): the median over each role's matrices of
``kl_uniform``, ``stable_rank``, ``effective_rank``, ``alpha`` and ``kl_excess``
(``svdiag/mlp_up/kl_uniform``, …), and with ``matrices=REGEX`` the same metrics of the matching
matrices. In ``quick`` mode (every ``every_n_steps`` steps, from the live weights) only the metrics
``--quick`` computes are logged (``stable_rank``, ``spectral_norm``, ``frobenius_norm``).

The Hugging Face callback analyzes each checkpoint the Trainer saves, from disk, through the result
store (a spectrum is never computed twice, e.g. for frozen weights), and raises the run's trend
alerts (sudden jumps, sustained drifts) as log entries and warnings. The Lightning callbacks analyze
the live module every ``every_n_steps`` optimizer steps and at each validation epoch end (where
``EarlyStopping``/``ModelCheckpoint`` can monitor the values).

Only the global rank 0 works. A failure inside a callback is reported as a
:class:`~svdiag.exceptions.SvdiagWarning` and never stops training.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from .exceptions import SvdiagWarning

__all__ = ["HFSpectralCallback", "LightningSpectralCallback", "PLSpectralCallback", "aggregate"]

ROLE_METRICS = ("kl_uniform", "stable_rank", "effective_rank", "alpha", "kl_excess")
QUICK_METRICS = ("stable_rank", "spectral_norm", "frobenius_norm")


class CallbackWarning(SvdiagWarning):
    """A spectral callback could not do its work at some step (training goes on)."""


def aggregate(frame: Any, prefix: str = "svdiag", metrics: tuple[str, ...] = ROLE_METRICS, matrices: str | None = None) -> dict[str, float]:
    """Per-role medians of ``metrics`` from an :func:`svdiag.analyze` DataFrame, as a flat dict of
    Python floats (``{prefix}/{role}/{metric}``), plus each matrix matching ``matrices``
    (``{prefix}/{name}/{metric}``). Undefined values are left out."""
    out: dict[str, float] = {}
    present = [m for m in metrics if m in frame.columns]
    for role, group in frame.groupby("role"):
        for m in present:
            v = group[m].astype("float64").median()
            if v == v:  # not NaN
                out[f"{prefix}/{role}/{m}"] = float(v)
    if matrices is not None:
        pattern = re.compile(matrices)
        for _, row in frame[[bool(pattern.search(n)) for n in frame["name"]]].iterrows():
            for m in present:
                v = float(row[m])
                if v == v:
                    out[f"{prefix}/{row['name']}/{m}"] = v
    return out


class _Monitor:
    """What every callback shares: the options, the alerts seen, and never letting an error escape."""

    def __init__(
        self,
        *,
        every_n_steps: int | None,
        quick: bool,
        prefix: str,
        matrices: str | None,
        cache: Any,
        options: dict[str, Any],
    ) -> None:
        self.every_n_steps = every_n_steps
        self.quick = quick
        self.prefix = prefix
        self.matrices = matrices
        self.cache = cache
        self.options = options
        self.seen_alerts: set[tuple] = set()
        self.last_step: int | None = None
        self.history: list[tuple[int, dict[str, float]]] = []

    def safely(self, step: int, what: str, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except Exception as e:  # noqa: BLE001 - a monitoring failure must never stop training
            warnings.warn(f"svdiag: {what} at step {step} failed: {type(e).__name__}: {e}", CallbackWarning, stacklevel=2)
            return None

    def live(self, module: Any) -> dict[str, float]:
        """The logged values of a live module (quick mode or exact)."""
        import svdiag

        frame = svdiag.analyze(module, progress=False, quick=self.quick, **self.options)
        return aggregate(frame, self.prefix, QUICK_METRICS if self.quick else ROLE_METRICS, self.matrices)

    def due(self, step: int) -> bool:
        """True once per optimizer step that is a multiple of ``every_n_steps``."""
        if not self.every_n_steps or step == 0 or step % self.every_n_steps or step == self.last_step:
            return False
        self.last_step = step
        return True


class _Monitored:
    """What the framework callbacks expose of their :class:`_Monitor`."""

    monitor: _Monitor

    @property
    def history(self) -> list[tuple[int, dict[str, float]]]:
        """Every ``(step, values)`` this callback logged."""
        return self.monitor.history


def _hf_class() -> type:
    from transformers import TrainerCallback

    class HFSpectralCallback(TrainerCallback, _Monitored):
        """Spectral metrics for ``transformers.Trainer``.

        >>> trainer = Trainer(model=model, args=args, ...)
        >>> trainer.add_callback(HFSpectralCallback(trainer))

        Args:
            trainer: the Trainer, whose ``log`` sends the values to every logger it has (TensorBoard,
                W&B, ...): a callback's own ``on_log`` runs after those have read the logs. Without
                it the values are only kept in ``.history``.
            every_n_steps: also analyze the live weights every N optimizer steps (``quick`` by default).
            quick: use ``--quick`` for the live analyses.
            on_save: analyze each checkpoint the Trainer saves (default True).
            prefix, matrices: see :func:`aggregate`.
            cache: the result store for checkpoints (``None``: the command's default, ``False``: none,
                or a path).
            **options: further options of :func:`svdiag.analyze` (``filter``, ``threads``, ...).
        """

        def __init__(
            self,
            trainer: Any = None,
            *,
            every_n_steps: int | None = None,
            quick: bool = True,
            on_save: bool = True,
            prefix: str = "svdiag",
            matrices: str | None = None,
            cache: Any = None,
            **options: Any,
        ) -> None:
            self.trainer = trainer
            self.analyze_saves = on_save
            self.monitor = _Monitor(
                every_n_steps=every_n_steps, quick=quick, prefix=prefix, matrices=matrices, cache=cache, options=options
            )

        def _log(self, step: int, values: dict[str, float]) -> None:
            if not values:
                return
            self.monitor.history.append((step, values))
            if self.trainer is not None:
                self.trainer.log(dict(values))

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or model is None or not self.monitor.due(state.global_step):
                return
            values = self.monitor.safely(state.global_step, "the live analysis", lambda: self.monitor.live(model))
            if values:
                self._log(state.global_step, values)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if not state.is_world_process_zero or not self.analyze_saves:
                return
            self.monitor.safely(state.global_step, "the checkpoint analysis", lambda: self._checkpoint(args, state))

        def _checkpoint(self, args: Any, state: Any) -> None:
            import svdiag

            run = args.output_dir
            m = self.monitor
            opts = {k: v for k, v in m.options.items() if k in ("filter", "normalization", "q", "method", "threads", "allow_globals")}
            t = svdiag.trend(run, cache=m.cache, **opts)
            last = t.series[t.series["step"] == t.series["step"].max()].rename(columns={"matrix": "name"})
            values = aggregate(last, m.prefix, ROLE_METRICS, m.matrices)
            fresh = []
            for a in t.alerts:
                key = (a["kind"], a["metric"], a["matrix"], a["to_step"])
                if key not in m.seen_alerts:
                    m.seen_alerts.add(key)
                    fresh.append(a)
            for a in fresh:
                values[f"{m.prefix}/alerts/{a['kind']}/{a['metric']}"] = values.get(
                    f"{m.prefix}/alerts/{a['kind']}/{a['metric']}", 0.0
                ) + 1.0
                warnings.warn(f"svdiag alert: {a['message']}", SvdiagWarning, stacklevel=2)
            self._log(state.global_step, values)

    return HFSpectralCallback


def _lightning_class(package: str) -> type:
    import importlib

    # one of Lightning's two package names; their Callback classes are distinct types
    Callback: Any = importlib.import_module("lightning.pytorch" if package == "lightning" else "pytorch_lightning").Callback

    class SpectralCallback(Callback, _Monitored):
        """Spectral metrics of the live ``LightningModule``: every ``every_n_steps`` optimizer steps
        to the trainer's loggers, and at each validation epoch end through ``pl_module.log_dict``
        (so that ``EarlyStopping(monitor="svdiag/mlp_up/kl_uniform")`` can watch them).

        Args:
            every_n_steps: analyze every N optimizer steps (``None``: only at validation epoch ends).
            quick: use ``--quick`` (default False: the exact metrics, including ``alpha``).
            on_validation: also analyze at each validation epoch end (default True).
            prefix, matrices: see :func:`aggregate`.
            **options: further options of :func:`svdiag.analyze`.
        """

        def __init__(
            self,
            *,
            every_n_steps: int | None = None,
            quick: bool = False,
            on_validation: bool = True,
            prefix: str = "svdiag",
            matrices: str | None = None,
            **options: Any,
        ) -> None:
            super().__init__()
            self.on_validation = on_validation
            self.monitor = _Monitor(
                every_n_steps=every_n_steps, quick=quick, prefix=prefix, matrices=matrices, cache=None, options=options
            )

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            step = trainer.global_step
            if trainer.sanity_checking or not trainer.is_global_zero or not self.monitor.due(step):
                return
            values = self.monitor.safely(step, "the live analysis", lambda: self.monitor.live(pl_module))
            if values:
                self.monitor.history.append((step, values))
                for logger in trainer.loggers:
                    logger.log_metrics(values, step=step)

        def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking or not self.on_validation:
                return
            step = trainer.global_step
            if not trainer.is_global_zero:
                return
            values = self.monitor.safely(step, "the validation analysis", lambda: self.monitor.live(pl_module))
            if values:
                self.monitor.history.append((step, values))
                pl_module.log_dict(values, rank_zero_only=True)

    SpectralCallback.__name__ = SpectralCallback.__qualname__ = (
        "LightningSpectralCallback" if package == "lightning" else "PLSpectralCallback"
    )
    return SpectralCallback


_MADE: dict[str, type] = {}


def __getattr__(name: str) -> type:
    makers = {
        "HFSpectralCallback": _hf_class,
        "LightningSpectralCallback": lambda: _lightning_class("lightning"),
        "PLSpectralCallback": lambda: _lightning_class("pytorch_lightning"),
    }
    if name not in makers:
        raise AttributeError(f"module 'svdiag.callbacks' has no attribute {name!r}")
    if name not in _MADE:
        _MADE[name] = makers[name]()
    return _MADE[name]


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

