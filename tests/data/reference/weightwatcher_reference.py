#!/usr/bin/env python3
"""Reference values for the HTSR metrics (docs/metrics.md §5) from WeightWatcher itself.

  python3 weightwatcher_reference.py      (needs torch, safetensors and weightwatcher==0.7.7)

Writes htsr.safetensors (seeded test matrices, all F32: WeightWatcher casts state-dict tensors to
f32, so F64 weights would not be compared like for like) and weightwatcher.json: for every
matrix, WeightWatcher 0.7.7's default `analyze()` values of alpha, alpha_weighted, log_norm,
log_spectral_norm, log_alpha_norm, xmin, D (ks_distance) and num_pl_spikes (num_tail), with the
versions and seed. svdiag's tests (crates/analysis/tests/htsr.rs) compare against this file; run the
script once and commit both outputs.
"""
import json
import logging
import os
import platform
import struct
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261123


def matrices(rng):
    """Shapes and spectra that exercise both fit rules (≥ 20 eigenvalues and 8–19)."""
    out = {}
    out["gauss_256x128.weight"] = rng.normal(0, 0.05, (256, 128)).astype(np.float32)
    out["student_t3_300x200.weight"] = (rng.standard_t(3, (300, 200)) * 0.05).astype(np.float32)
    out["student_t2_150x150.weight"] = (rng.standard_t(2, (150, 150)) * 0.02).astype(np.float32)
    out["cauchy_like_400x100.weight"] = (rng.standard_t(1.5, (400, 100)) * 0.01).astype(np.float32)
    out["low_rank_plus_noise_120x90.weight"] = (rng.normal(size=(120, 4)) @ rng.normal(size=(4, 90))
                                                + 0.01 * rng.normal(size=(120, 90))).astype(np.float32)
    out["spiked_200x64.weight"] = (rng.normal(0, 1, (200, 64)) + 30 * np.outer(rng.normal(size=200), rng.normal(size=64)) / 64).astype(np.float32)
    out["small_12x40.weight"] = (rng.standard_t(3, (12, 40))).astype(np.float32)
    out["small_19x19.weight"] = rng.normal(0, 1, (19, 19)).astype(np.float32)
    out["small_10x30.weight"] = (rng.normal(0, 1, (10, 30)) * np.geomspace(1, 1e-2, 30)).astype(np.float32)
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, w in tensors.items():
        dtype = {np.float32: "F32", np.float64: "F64"}[w.dtype.type]
        b = np.ascontiguousarray(w).astype(w.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(w.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import torch
    import weightwatcher as ww
    rng = np.random.default_rng(SEED)
    mats = matrices(rng)
    write_safetensors(os.path.join(HERE, "htsr.safetensors"), mats)
    state = {k: torch.from_numpy(v) for k, v in mats.items()}
    details = ww.WeightWatcher(model=state).analyze()
    out = {}
    for _, row in details.iterrows():
        name = row["name"] + ".weight"
        out[name] = {
            "alpha": float(row["alpha"]),
            "alpha_weighted": float(row["alpha_weighted"]),
            "log_norm": float(row["log_norm"]),
            "log_spectral_norm": float(row["log_spectral_norm"]),
            "log_alpha_norm": float(row["log_alpha_norm"]),
            "xmin": float(row["xmin"]),
            "ks_distance": float(row["D"]),
            "num_tail": int(row["num_pl_spikes"]),
        }
    doc = {
        "generator": "tests/data/reference/weightwatcher_reference.py",
        "seed": SEED,
        "versions": {"weightwatcher": ww.__version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "note": "WeightWatcher(model=state_dict).analyze() with its defaults, on the F32 weights as stored",
        "matrices": out,
    }
    with open(os.path.join(HERE, "weightwatcher.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(out)} matrices; skipped by WeightWatcher: {sorted(set(mats) - set(out))}")


if __name__ == "__main__":
    main()
