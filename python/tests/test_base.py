"""`svdiag.run(adapter, base=MODEL)`: a PEFT adapter merged into its base model."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import svdiag


def test_base_merges_the_updates_into_the_model():
    """`base=`: the report's `base` section compares W + ΔW with W (fixtures of tests/data/adapters,
    whose references come from NumPy: crates/analysis/tests/adapters.rs checks the values)."""
    data = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "adapters"
    report = svdiag.run(data / "lora", base=data / "lora_base", progress=False)
    base = report.document["base"]
    assert base["command"] == "compare" and len(base["matrices"]) == 6
    assert any("model.layers.1.mlp.down_proj.weight" in w for w in base["merge_warnings"])
    with pytest.raises(svdiag.exceptions.InvalidOptionError, match="not weights in memory"):
        svdiag.run({"w": np.ones((4, 3), np.float32)}, base=data / "lora_base", progress=False)
