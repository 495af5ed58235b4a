"""One test per exception class: each is raised where the command would fail, carries the command's
message, and is also the builtin an idiomatic ``except`` expects."""

from __future__ import annotations

import math

import numpy as np
import pytest

import svdiag
from svdiag import _native
from svdiag.exceptions import (
    CheckpointNotFoundError,
    CheckpointReadError,
    ConvergenceError,
    FailedTensorsWarning,
    FilterMatchesNothingError,
    InvalidCheckpointError,
    InvalidOptionError,
    InvalidTensorError,
    NonFiniteError,
    NothingToAnalyzeError,
    SvdiagError,
    SvdiagMemoryError,
    UnsafePickleError,
    UnsupportedDtypeError,
    UnsupportedFormatError,
)
from conftest import DATA, REFERENCE

HOSTILE = DATA / "hostile"


@pytest.mark.parametrize("cls,builtin", [
    (CheckpointNotFoundError, FileNotFoundError),
    (CheckpointReadError, OSError),
    (InvalidCheckpointError, ValueError),
    (UnsafePickleError, InvalidCheckpointError),
    (UnsupportedFormatError, ValueError),
    (InvalidTensorError, ValueError),
    (FilterMatchesNothingError, ValueError),
    (InvalidOptionError, ValueError),
    (NonFiniteError, ValueError),
    (UnsupportedDtypeError, TypeError),
    (SvdiagMemoryError, MemoryError),
    (ConvergenceError, ArithmeticError),
    (NothingToAnalyzeError, ValueError),
])
def test_every_class_is_an_svdiag_error_and_its_builtin(cls, builtin):
    assert issubclass(cls, SvdiagError) and issubclass(cls, builtin)
    assert set(svdiag.exceptions.__all__) >= {cls.__name__}


def test_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        svdiag.analyze(str(tmp_path / "nope.safetensors"), progress=False)
    assert isinstance(e.value, CheckpointNotFoundError)
    assert f"cannot read {tmp_path / 'nope.safetensors'}" in str(e.value)


def test_a_hub_id_gets_a_hint_to_download_it_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointNotFoundError, match="looks like a Hugging Face Hub id: svdiag reads local files only"):
        svdiag.analyze("openai-community/gpt2", progress=False)


def test_a_directory_without_checkpoints(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint in this directory"):
        svdiag.analyze(str(tmp_path), progress=False)


def test_an_unreadable_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(REFERENCE.read_bytes())
    path.chmod(0)
    try:
        path.open("rb").close()
        pytest.skip("running as a user who can read a mode-000 file (root): no read error to provoke")
    except PermissionError:
        pass
    with pytest.raises(CheckpointReadError, match="cannot read"):
        svdiag.analyze(str(path), progress=False)


@pytest.mark.parametrize("name", sorted(p.name for p in (HOSTILE / "safetensors").iterdir() if p.name != "nan_matrix.safetensors"))
def test_hostile_safetensors_are_invalid_checkpoints(name):
    with pytest.raises(InvalidCheckpointError):
        svdiag.analyze(str(HOSTILE / "safetensors" / name), progress=False)


@pytest.mark.parametrize("name,global_name", [
    ("os_system.pt", "posix.system"),
    ("builtins_eval.pt", "__builtin__.eval"),
    ("subprocess_popen.pt", "commands.Popen"),
    ("legacy_os_system.pt", "posix.system"),
])
def test_pickles_that_would_run_code_are_refused_and_nothing_runs(name, global_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsafePickleError, match="refused") as e:
        svdiag.analyze(str(HOSTILE / "pytorch" / name), progress=False)
    assert (e.value.global_name, e.value.executes_code) == (global_name, True)
    assert "Do not torch.load this file" in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no side effect in the working directory


def test_a_plain_data_global_is_refused_with_the_python_option_to_allow_it():
    path = DATA / "formats" / "lightning_like.ckpt"
    with pytest.raises(UnsafePickleError) as e:
        svdiag.analyze(str(path), progress=False)
    assert not e.value.executes_code
    assert f"allow_globals=['{e.value.global_name}']" in str(e.value) or f'allow_globals=["{e.value.global_name}"]' in str(e.value)
    assert "--allow-global" not in str(e.value)
    report = svdiag.run(str(path), allow_globals=[e.value.global_name], progress=False)
    assert report.document["matrices"]


def test_an_unsupported_format(tmp_path):
    path = tmp_path / "model.pkl"  # a plain pickle, not written by torch.save
    path.write_bytes(b"\x80\x04\x95" + bytes(64))
    with pytest.raises(UnsupportedFormatError, match="not supported yet"):
        svdiag.analyze(str(path), progress=False)


def test_a_hdf5_file_outside_the_supported_subset_names_the_feature(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n\x02" + bytes(64))  # superblock version 2
    with pytest.raises(InvalidCheckpointError, match="superblock version 2 is not supported"):
        svdiag.analyze(str(path), progress=False)


def test_tensor_bytes_that_do_not_fit_their_shape():
    raw = np.zeros(24, np.uint8)
    with pytest.raises(InvalidTensorError, match="24 bytes cannot hold a \\[2, 4\\] tensor of F32"):
        _native.analyze_tensors([("w", raw, "F32", [2, 4])], "<memory>", [])


def test_a_filter_matching_nothing():
    with pytest.raises(FilterMatchesNothingError, match="matches no tensor name"):
        svdiag.analyze(str(REFERENCE), filter="no_such_tensor", progress=False)


@pytest.mark.parametrize("options,message", [
    ({"normalization": "bogus"}, "--normalization"),
    ({"q": -1}, "Rényi order q must be ≥ 0"),
    ({"thresholds": {"no_such": 1}}, "unknown threshold 'no_such'"),
    ({"filter": "("}, "invalid --filter pattern"),
])
def test_invalid_options_name_the_flag(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        svdiag.analyze(str(REFERENCE), progress=False, **options)


def test_a_non_finite_matrix():
    w = np.ones((5, 4))
    w[2, 3] = math.nan
    with pytest.raises(NonFiniteError, match=r"element \[2, 3\] is NaN"):
        svdiag.spectrum(w)


def test_an_unsupported_dtype():
    with pytest.raises(UnsupportedDtypeError, match="complex128 is not supported"):
        svdiag.analyze(np.ones((3, 3), np.complex128), progress=False)
    with pytest.raises(UnsupportedDtypeError, match="cannot hold a 3×3 F32 matrix"):
        _native.measure(np.zeros(8, np.uint8), "F32", 3, 3, [])


def test_nothing_to_analyze_raises_with_the_reasons():
    with pytest.raises(NothingToAnalyzeError, match="bias: 1-D tensor"):
        svdiag.analyze({"bias": np.zeros(4)}, progress=False)


def test_partial_failures_are_reported_and_warned_not_raised():
    w = np.ones((6, 5))
    w[0, 0] = math.inf
    good = np.random.default_rng(0).standard_normal((6, 5))
    with pytest.warns(FailedTensorsWarning, match="1 of 2 matrices failed \\(bad\\)"):
        report = svdiag.run({"bad": w, "good": good}, progress=False)
    assert [f["name"] for f in report.failed] == ["bad"]
    assert report.failed[0]["error"] == "element [0, 0] is inf; spectra of non-finite matrices are undefined"
