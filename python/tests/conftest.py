"""Shared fixtures: the repository's test data, an independent safetensors reader, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
REFERENCE = DATA / "reference" / "reference.safetensors"
MODELS = Path(os.environ.get("SVDIAG_MODELS", "/tmp/svdiag-models"))

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a NumPy array, read here (not by svdiag): the 8-byte
    header length, the JSON header, the little-endian data. BF16 needs ml_dtypes."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] == "BF16":
            import ml_dtypes

            dtype = ml_dtypes.bfloat16
        else:
            dtype = _DTYPES[info["dtype"]]
        s, e = info["data_offsets"]
        out[name] = np.frombuffer(data[s:e], dtype=np.dtype(dtype).newbyteorder("<")).reshape(info["shape"]).copy()
    return out


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """A safetensors file written here (not by svdiag): little-endian data in the given order."""
    tags = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32"}
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        blob = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": tags[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def cli() -> list[str]:
    """The svdiag command this package installed (same Rust code as the cargo binary)."""
    exe = shutil.which("svdiag", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "svdiag"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cli(), *args], capture_output=True, text=True, check=False)


def models_or_skip(name: str) -> Path:
    path = MODELS / name
    if not path.exists():
        pytest.skip(f"{path} is not fetched: run scripts/fetch-example-models.sh (scripts/test.sh does)")
    return path
