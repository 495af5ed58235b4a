#!/usr/bin/env python3
"""svdiag's Python API against what Python users run today, on the same in-memory weights, the same
number of cores for every contender, in ONE run.

  python bench/python_benchmark.py [--cores N] [--repeat R] [--ww]

Weights: GPT-2-small-shaped (all 50 matrices, the 50257×768 embedding included), seeded N(0, 0.02²),
float32, generated in memory in each contender's process (the generation is not timed). Contenders,
each in its own process, alternating, R rounds; each limited to N cores (default: all) through the
BLAS/OpenMP/torch thread settings and svdiag's ``threads``:

  svdiag.analyze        svdiag.analyze(state_dict, threads=N): every metric, exact (guarded Gram route)
  svdiag quick          svdiag.analyze(state_dict, quick=True)
  NumPy Gram+eigvalsh   np.linalg.eigvalsh of the f64 Gram matrix of the smaller side, per matrix
  NumPy dgesdd          np.linalg.svd(W.astype(float64), compute_uv=False), per matrix
  WeightWatcher 0.7.7   WeightWatcher(model=torch state dict).analyze(max_N=10**6) (with --ww; needs
                        torch and weightwatcher==0.7.7 in this Python)

Printed: per contender the median wall time and CPU seconds (user + system of the process) over the
rounds, and the ratio of each median wall time to svdiag.analyze's. Speed is measured here, never
asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

WEIGHTS = r"""
import numpy as np
d, layers, vocab, ctx = 768, 12, 50257, 1024
rng = np.random.default_rng(0)
shapes = [("transformer.wte.weight", (vocab, d)), ("transformer.wpe.weight", (ctx, d))]
for i in range(layers):
    p = f"transformer.h.{i}."
    shapes += [(p + "attn.c_attn.weight", (d, 3 * d)), (p + "attn.c_proj.weight", (d, d)),
               (p + "mlp.c_fc.weight", (d, 4 * d)), (p + "mlp.c_proj.weight", (4 * d, d))]
weights = {name: rng.normal(0, 0.02, shape).astype(np.float32) for name, shape in shapes}
"""

CONTENDERS = {
    "svdiag.analyze": "import svdiag\nrun = lambda: svdiag.analyze(weights, progress=False, threads=CORES)",
    "svdiag quick": "import svdiag\nrun = lambda: svdiag.analyze(weights, progress=False, threads=CORES, quick=True)",
    "NumPy Gram+eigvalsh": """
def run():
    for w in weights.values():
        w = w.astype(np.float64)
        g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        np.sqrt(np.clip(np.linalg.eigvalsh(g), 0, None))
""",
    "NumPy dgesdd": """
def run():
    for w in weights.values():
        np.linalg.svd(w.astype(np.float64), compute_uv=False)
""",
    "WeightWatcher 0.7.7": """
import logging, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import torch
torch.set_num_threads(CORES)
import weightwatcher as ww
state = {k: torch.from_numpy(v) for k, v in weights.items()}
run = lambda: ww.WeightWatcher(model=state).analyze(max_N=10**6)
""",
}

CHILD = r"""
import json, resource, sys, time
CORES = int(sys.argv[1])
{weights}
{contender}
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
run()
wall = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({{"wall": wall, "cpu": cpu}}))
"""


def measure(name: str, cores: int) -> dict[str, float]:
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        env[k] = str(cores)
    code = CHILD.format(weights=WEIGHTS, contender=CONTENDERS[name])
    out = subprocess.run([sys.executable, "-c", code, str(cores)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ww", action="store_true", help="also time WeightWatcher (needs torch and weightwatcher)")
    args = ap.parse_args()
    names = [n for n in CONTENDERS if args.ww or not n.startswith("WeightWatcher")]
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for _ in range(args.repeat):
        for n in names:  # alternating, so that drifts of the machine hit every contender alike
            runs[n].append(measure(n, args.cores))
    import numpy as np

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.cores} used by every contender; "
          f"Python {platform.python_version()}, NumPy {np.__version__}; median of {args.repeat} alternating rounds")
    print(f"| contender ({args.cores} cores) | wall (median) | CPU seconds | wall / svdiag.analyze |")
    print("|---|---|---|---|")
    base = statistics.median(r["wall"] for r in runs["svdiag.analyze"])
    for n in names:
        wall = statistics.median(r["wall"] for r in runs[n])
        cpu = statistics.median(r["cpu"] for r in runs[n])
        print(f"| {n} | {wall:.2f} s | {cpu:.1f} | {wall / base:.2f}× |")


if __name__ == "__main__":
    main()
