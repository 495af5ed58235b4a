"""The DataFrame: the CSV's columns in order, typed (nullable integers for counts), pandas and polars
alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

import svdiag
from conftest import REFERENCE

IDENTITY = ["name", "file", "dtype", "shape", "rows", "cols", "reshaped", "gate", "role", "layer", "normalization", "q"]


def test_columns_and_types():
    df = svdiag.analyze(str(REFERENCE), progress=False)
    assert list(df.columns) == IDENTITY + list(svdiag.METRIC_FIELDS) + ["route", "diagnoses"]
    for name in ["layer", "numerical_rank", "num_tail", "outliers_above", "outliers_below", "farms_windows"]:
        assert str(df[name].dtype) == "Int64", name
    for name in ["entropy", "kl_uniform", "stable_rank", "alpha", "q"]:
        assert df[name].dtype == np.float64, name
    zeros = df[df["name"] == "zeros_f32"].iloc[0]
    assert math.isnan(zeros["entropy"]) and zeros["numerical_rank"] == 0
    assert df[df["name"] == "ill_conditioned_f64"].iloc[0]["condition_number"] > 1e6
    assert isinstance(df["shape"].iloc[0], tuple) and isinstance(df["diagnoses"].iloc[0], tuple)


def test_polars_has_the_same_values_with_true_nulls():
    pl = pytest.importorskip("polars", reason="output='polars' needs polars")
    pd_df = svdiag.analyze(str(REFERENCE), progress=False)
    pl_df = svdiag.analyze(str(REFERENCE), progress=False, output="polars")
    assert pl_df.columns == list(pd_df.columns)
    assert pl_df["entropy"].null_count() == int(pd_df["entropy"].isna().sum()) > 0
    for name in svdiag.METRIC_FIELDS:
        a = pd_df[name].astype("float64").to_numpy()
        b = pl_df[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        assert np.array_equal(a, b, equal_nan=True), name


def test_inspect_lists_tensors_without_computing():
    df = svdiag.inspect(str(REFERENCE))
    row = df[df["name"] == "conv_f32"].iloc[0]
    assert row["shape"] == (8, 3, 3, 3) and row["matrix_shape"] == (8, 27)
    assert df[df["name"] == "bias_f32"].iloc[0]["skip_reason"].startswith("1-D tensor")
