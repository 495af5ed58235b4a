#!/usr/bin/env python3
"""Generates svdiag's NumPy reference fixtures (an independent implementation of docs/metrics.md §2).

Writes, next to this script:
  reference.safetensors   small seeded matrices in F64/F32/F16/BF16 (plus tensors that must be skipped)
  reference.json          for every matrix: NumPy f64 singular values and every metric, for both
                          normalizations and several Rényi orders, with the NumPy version and seed
  nonfinite.safetensors   one good matrix, one with a NaN, one with an Inf (per-tensor failures)

Run:  python3 tests/data/reference/generate.py
The files are committed; re-running with the same NumPy gives the same bytes.
"""
import json
import math
import os
import platform
import struct
import sys

import numpy as np

SEED = 20261123
HERE = os.path.dirname(os.path.abspath(__file__))
NORMALIZATIONS = ["sigma", "energy"]
QS = [0.0, 0.5, 1.0, 2.0, 3.0, math.inf]


def to_bf16_bits(x32):
    """Rounds f32 to bfloat16 (round to nearest even) and returns the uint16 bit patterns."""
    b = x32.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes). Sorted by name."""
    header, blobs, offset = {}, [], 0
    for name, dtype, shape, raw in sorted(tensors, key=lambda t: t[0]):
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def with_spectrum(rng, m, n, s):
    u, _ = np.linalg.qr(rng.standard_normal((m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.zeros((m, n))
    d[: len(s), : len(s)] = np.diag(s)
    return u @ d @ v.T


def metrics(w64, normalization, q):
    """docs/metrics.md §2, written directly in NumPy f64."""
    s = np.linalg.svd(w64, compute_uv=False)
    l12 = float(np.sum(np.linalg.norm(w64, axis=0)))
    return s, metrics_from_singular_values(s, w64.shape, l12, normalization, q)


def metrics_from_singular_values(s, shape, l12, normalization, q):
    """The §2 metrics of an m×n matrix from its singular values (non-increasing) and l12 norm."""
    m, n = shape
    r = min(m, n)
    out = {}
    weights = s if normalization == "sigma" else s ** 2
    total = weights.sum()
    if total > 0:
        p = weights / total
        nz = p[p > 0]
        h = float(-np.sum(nz * np.log(nz)))
        if q == 1.0:
            hq = h
        elif q == 0.0:
            hq = math.log(len(nz))
        elif math.isinf(q):
            hq = float(-np.log(p.max()))
        else:
            hq = float(np.log(np.sum(nz ** q)) / (1.0 - q))
        out.update(entropy=h, renyi_entropy=hq, kl_uniform=math.log(r) - h,
                   normalized_entropy=h / math.log(r), effective_rank=math.exp(h))
    else:
        out.update(entropy=None, renyi_entropy=None, kl_uniform=None, normalized_entropy=None, effective_rank=None)
    smax, smin = float(s[0]), float(s[-1])
    out["stable_rank"] = float(np.sum(s ** 2) / smax ** 2) if smax > 0 else None
    out["spectral_norm"] = smax
    out["frobenius_norm"] = float(np.sqrt(np.sum(s ** 2)))
    out["nuclear_norm"] = float(np.sum(s))
    out["condition_number"] = None if smax == 0 else ("inf" if smin == 0 else smax / smin)
    out["numerical_rank"] = int(np.sum(s > smax * max(m, n) * np.finfo(np.float64).eps))
    out["l12_norm"] = l12
    return out


def main():
    rng = np.random.default_rng(SEED)
    mats = {}  # name -> (dtype, stored shape, f64 values as stored, raw bytes)

    def add(name, dtype, values):
        shape = values.shape
        if dtype == "F64":
            stored = values.astype("<f8")
            raw, exact = stored.tobytes(), stored.astype(np.float64)
        elif dtype == "F32":
            stored = values.astype("<f4")
            raw, exact = stored.tobytes(), stored.astype(np.float64)
        elif dtype == "F16":
            stored = values.astype("<f2")
            raw, exact = stored.tobytes(), stored.astype(np.float64)
        elif dtype == "BF16":
            bits = to_bf16_bits(values.astype(np.float32))
            raw, exact = bits.astype("<u2").tobytes(), bf16_bits_to_f64(bits)
        else:
            raise ValueError(dtype)
        mats[name] = (dtype, shape, exact.reshape(shape), raw)

    add("gauss_f32", "F32", rng.standard_normal((64, 48)) * 0.02)
    add("gauss_f64", "F64", rng.standard_normal((33, 70)))
    add("tall_f16", "F16", rng.standard_normal((200, 12)))
    add("wide_bf16", "BF16", rng.standard_normal((10, 90)))
    add("heavy_tailed_f32", "F32", rng.standard_t(df=3, size=(64, 64)))
    add("ill_conditioned_f64", "F64", with_spectrum(rng, 40, 40, np.geomspace(1.0, 1e-8, 40)))
    add("low_rank_f32", "F32", rng.standard_normal((30, 5)) @ rng.standard_normal((5, 50)))
    add("spiked_f64", "F64", rng.standard_normal((80, 120)) / math.sqrt(120)
        + 5.0 * np.outer(rng.standard_normal(80), rng.standard_normal(120)) / math.sqrt(80 * 120))
    add("conv_f32", "F32", rng.standard_normal((8, 3, 3, 3)))
    add("zeros_f32", "F32", np.zeros((6, 5)))
    add("square_2x2_f64", "F64", np.array([[3.0, 0.0], [0.0, 4.0]]))

    tensors = [(name, dt, shape, raw) for name, (dt, shape, _, raw) in mats.items()]
    # tensors that must be listed as skipped, with their reasons
    tensors.append(("bias_f32", "F32", (16,), rng.standard_normal(16).astype("<f4").tobytes()))
    tensors.append(("scalar_f32", "F32", (), np.array(1.5, dtype="<f4").tobytes()))
    tensors.append(("position_ids_i64", "I64", (1, 8), np.arange(8, dtype="<i8").tobytes()))
    tensors.append(("row_vector_f32", "F32", (1, 16), rng.standard_normal((1, 16)).astype("<f4").tobytes()))
    write_safetensors(os.path.join(HERE, "reference.safetensors"), tensors)

    ref = {
        "generator": "tests/data/reference/generate.py",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seed": SEED,
        "svd": "np.linalg.svd(W.astype(np.float64), compute_uv=False)",
        "skipped": sorted(["bias_f32", "scalar_f32", "position_ids_i64", "row_vector_f32"]),
        "matrices": {},
    }
    for name, (dt, shape, exact, _) in sorted(mats.items()):
        w64 = exact.reshape(shape[0], -1)
        entry = {"dtype": dt, "shape": list(shape), "matrix_shape": list(w64.shape), "settings": []}
        for norm in NORMALIZATIONS:
            for q in QS:
                s, met = metrics(w64, norm, q)
                entry["settings"].append({"normalization": norm, "q": "inf" if math.isinf(q) else q, "metrics": met})
        entry["singular_values"] = [float(x) for x in s]
        ref["matrices"][name] = entry
    with open(os.path.join(HERE, "reference.json.tmp"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    os.replace(os.path.join(HERE, "reference.json.tmp"), os.path.join(HERE, "reference.json"))

    good = rng.standard_normal((12, 10)).astype("<f4")
    nan = good.copy()
    nan[3, 7] = np.nan
    inf = good.copy()
    inf[0, 2] = -np.inf
    write_safetensors(os.path.join(HERE, "nonfinite.safetensors"), [
        ("good", "F32", good.shape, good.tobytes()),
        ("has_nan", "F32", nan.shape, nan.tobytes()),
        ("has_inf", "F32", inf.shape, inf.tobytes()),
    ])
    print(f"wrote reference fixtures with numpy {np.__version__}, seed {SEED}", file=sys.stderr)


if __name__ == "__main__":
    main()
