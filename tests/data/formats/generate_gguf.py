#!/usr/bin/env python3
"""GGUF fixtures, written with the `gguf` Python package (llama.cpp's own gguf-py), and reference
values from its dequantization.

  pip install gguf numpy && python3 tests/data/formats/generate_gguf.py

Writes next to this script:
  reference.gguf        the F32/F16/F64/BF16 tensors of ../reference/reference.safetensors (orientation test:
                        GGUF stores dimensions reversed; svdiag must give identical metrics)
  quants.gguf           one 64×512 matrix per quantization type svdiag dequantizes
  gguf_reference.json   per quantized tensor: metrics of gguf-py's dequantization, computed in NumPy f64
and hostile files under ../hostile/gguf/. Records the gguf and NumPy versions.
"""
import json
import os
import struct
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


metrics = _load("refgen", os.path.join(HERE, "..", "reference", "generate.py")).metrics
HOSTILE = os.path.join(os.path.dirname(HERE), "hostile", "gguf")
Q = gguf.GGMLQuantizationType
SEED = 20261124


def read_reference():
    fmt = _load("fmtgen", os.path.join(HERE, "generate.py"))
    return fmt.read_safetensors(os.path.join(HERE, "..", "reference", "reference.safetensors"))


def bf16_values():
    """wide_bf16 of the reference file, as float32 (its values are exact bfloat16 numbers)."""
    with open(os.path.join(HERE, "..", "reference", "reference.safetensors"), "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    info = json.loads(buf[8:8 + n])["wide_bf16"]
    s, e = info["data_offsets"]
    bits = np.frombuffer(buf[8 + n + s:8 + n + e], dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(info["shape"])


def random_k_blocks(rng, qtype, n_blocks):
    """Random bytes for K-quant blocks, with every f16 scale field a finite, moderate number."""
    size = gguf.GGML_QUANT_SIZES[qtype][1]
    b = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    f16 = lambda k: np.float16(rng.uniform(0.001, 0.05, size=(n_blocks, 1))).view(np.uint8).reshape(n_blocks, 2)
    if qtype == Q.Q2_K:
        b[:, 80:82], b[:, 82:84] = f16(0), f16(1)
    elif qtype == Q.Q3_K:
        b[:, 108:110] = f16(0)
    elif qtype in (Q.Q4_K, Q.Q5_K):
        b[:, 0:2], b[:, 2:4] = f16(0), f16(1)
    elif qtype == Q.Q6_K:
        b[:, 208:210] = f16(0)
    return b


def main():
    rng = np.random.default_rng(SEED)
    arrays = read_reference()
    w = gguf.GGUFWriter(os.path.join(HERE, "reference.gguf"), "test")
    for name in sorted(arrays):
        a = arrays[name]
        if a.ndim >= 2 and a.ndim <= 4 and a.dtype in (np.float32, np.float16, np.float64):
            w.add_tensor(name, a)
    w.add_tensor("wide_bf16", gguf.quants.quantize(bf16_values(), Q.BF16), raw_dtype=Q.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    ref = {"generator": "tests/data/formats/generate_gguf.py", "gguf": gguf.__version__ if hasattr(gguf, "__version__") else "0.19.0",
           "numpy": np.__version__, "seed": SEED, "tensors": {}}
    w = gguf.GGUFWriter(os.path.join(HERE, "quants.gguf"), "test")
    rows, cols = 64, 512
    for qtype in [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        if qtype in (Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0):
            raw = gguf.quants.quantize(rng.standard_normal((rows, cols)).astype(np.float32) * 0.02, qtype)
        else:
            raw = random_k_blocks(rng, qtype, rows * cols // block).reshape(rows, cols // block * size)
        name = f"blk.0.{qtype.name.lower()}.weight"
        w.add_tensor(name, raw, raw_dtype=qtype)
        deq = gguf.quants.dequantize(raw, qtype).astype(np.float64).reshape(rows, cols)
        ref["tensors"][name] = {
            "type": qtype.name,
            "sigma/q=2.0": metrics(deq, "sigma", 2.0)[1],
            "energy/q=inf": metrics(deq, "energy", float("inf"))[1],
            "checksum": float(deq.sum()),
        }
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(os.path.join(HERE, "gguf_reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    write_hostile()


def gguf_bytes(tensors, kv=(), version=3, alignment=32, n_tensors=None, n_kv=None):
    """A GGUF file by hand: tensors = [(name, dims (ggml order), type, offset, data)]."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kv) if n_kv is None else n_kv)
    for k, raw in kv:
        out += s(k) + raw
    for name, dims, ty, off, _ in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ty, off)
    out += b"\0" * (-len(out) % alignment)
    for *_, data in tensors:
        out += data
    return out


def write_hostile():
    os.makedirs(HOSTILE, exist_ok=True)
    good = open(os.path.join(HERE, "reference.gguf"), "rb").read()
    f32 = np.arange(64, dtype="<f4").tobytes()
    cases = {
        "truncated.gguf": good[: len(good) // 2],
        "header_only.gguf": good[:10],
        "version_99.gguf": gguf_bytes([("w", [8, 8], 0, 0, f32 * 4)], version=99),
        "tensor_count_huge.gguf": gguf_bytes([], n_tensors=1 << 40),
        "kv_string_huge.gguf": gguf_bytes([], kv=[("k", struct.pack("<I", 8) + struct.pack("<Q", 1 << 60))]),
        "kv_array_huge.gguf": gguf_bytes([], kv=[("k", struct.pack("<IIQ", 9, 4, 1 << 50))]),
        "five_dims.gguf": gguf_bytes([("w", [2, 2, 2, 2, 2], 0, 0, f32)]),
        "misaligned_offset.gguf": gguf_bytes([("w", [8, 8], 0, 4, f32 * 4)]),
        "data_past_end.gguf": gguf_bytes([("w", [64, 64], 0, 0, f32)]),
        "unknown_type.gguf": gguf_bytes([("w", [8, 8], 77, 0, f32 * 4)]),
        "row_not_multiple_of_block.gguf": gguf_bytes([("w", [48, 2], 2, 0, b"\0" * 64)]),
        "unsupported_quant.gguf": gguf_bytes([("w", [256, 4], 16, 0, bytes(66 * 4))]),
    }
    for name, data in cases.items():
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
