#!/usr/bin/env python3
"""PEFT adapter fixtures in PEFT's layout, and NumPy f64 references for their updates.

  python3 tests/data/adapters/generate.py

Writes, next to this script, one directory per case, each holding an `adapter_config.json` and an
`adapter_model.safetensors` written here in the layout `PeftModel.save_pretrained` uses (names
`base_model.model.<module>.lora_A.weight` / `.lora_B.weight`, `lora_embedding_A` / `_B`, DoRA's
`lora_magnitude_vector`; checked against peft 0.21.2's own output):
  lora/       r = 4, lora_alpha = 8, rank_pattern and alpha_pattern, F32; linear, conv and embedding
              pairs, a full matrix saved with the adapter (modules_to_save), an unpaired lora_A, and a
              pair whose ranks differ (both skipped, named)
  rslora/     use_rslora (s = alpha/√r), BF16 factors
  dora/       use_dora: the magnitude vectors are listed as skipped, the pairs analyzed as s·B·A
  gpt2/       fan_in_fan_out (Conv1D bases): ΔW = (s·B·A)ᵀ
  ia3/        peft_type IA3: nothing analyzed, every tensor skipped with the reason
  noconfig/   LoRA factors without adapter_config.json: skipped, named
<case>_base/model.safetensors for lora and gpt2: base weights W for `--base` (all but one of lora's
updates), and merged_reference.json: the singular values and metrics of W and of W + ΔW in f64;
and reference.json: for every update, the singular values and metrics of ΔW formed explicitly
(s·B@A in f64, transposed where PEFT transposes it) by np.linalg.svd, with the NumPy version and
the seed. ΔW has rank ≤ r by construction: its other singular values are exactly zero, where the SVD
of the formed product returns rounding noise (≈ 1e-16·σ₁); the references keep NumPy's values, and
the tests compare every metric but `condition_number` (infinite for a rank-deficient ΔW, and the
noise's ratio in NumPy) to 1e-9.
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from generate import metrics_from_singular_values  # noqa: E402

SEED = 20261130
PREFIX = "base_model.model."


def bf16_bits(x):
    """Round-to-nearest-even f32 → bfloat16 bit patterns (uint16), and the values they hold."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32)
    bits = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors):
    """tensors: name -> (dtype tag, array); BF16 arrays are uint16 bit patterns."""
    header, blobs, offset = {}, [], 0
    for name, (tag, a) in tensors.items():
        dt = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "BF16": "<u2"}[tag]
        blob = np.ascontiguousarray(a).astype(dt).tobytes()
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def config(**kw):
    base = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": False, "use_dora": False,
            "fan_in_fan_out": False, "rank_pattern": {}, "alpha_pattern": {}, "target_modules": [],
            "task_type": "CAUSAL_LM", "base_model_name_or_path": None}
    base.update(kw)
    return base


def scale_of(cfg, module):
    """PEFT's rule: the first pattern key matching the end of the module name, else the default."""
    import re

    def first(patterns, default):
        for key, value in patterns.items():
            if re.match(rf"(.*\.)?({key})$", module):
                return value
        return default

    r = first(cfg["rank_pattern"], cfg["r"])
    alpha = first(cfg["alpha_pattern"], cfg["lora_alpha"])
    return r, (alpha / math.sqrt(r) if cfg["use_rslora"] else alpha / r)


def reference(delta, name):
    s = np.linalg.svd(delta, compute_uv=False)
    l12 = float(np.sum(np.linalg.norm(delta, axis=0)))
    return {"name": name, "shape": list(delta.shape), "singular_values": s.tolist(),
            "metrics": metrics_from_singular_values(s, delta.shape, l12, "sigma", 2.0)}


DELTAS = {}  # (case, base weight name) -> ΔW in f64, in the base weight's stored orientation


def base_model(name, skip=(), extra=()):
    """`<name>_base/model.safetensors`: an F32 base weight for every update of case `name` but those in
    `skip`, plus `extra` weights no update touches; and the references of W and of W + ΔW (in f64)."""
    rng = np.random.default_rng(SEED + 1)
    tensors, refs = {}, []
    for (case_name, weight), delta in sorted(DELTAS.items()):
        if case_name != name:
            continue
        w = (rng.standard_normal(delta.shape) / math.sqrt(delta.shape[1])).astype(np.float32)
        shape = {"model.conv.weight": (8, 3, 3, 3)}.get(weight, delta.shape)
        if weight not in skip:
            tensors[weight] = ("F32", w.reshape(shape))
            base = w.astype(np.float64)
            refs.append({"name": weight, "base": reference(base, weight), "merged": reference(base + delta, weight)})
    for weight, shape in extra:
        tensors[weight] = ("F32", rng.standard_normal(shape).astype(np.float32))
    d = os.path.join(HERE, f"{name}_base")
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    return refs


