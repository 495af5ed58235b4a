#!/usr/bin/env python3
"""Writes the weights of ../reference/reference.safetensors in other formats, for round-trip tests:
the same weights must give the same metrics whatever the container.

  python3 tests/data/formats/generate.py

Outputs (committed, small), next to this script:
  reference.npz             every float tensor, np.savez (stored members)
  reference_compressed.npz  the same, np.savez_compressed (deflated members)
  gauss_f32.npy             one matrix, C order
  gauss_f64_fortran.npy     one matrix, Fortran order
  conv_f32_bigendian.npy    a 4-D tensor, big-endian, Fortran order
and hostile files under ../hostile/<format>/ (each must give a clear error, never a crash).
Records the NumPy version in MANIFEST.json.
"""
import json
import os
import struct
import zipfile

import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(os.path.dirname(HERE), "hostile")


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in ("F32", "F64", "F16"):
            continue
        s, e = info["data_offsets"]
        dt = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[info["dtype"]]
        out[name] = np.frombuffer(buf[8 + n + s:8 + n + e], dtype=dt).reshape(info["shape"]).copy()
    return out


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def write_hostile_safetensors():
    d = os.path.join(HOSTILE, "safetensors")
    os.makedirs(d, exist_ok=True)

    def st(header, data):
        h = json.dumps(header, separators=(",", ":")).encode() if isinstance(header, dict) else header
        return struct.pack("<Q", len(h)) + h + data

    w = {"w": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 36]}}
    good = st(w, bytes(36))
    cases = {
        "empty.safetensors": b"",
        "not_safetensors.safetensors": b"this is a README, not a checkpoint\n",
        "truncated.safetensors": good[:-5],
        "trailing.safetensors": good + bytes(3),
        "header_longer_than_file.safetensors": struct.pack("<Q", 200) + b"{}",
        "header_not_json.safetensors": st(b'{"w": {"dtype": "F32", ', b""),
        "header_not_utf8.safetensors": st(b"\xff\xfe{}", b""),
        "overlapping_offsets.safetensors": st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                               "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}, bytes(24)),
        "offsets_out_of_range.safetensors": st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(8)),
        "shape_dtype_mismatch.safetensors": st({"a": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 16]}}, bytes(16)),
        "shape_overflow.safetensors": st({"a": {"dtype": "F32", "shape": [2**32, 2**32, 16], "data_offsets": [0, 16]}}, bytes(16)),
        "unknown_dtype.safetensors": st({"a": {"dtype": "Q4", "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(16)),
        "nan_matrix.safetensors": st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}},
                                     np.array([1, np.nan, 0, 1], dtype="<f4").tobytes()),
    }
    for name, data in cases.items():
        write(os.path.join(d, name), data)


def write_pytorch(arrays):
    """The same weights as torch.save would write them (zip and legacy), plus the shapes of real
    training checkpoints: a state dict nested under "model" beside plain data, parameters, a
    transposed (non-contiguous) view, and two tensors sharing one storage."""
    import argparse

    from torch_emulation import Storage, Tensor, save_legacy, save_zip, tensor_from_array

    sd = {}
    for i, (name, a) in enumerate(sorted(arrays.items())):
        sd[name] = tensor_from_array(str(i), a, parameter=(i % 2 == 0))
    save_zip(sd, os.path.join(HERE, "reference_zip.pt"))
    save_legacy(sd, os.path.join(HERE, "reference_legacy.pt"))

    g = arrays["gauss_f32"]  # 64×48
    shared = Storage("s", "FloatStorage", np.concatenate([g.ravel(), g.ravel()[:10]]).astype("<f4").tobytes(), g.size + 10)
    base = tensor_from_array("b", g)
    checkpoint = {
        "epoch": 7,
        "args": argparse.Namespace(lr=3e-4, name="run"),
        "best": 0.125,
        "model": {
            "gauss_f32": base,
            # the transpose of gauss_f32 saved as a view: size (48, 64), stride (1, 48)
            "gauss_f32_T": Tensor(base.storage, 0, [48, 64], [1, 48]),
            # two tensors in one storage: the second starts 10 elements in
            "shared_a": Tensor(shared, 0, [64, 48], [48, 1]),
            "shared_b": Tensor(shared, 10, [32, 96], [96, 1]),
        },
        "history": [1.0, 2.0],
    }
    save_zip(checkpoint, os.path.join(HERE, "nested_checkpoint.pt"), prefix="nested_checkpoint")
    # a training-framework checkpoint with a plain-data class svdiag does not know
    import types
    mod = types.ModuleType("lightning.fabric.utilities.data")
    AttributeDict = type("AttributeDict", (dict,), {"__module__": "lightning.fabric.utilities.data"})
    mod.AttributeDict = AttributeDict
    for parent in ("lightning", "lightning.fabric", "lightning.fabric.utilities"):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    sys.modules["lightning.fabric.utilities.data"] = mod
    save_zip({"state_dict": {"w": base}, "hyper_parameters": AttributeDict(lr=0.1)},
             os.path.join(HERE, "lightning_like.ckpt"), prefix="lightning_like")
    write_hostile_pytorch(arrays)


