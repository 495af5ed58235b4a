"""Progress of a long analysis: a bar in a terminal or a notebook, a user's callable, or nothing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Bar:
    """tqdm's bar (its notebook widget under Jupyter) when tqdm is installed, else one line on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._last = -1
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self._tqdm = tqdm

    def __call__(self, done: int, total: int, bytes_done: int, bytes_total: int) -> None:
        if self._tqdm is not None:
            if self._bar is None:
                self._bar = self._tqdm(total=total, unit="matrix", desc="svdiag", leave=False)
            elif total != self._bar.total:  # a run command's total grows checkpoint by checkpoint
                self._bar.total = total
                self._bar.refresh()
            self._bar.update(done - self._bar.n)
        elif done != self._last:
            self._last = done
            mb = f"{bytes_done / 1e6:.0f}/{bytes_total / 1e6:.0f} MB"
            sys.stderr.write(f"\rsvdiag: {done}/{total} matrices, {mb}")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._last >= 0:
            sys.stderr.write("\n")


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def progress_callback(progress: Any) -> Any:
    """What the native module calls every 0.1 s, or ``None``."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None or progress is True:
        return _Bar() if (progress is True or _interactive()) else None
    raise TypeError("progress must be None, True, False or a callable")


@contextmanager
def progress_of(progress: Any) -> Iterator[Any]:
    """The callback of :func:`progress_callback`, its bar closed when the call ends (even by
    Ctrl-C)."""
    callback = progress_callback(progress)
    try:
        yield callback
    finally:
        if callback is not None and hasattr(callback, "close"):
            callback.close()
