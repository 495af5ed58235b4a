"""The package gives what the command gives: the same JSON document byte for byte, the same table as
the CSV cell for cell, and the same metrics for weights passed in memory as for the file they came
from."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

import svdiag
from conftest import REFERENCE, models_or_skip, read_safetensors, run_cli


def test_json_is_the_commands_byte_for_byte():
    report = svdiag.run(str(REFERENCE), progress=False, spectrum=True)
    cli = run_cli("analyze", str(REFERENCE), "--spectrum", "--format", "json")
    assert cli.returncode == 0, cli.stderr
    assert report.to_json() == cli.stdout


@pytest.mark.parametrize("options,flags", [
    ({"normalization": "energy", "q": float("inf")}, ["--normalization", "energy", "--q", "inf"]),
    ({"farms": True, "polar": True}, ["--farms", "--polar"]),
    ({"quick": True}, ["--quick"]),
    ({"approx": "always", "approx_probes": 8}, ["--approx", "always", "--approx-probes", "8"]),
    ({"thresholds": {"isotropy_mp_ks": 0.05}, "filter": "f32"}, ["--threshold", "isotropy_mp_ks=0.05", "--filter", "f32"]),
])
def test_options_mean_what_the_flags_mean(options, flags):
    report = svdiag.run(str(REFERENCE), progress=False, **options)
    cli = run_cli("analyze", str(REFERENCE), *flags, "--format", "json")
    assert report.to_json() == cli.stdout


def test_the_frame_is_the_csv_cell_for_cell():
    df = svdiag.analyze(str(REFERENCE), progress=False)
    cli = run_cli("analyze", str(REFERENCE), "--format", "csv")
    rows = list(csv.reader(io.StringIO(cli.stdout)))
    assert list(df.columns) == rows[0]
    assert len(df) == len(rows) - 1
    for i, row in enumerate(rows[1:]):
        for name, cell in zip(rows[0], row):
            value = df[name].iloc[i]
            if name == "shape":
                assert "x".join(map(str, value)) == cell
            elif name == "diagnoses":
                assert ";".join(value) == cell
            elif cell == "":
                assert value is None or value is np.nan or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "nan", "None")
            elif df[name].dtype == np.float64:
                assert value == (math.inf if cell == "inf" else float(cell)), (name, i)
            elif str(df[name].dtype) == "Int64":
                assert int(value) == int(cell), (name, i)
            elif df[name].dtype == bool:
                assert str(bool(value)).lower() == cell
            else:
                assert str(value) == cell, (name, i)


def _records(report):
    return {r["name"]: {k: v for k, v in r.items() if k != "file"} for r in report.document["matrices"]}


def test_arrays_in_memory_give_the_files_metrics_bit_for_bit():
    pytest.importorskip("ml_dtypes", reason="the reference file holds a BF16 tensor; ml_dtypes reads it")
    from_file = svdiag.run(str(REFERENCE), progress=False)
    arrays = read_safetensors(REFERENCE)
    in_memory = svdiag.run(arrays, progress=False)
    assert _records(in_memory) == _records(from_file)
    assert [s["name"] for s in in_memory.skipped] == [s["name"] for s in from_file.skipped]
    assert in_memory.document["diagnoses"] == from_file.document["diagnoses"]


def test_a_nested_state_dict_is_named_by_key_path():
    w = np.random.default_rng(1).standard_normal((20, 30))
    report = svdiag.run({"model": {"encoder": {"layer": {"0": {"weight": w}}}}, "epoch": 3}, progress=False)
    assert [r["name"] for r in report.document["matrices"]] == ["model.encoder.layer.0.weight"]


def test_the_real_model_in_memory_matches_its_file():
    path = models_or_skip("minilm-l6-v2") / "model.safetensors"
    arrays = read_safetensors(path)
    assert _records(svdiag.run(arrays, progress=False)) == _records(svdiag.run(str(path), progress=False))


def test_the_command_installed_with_the_package_exits_as_the_binary_does(tmp_path):
    assert run_cli("analyze", str(tmp_path / "missing.safetensors")).returncode == 2
    nan = REFERENCE.parent / "nonfinite.safetensors"
    out = run_cli("analyze", str(nan), "--format", "json")
    assert out.returncode == 1, out.stderr
    assert json.loads(out.stdout)["failed"]
    assert run_cli("--version").stdout.strip() == f"svdiag {svdiag.__version__}"
