"""The native module's typed columns as a pandas or polars DataFrame (no values are computed here)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np


def to_frame(columns: list, output: Literal["pandas", "polars"] = "pandas") -> Any:
    """``columns`` is ``[(name, kind, values), ...]`` in the CSV's order; ``kind`` says the type:
    ``text``/``opt_text`` (strings, ``None`` where absent), ``shape`` and ``list`` (tuples), ``int``
    (nullable integers), ``bool``, ``float`` (NaN where undefined)."""
    if output == "pandas":
        import pandas as pd

        data = {}
        for name, kind, values in columns:
            if kind == "int":
                data[name] = pd.array(values, dtype="Int64")
            elif kind == "float":
                data[name] = np.asarray(values, dtype=np.float64)
            elif kind == "bool":
                data[name] = np.asarray(values, dtype=bool)
            else:
                data[name] = pd.Series(values, dtype=object)
        return pd.DataFrame(data, columns=[c[0] for c in columns])
    if output == "polars":
        import polars as pl

        series = []
        for name, kind, values in columns:
            if kind == "int":
                series.append(pl.Series(name, values, dtype=pl.Int64))
            elif kind == "float":
                series.append(pl.Series(name, np.asarray(values, dtype=np.float64)).fill_nan(None))
            elif kind == "bool":
                series.append(pl.Series(name, values, dtype=pl.Boolean))
            elif kind in ("shape", "list"):
                inner = pl.Int64 if kind == "shape" else pl.String
                series.append(pl.Series(name, [list(v) for v in values], dtype=pl.List(inner)))
            else:
                series.append(pl.Series(name, values, dtype=pl.String))
        return pl.DataFrame(series)
    raise ValueError(f"output must be 'pandas' or 'polars', got {output!r}")