def case(rng, name, cfg, modules, extra=None, dtype="F32", write_config=True):
    """modules: (module, kind, out, in_shape, rank); kind is linear, embedding or magnitude-linear."""
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    tensors, refs = {}, []
    for module, kind, out, inner, rank in modules:
        fan_in = int(np.prod(inner))
        a = rng.standard_normal((rank, *inner)) / math.sqrt(fan_in)
        b = rng.standard_normal((out, rank)) * 0.1
        if dtype == "BF16":
            a_bits, a32 = bf16_bits(a)
            b_bits, b32 = bf16_bits(b)
            a, b = a32.astype(np.float64), b32.astype(np.float64)
            stored_a, stored_b = ("BF16", a_bits), ("BF16", b_bits)
        else:
            a, b = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
            stored_a, stored_b = ("F32", a), ("F32", b)
        if kind == "embedding":
            # lora_embedding_A is r × vocab (inner = (vocab,)), lora_embedding_B is dim × r
            tensors[f"{PREFIX}{module}.lora_embedding_A"] = stored_a
            tensors[f"{PREFIX}{module}.lora_embedding_B"] = stored_b
        else:
            tensors[f"{PREFIX}{module}.lora_A.weight"] = stored_a
            shape_b = (out, rank) + (1,) * (len(inner) - 1)
            tensors[f"{PREFIX}{module}.lora_B.weight"] = (stored_b[0], stored_b[1].reshape(shape_b))
        if kind == "dora":
            tensors[f"{PREFIX}{module}.lora_magnitude_vector"] = ("F32", np.abs(rng.standard_normal(out)) + 0.5)
        if write_config:
            r, s = scale_of(cfg, module)
            assert r == rank, (module, r, rank)
            delta = s * (b @ a.reshape(rank, -1))
            if kind == "embedding" or cfg["fan_in_fan_out"]:
                delta = delta.T
            refs.append(reference(delta, f"{module}.weight"))
            DELTAS[(name, f"{module}.weight")] = delta
    for k, v in (extra or {}).items():
        tensors[k] = v
    write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
    if write_config:
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    return refs


def main():
    rng = np.random.default_rng(SEED)
    refs = {}
    lora = config(rank_pattern={"layers.1.self_attn.q_proj": 2}, alpha_pattern={"down_proj": 3})
    refs["lora"] = case(rng, "lora", lora, [
        ("model.layers.0.self_attn.q_proj", "linear", 32, (32,), 4),
        ("model.layers.0.self_attn.v_proj", "linear", 16, (32,), 4),
        ("model.layers.0.mlp.down_proj", "linear", 32, (48,), 4),
        ("model.layers.1.self_attn.q_proj", "linear", 32, (32,), 2),
        ("model.layers.1.mlp.down_proj", "linear", 32, (48,), 4),
        ("model.embed_tokens", "embedding", 24, (64,), 4),
        ("model.conv", "linear", 8, (3, 3, 3), 4),
    ], extra={
        # a full matrix saved with the adapter (modules_to_save): analyzed as a weight
        f"{PREFIX}score.weight": ("F32", rng.standard_normal((5, 32)).astype(np.float32)),
        # a lora_A without its lora_B, and a pair whose ranks differ: both named and skipped
        f"{PREFIX}model.layers.1.mlp.up_proj.lora_A.weight": ("F32", rng.standard_normal((4, 32)).astype(np.float32)),
        f"{PREFIX}model.layers.1.self_attn.k_proj.lora_A.weight": ("F32", rng.standard_normal((4, 32)).astype(np.float32)),
        f"{PREFIX}model.layers.1.self_attn.k_proj.lora_B.weight": ("F32", rng.standard_normal((16, 3)).astype(np.float32)),
    })
    refs["rslora"] = case(rng, "rslora", config(r=8, lora_alpha=16, use_rslora=True), [
        ("model.layers.0.self_attn.q_proj", "linear", 64, (64,), 8),
        ("model.layers.0.mlp.up_proj", "linear", 96, (64,), 8),
    ], dtype="BF16")
    refs["dora"] = case(rng, "dora", config(use_dora=True), [
        ("model.layers.0.self_attn.q_proj", "dora", 32, (32,), 4),
    ])
    refs["gpt2"] = case(rng, "gpt2", config(r=4, lora_alpha=4, fan_in_fan_out=True), [
        ("transformer.h.0.attn.c_attn", "linear", 96, (32,), 4),
    ])
    ia3 = config(peft_type="IA3")
    for k in ("r", "lora_alpha", "use_rslora", "use_dora", "rank_pattern", "alpha_pattern"):
        ia3.pop(k)
    os.makedirs(os.path.join(HERE, "ia3"), exist_ok=True)
    write_safetensors(os.path.join(HERE, "ia3", "adapter_model.safetensors"), {
        f"{PREFIX}model.layers.0.self_attn.k_proj.ia3_l": ("F32", np.ones((16, 1), dtype=np.float32)),
        f"{PREFIX}model.layers.0.mlp.down_proj.ia3_l": ("F32", np.ones((1, 48), dtype=np.float32)),
    })
    with open(os.path.join(HERE, "ia3", "adapter_config.json"), "w") as f:
        json.dump(ia3, f, indent=2)
    case(rng, "noconfig", lora, [("model.layers.0.self_attn.q_proj", "linear", 32, (32,), 4)], write_config=False)
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump({"numpy": np.__version__, "seed": SEED, "cases": refs}, f, indent=1)
        f.write("\n")
    # --base: base models of the lora and gpt2 cases (one update of lora without its base weight)
    merged = {
        "lora": base_model("lora", skip=("model.layers.1.mlp.down_proj.weight",), extra=[("lm_head.weight", (64, 32))]),
        "gpt2": base_model("gpt2"),
    }
    with open(os.path.join(HERE, "merged_reference.json"), "w") as f:
        json.dump({"numpy": np.__version__, "seed": SEED + 1, "cases": merged}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
