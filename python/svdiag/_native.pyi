"""Type stubs of svdiag's native module (the public API is the svdiag package around it)."""

from collections.abc import Callable
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "analyze_paths",
    "analyze_tensors",
    "measure",
    "metrics_of",
    "gram_verdict",
    "inspect_paths",
    "run_command",
    "cli",
    "metric_fields",
    "render_html",
    "sweep_tasks",
    "sweep_compute",
    "sweep_documents",
    "SweepStore",
]
__version__: str

_Columns = list[tuple[str, str, Any]]
_Progress = Callable[[int, int, int, int], Any] | None

def analyze_paths(paths: list[str], flags: list[str], progress: _Progress = None) -> tuple[str, _Columns, int]: ...
def analyze_tensors(
    tensors: list[tuple[str, npt.NDArray[np.uint8], str, tuple[int, ...]]],
    label: str,
    flags: list[str],
    progress: _Progress = None,
    spectra: list[tuple[str, str, list[int], list[float], float, str]] = ...,
) -> tuple[str, _Columns, int]: ...
def measure(
    data: npt.NDArray[np.uint8], dtype_tag: str, rows: int, cols: int, flags: list[str]
) -> tuple[npt.NDArray[np.float64] | None, dict[str, Any], str | None, str | None]: ...
def gram_verdict(
    eigenvalues: list[float], trace: float, rows: int, cols: int, flags: list[str]
) -> tuple[bool, list[float] | None, str | None]: ...
def metrics_of(singular_values: list[float], rows: int, cols: int, flags: list[str]) -> dict[str, Any]: ...
def inspect_paths(paths: list[str], flags: list[str]) -> str: ...
def run_command(argv: list[str], progress: Any = None) -> tuple[str, str, Any, int]: ...
def cli(argv: list[str]) -> int: ...
def sweep_tasks(argv: list[str]) -> tuple[list[dict[str, Any]], str]: ...
def sweep_compute(
    argv: list[str], path: str, tensor: int, threads: int | None = None, known: set[bytes] | None = None
) -> dict[str, Any]: ...
def sweep_documents(argv: list[str], store: SweepStore, progress: Any = None) -> tuple[str, str, Any, int]: ...

@final
class SweepStore:
    def __new__(cls, path: str, settings: str) -> SweepStore: ...
    def has(self, path: str, name: str) -> bool: ...
    def keys(self) -> list[bytes]: ...
    def put(self, path: str, name: str, result: dict[str, Any]) -> None: ...
    def __len__(self) -> int: ...
    def problems(self) -> list[str]: ...
def render_html(json: str) -> str: ...
def metric_fields() -> tuple[list[str], list[str]]: ...