class _Evil:
    """Pickles as a call of `func(*args)`: what a malicious checkpoint does."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def write_hostile_pytorch(arrays):
    import builtins
    import subprocess

    from torch_emulation import Tensor, save_legacy, save_zip, tensor_from_array

    d = os.path.join(HOSTILE, "pytorch")
    os.makedirs(d, exist_ok=True)
    marker = "/tmp/svdiag-pwned-marker"
    # code execution attempts, each beside a real tensor: nothing may run, the file is refused
    w = tensor_from_array("0", arrays["gauss_f32"])
    for name, func, args in [
        ("os_system.pt", os.system, (f"touch {marker}",)),
        ("builtins_eval.pt", builtins.eval, (f"open('{marker}', 'w')",)),
        ("subprocess_popen.pt", subprocess.Popen, (["touch", marker],)),
    ]:
        save_zip({"w": w, "payload": _Evil(func, args)}, os.path.join(d, name))
    save_legacy({"w": w, "payload": _Evil(os.system, (f"touch {marker}",))}, os.path.join(d, "legacy_os_system.pt"))
    # broken files
    save_zip({"w": Tensor(w.storage, 0, [64, 64], [64, 1])}, os.path.join(d, "view_out_of_bounds.pt"))
    path = os.path.join(d, "missing_storage.pt")
    save_zip({"w": w}, path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist() if not n.endswith("data/0")}
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    path = os.path.join(d, "truncated_pickle.pt")
    save_zip({"w": w}, path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["archive/data.pkl"] = members["archive/data.pkl"][:-30]
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    legacy = os.path.join(d, "truncated_legacy.pt")
    save_legacy({"w": w}, legacy)
    data = open(legacy, "rb").read()
    write(legacy, data[: len(data) - 1000])


def main():
    arrays = read_safetensors(os.path.join(HERE, "..", "reference", "reference.safetensors"))
    np.savez(os.path.join(HERE, "reference.npz"), **arrays)
    np.savez_compressed(os.path.join(HERE, "reference_compressed.npz"), **arrays)
    np.save(os.path.join(HERE, "gauss_f32.npy"), arrays["gauss_f32"])
    np.save(os.path.join(HERE, "gauss_f64_fortran.npy"), np.asfortranarray(arrays["gauss_f64"]))
    np.save(os.path.join(HERE, "conv_f32_bigendian.npy"), np.asfortranarray(arrays["conv_f32"].astype(">f4")))
    write_pytorch(arrays)
    write_hostile_safetensors()
    # zip timestamps make .npz bytes vary; the contents are what matters
    with open(os.path.join(HERE, "MANIFEST.json"), "w") as f:
        json.dump({"generator": "tests/data/formats/generate.py", "numpy": np.__version__,
                   "source": "tests/data/reference/reference.safetensors"}, f, indent=1)
        f.write("\n")

    # hostile NumPy files: one per failure mode
    d = os.path.join(HOSTILE, "npy")
    os.makedirs(d, exist_ok=True)
    good = open(os.path.join(HERE, "gauss_f32.npy"), "rb").read()
    write(os.path.join(d, "truncated.npy"), good[:-10])
    write(os.path.join(d, "trailing.npy"), good + b"\0" * 4)
    write(os.path.join(d, "header_truncated.npy"), good[:40])
    write(os.path.join(d, "header_len_huge.npy"), good[:8] + b"\xff\xff" + good[10:])
    obj = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    write(os.path.join(d, "object_array.npy"), b"\x93NUMPY\x01\x00" + struct.pack("<H", len(obj)) + obj + b"\x80\x02N.")
    huge = b"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
    write(os.path.join(d, "shape_huge.npy"), b"\x93NUMPY\x01\x00" + struct.pack("<H", len(huge)) + huge + b"\0" * 64)
    d = os.path.join(HOSTILE, "npz")
    os.makedirs(d, exist_ok=True)
    npz = open(os.path.join(HERE, "reference.npz"), "rb").read()
    write(os.path.join(d, "truncated.npz"), npz[: len(npz) // 2])
    with zipfile.ZipFile(os.path.join(d, "member_size_mismatch.npz"), "w") as z:
        z.writestr("w.npy", good[:-8])
    with zipfile.ZipFile(os.path.join(d, "no_arrays.npz"), "w") as z:
        z.writestr("readme.txt", b"nothing here")
    # a deflated member whose directory entry claims 4 GB (a zip-bomb shape): refused before inflating
    path = os.path.join(d, "size_lie.npz")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", good)
    data = bytearray(open(path, "rb").read())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    data[22:26] = struct.pack("<I", 0xFFFFFFF0)
    write(path, bytes(data))

if __name__ == "__main__":
    main()
