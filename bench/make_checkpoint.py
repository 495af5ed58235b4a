#!/usr/bin/env python3
"""Writes a seeded, Llama-shaped safetensors checkpoint of random weights (for memory and speed runs;
never committed).

  python3 bench/make_checkpoint.py OUT.safetensors [--layers L] [--hidden D] [--intermediate F]
                                   [--vocab V] [--dtype BF16|F16|F32] [--seed S]

Tensors are written one at a time (memory stays at one tensor). Defaults give a ~0.4 GB BF16 file:
8 layers of a d=1024 model with intermediate 4096 and vocabulary 32000.
"""
import argparse
import json
import os
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--intermediate", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--dtype", default="BF16", choices=["BF16", "F16", "F32"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    d, f = a.hidden, a.intermediate
    shapes = [("model.embed_tokens.weight", (a.vocab, d))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        shapes += [(p + "self_attn.q_proj.weight", (d, d)), (p + "self_attn.k_proj.weight", (d, d)),
                   (p + "self_attn.v_proj.weight", (d, d)), (p + "self_attn.o_proj.weight", (d, d)),
                   (p + "mlp.gate_proj.weight", (f, d)), (p + "mlp.up_proj.weight", (f, d)),
                   (p + "mlp.down_proj.weight", (d, f)), (p + "input_layernorm.weight", (d,))]
    shapes.append(("lm_head.weight", (a.vocab, d)))
    size = {"BF16": 2, "F16": 2, "F32": 4}[a.dtype]
    header, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": a.dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(a.seed)
    tmp = a.out + ".part"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(h)))
        out.write(h)
        for name, shape in shapes:
            w = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
            if a.dtype == "BF16":
                b = w.view(np.uint32)
                out.write(((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype("<u2").tobytes())
            elif a.dtype == "F16":
                out.write(w.astype("<f2").tobytes())
            else:
                out.write(w.astype("<f4").tobytes())
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(shapes)} tensors, {os.path.getsize(a.out) / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
