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

import numpy as np

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


def main():
    arrays = read_safetensors(os.path.join(HERE, "..", "reference", "reference.safetensors"))
    np.savez(os.path.join(HERE, "reference.npz"), **arrays)
    np.savez_compressed(os.path.join(HERE, "reference_compressed.npz"), **arrays)
    np.save(os.path.join(HERE, "gauss_f32.npy"), arrays["gauss_f32"])
    np.save(os.path.join(HERE, "gauss_f64_fortran.npy"), np.asfortranarray(arrays["gauss_f64"]))
    np.save(os.path.join(HERE, "conv_f32_bigendian.npy"), np.asfortranarray(arrays["conv_f32"].astype(">f4")))
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
