#!/usr/bin/env python3
"""The device route on a GPU: every metric against svdiag's CPU route, and the time against a
``torch.linalg.svdvals`` loop (and WeightWatcher, with --ww), on the same CUDA-resident weights.

  python bench/gpu_check.py [--shape gpt2|llama8b-layer] [--dtype bf16|f32] [--ww]

Weights: GPT-2-small-shaped (50 matrices) or one Llama-8B layer (7 matrices, 4096-wide), plus one
small conv kernel, seeded, created on the GPU. Prints, per route: wall time (CUDA synchronized), how many matrices the guard
accepted on the device and how many it sent to the CPU route (``route`` and ``route_reason``), the
worst relative difference of every metric from the CPU route (contract: 1e-9), and the peak GPU memory.
Needs torch with CUDA and svdiag installed; a GPU with fast f64 (A100, H100, ...) for ``device="auto"``
to choose it (``device="cuda"`` forces it). Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import svdiag


def weights(shape: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    g = torch.Generator(device="cuda").manual_seed(0)
    if shape == "gpt2":
        d, vocab, ctx = 768, 50257, 1024
        shapes = {"transformer.wte.weight": (vocab, d), "transformer.wpe.weight": (ctx, d)}
        for i in range(12):
            p = f"transformer.h.{i}."
            shapes |= {p + "attn.c_attn.weight": (d, 3 * d), p + "attn.c_proj.weight": (d, d),
                       p + "mlp.c_fc.weight": (d, 4 * d), p + "mlp.c_proj.weight": (4 * d, d)}
    else:
        d, f, kv = 4096, 14336, 1024
        p = "model.layers.0."
        shapes = {p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (kv, d),
                  p + "self_attn.v_proj.weight": (kv, d), p + "self_attn.o_proj.weight": (d, d),
                  p + "mlp.gate_proj.weight": (f, d), p + "mlp.up_proj.weight": (f, d), p + "mlp.down_proj.weight": (d, f)}
    shapes["extra.conv.weight"] = (64, 32, 3, 3)  # a conv kernel: its [64, 288] matrix on the device too
    return {n: (0.02 * torch.randn(s, generator=g, device="cuda")).to(dtype) for n, s in shapes.items()}


def timed(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=["gpt2", "llama8b-layer"], default="gpt2")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--ww", action="store_true")
    args = ap.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    w = weights(args.shape, dtype)
    print(f"# {torch.cuda.get_device_name()} (capability {torch.cuda.get_device_capability()}), torch {torch.__version__}, "
          f"svdiag {svdiag.__version__}; {len(w)} matrices, {args.shape}, {args.dtype}")

    torch.cuda.reset_peak_memory_stats()
    t_dev, dev = timed(lambda: svdiag.run(w, device="cuda", progress=False))
    peak = torch.cuda.max_memory_allocated() / 2**20
    t_cpu, cpu = timed(lambda: svdiag.run(w, device=None, progress=False))
    t_svd, _ = timed(lambda: [torch.linalg.svdvals(x.reshape(x.shape[0], -1).double()) for x in w.values()])
    routes: dict[str, int] = {}
    worst = 0.0
    cpu_by = {r["name"]: r for r in cpu.document["matrices"]}
    for r in dev.document["matrices"]:
        on_gpu = (r.get("route_reason") or "").startswith("f64 Gram matrix and its eigenvalues formed by torch")
        key = "gram on the GPU" if on_gpu else f"{r['route']} on the CPU"
        routes[key] = routes.get(key, 0) + 1
        for f in svdiag.METRIC_FIELDS:
            a, b = r.get(f), cpu_by[r["name"]].get(f)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b != 0 and not math.isinf(b):
                worst = max(worst, abs(a - b) / abs(b))
    print(f"| route | wall | notes |\n|---|---|---|")
    print(f"| svdiag, device='cuda' | {t_dev:.2f} s | {routes}; worst metric vs the CPU route {worst:.1e}; peak GPU memory {peak:.0f} MiB |")
    print(f"| svdiag, CPU route | {t_cpu:.2f} s | host copies of the tensors, all cores |")
    print(f"| torch.linalg.svdvals(W.double()) loop | {t_svd:.2f} s | singular values only, no metrics |")
    if args.ww:
        import weightwatcher as ww

        t_ww, _ = timed(lambda: ww.WeightWatcher(model={k: v.float() for k, v in w.items()}).analyze(max_N=10**6))
        print(f"| WeightWatcher {ww.__version__} analyze() | {t_ww:.2f} s | its own defaults |")


if __name__ == "__main__":
    main()
