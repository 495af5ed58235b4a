#!/usr/bin/env python3
"""The side-by-side benchmark: svdiag against what users run today, on the same files, in ONE run,
every contender on the same number of cores.

  python3 bench/benchmark.py [--cores N] [--ww-python PY] [--repeat R] [--models DIR] [--svdiag PATH] [--out FILE]

Checkpoints: a seeded GPT-2-small-shaped safetensors file (F32, all 50 matrices including the
50257×768 embedding; written to /tmp/svdiag-bench once) and the real all-MiniLM-L6-v2 from
scripts/fetch-example-models.sh (skipped if not fetched). Each contender is one whole process
(start-up and file read included), limited to N cores (default: all of them):
  svdiag exact          `svdiag analyze --threads N` (guarded Gram route)
  svdiag --method svd   the direct SVD of every matrix
  svdiag --quick        the monitoring subset
  NumPy dgesdd          np.linalg.svd(W.astype(float64), compute_uv=False) per matrix, N BLAS threads
  NumPy Gram+eigvalsh   np.linalg.eigvalsh(G) of the f64 Gram matrix of the smaller side, N BLAS threads
  WeightWatcher         weightwatcher.WeightWatcher(model=state_dict).analyze(max_N=10**6), torch and
                        BLAS on N threads (needs --ww-python: a Python with torch and weightwatcher==0.7.7)
and, labelled, the 1-thread figures of svdiag exact, the NumPy Gram loop and WeightWatcher beside them.
Rounds alternate the contenders (R rounds; the machines are noisy, so compare within a round's
medians); printed per contender: median wall seconds, median CPU seconds (user + system of the
process), the ratio of its wall time to svdiag exact's, and the largest relative difference of any
§2 metric from NumPy dgesdd. svdiag's null draws (the isotropy test) are cached on disk after the
first run: that first run is timed on its own, labelled, with an empty cache.
Speed is measured here, never asserted in tests.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIELDS = ["entropy", "renyi_entropy", "kl_uniform", "normalized_entropy", "effective_rank", "stable_rank",
          "spectral_norm", "frobenius_norm", "nuclear_norm", "condition_number", "numerical_rank", "l12_norm"]

# The NumPy child: reads the safetensors file itself and runs one route on every matrix.
NUMPY_CHILD = r"""
import json, struct, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from generate import metrics_from_singular_values
path, route = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
with open(path, 'rb') as f:
    buf = f.read()
(n,) = struct.unpack('<Q', buf[:8])
header = json.loads(buf[8:8 + n]); header.pop('__metadata__', None)
dt = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2'}
out = {}
for name, info in header.items():
    if info['dtype'] not in dt or len(info['shape']) < 2:
        continue
    s, e = info['data_offsets']
    w = np.frombuffer(buf[8 + n + s:8 + n + e], dtype=dt[info['dtype']]).reshape(info['shape'][0], -1)
    if min(w.shape) < 2:
        continue
    w = w.astype(np.float64)
    if route == 'svd':
        sv = np.linalg.svd(w, compute_uv=False)
    else:
        g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        sv = np.sqrt(np.clip(np.linalg.eigvalsh(g), 0, None))[::-1]
    l12 = float(np.sum(np.sqrt(np.sum(w * w, axis=0))))
    out[name] = metrics_from_singular_values(sv, w.shape, l12, 'sigma', 2.0)
print(json.dumps({'seconds': time.perf_counter() - t0, 'metrics': out}))
"""

WW_CHILD = r"""
import sys, time, warnings, logging
warnings.filterwarnings('ignore')
logging.disable(logging.WARNING)
import torch
torch.set_num_threads(int(sys.argv[2]))
from safetensors.torch import load_file
import weightwatcher as ww
t0 = time.perf_counter()
sd = {k: v for k, v in load_file(sys.argv[1]).items() if v.dim() == 2 and min(v.shape) >= 2 and k.endswith('.weight')}
details = ww.WeightWatcher(model=sd).analyze(max_N=10**6)
print(time.perf_counter() - t0, len(details), ww.__version__)
"""


def gpt2_checkpoint(path, seed=0):
    """GPT-2 small shapes and names (Conv1D weights are stored [in, out]), N(0, 0.02²) F32."""
    import numpy as np
    if os.path.exists(path):
        return path
    d, layers, vocab, ctx = 768, 12, 50257, 1024
    shapes = [("transformer.wte.weight", (vocab, d)), ("transformer.wpe.weight", (ctx, d))]
    for i in range(layers):
        p = f"transformer.h.{i}."
        shapes += [(p + "ln_1.weight", (d,)), (p + "attn.c_attn.weight", (d, 3 * d)), (p + "attn.c_attn.bias", (3 * d,)),
                   (p + "attn.c_proj.weight", (d, d)), (p + "ln_2.weight", (d,)), (p + "mlp.c_fc.weight", (d, 4 * d)),
                   (p + "mlp.c_proj.weight", (4 * d, d))]
    shapes.append(("transformer.ln_f.weight", (d,)))
    header, offset = {}, 0
    for name, shape in shapes:
        size = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in shapes:
            w = np.ones(shape) if name.endswith("ln_1.weight") or "ln_" in name else rng.normal(0, 0.02, shape)
            f.write(w.astype("<f4").tobytes())
    os.replace(path + ".part", path)
    return path


def threads_env(n, **extra):
    env = dict(os.environ, **extra)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(n)
    return env


def timed(argv, env):
    """Runs one process: (wall seconds, CPU seconds of it and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


class Contender:
    """One command, run once per round; keeps its times and its last output."""

    def __init__(self, label, argv, env, read):
        self.label, self.argv, self.env, self.read = label, argv, env, read
        self.walls, self.cpus, self.result = [], [], None

    def run(self):
        wall, cpu, stdout = timed(self.argv, self.env)
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.result = self.read(stdout)

    def wall(self):
        return statistics.median(self.walls)

    def cpu(self):
        return statistics.median(self.cpus)


def svdiag_contender(label, binary, path, extra, env, workdir):
    report = os.path.join(workdir, f"r{abs(hash(label))}.json")

    def read(_):
        with open(report) as f:
            return {m["name"]: m for m in json.load(f)["matrices"]}

    argv = [binary, "analyze", path, "--format", "json", "-o", report, "--quiet", *extra]
    return Contender(label, argv, env, read)


def numpy_contender(label, path, route, threads):
    argv = [sys.executable, "-c", NUMPY_CHILD, path, route, os.path.join(ROOT, "tests/data/reference")]
    return Contender(label, argv, threads_env(threads), lambda out: json.loads(out)["metrics"])


def max_rel(got, want, fields=FIELDS):
    worst = 0.0
    for name, w in want.items():
        g = got.get(name)
        if g is None:
            raise SystemExit(f"{name} missing from one side")
        for f in fields:
            a, b = g.get(f), w.get(f)
            if a is None or b is None or b == 0 or isinstance(b, str) or isinstance(a, str):
                continue
            worst = max(worst, abs(a - b) / abs(b))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="cores for every contender (default: all)")
    ap.add_argument("--ww-python", help="a Python with torch and weightwatcher==0.7.7")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (contenders alternate within each)")
    ap.add_argument("--models", default="/tmp/svdiag-models")
    ap.add_argument("--svdiag", default=os.path.join(ROOT, "target/release/svdiag"))
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    a = ap.parse_args()
    import numpy as np
    checkpoints = [("GPT-2-small-shaped, random F32 (50 matrices)", gpt2_checkpoint("/tmp/svdiag-bench/gpt2-small.safetensors"))]
    minilm = os.path.join(a.models, "minilm-l6-v2/model.safetensors")
    if os.path.exists(minilm):
        checkpoints.append(("all-MiniLM-L6-v2, real F32", minilm))
    n = a.cores
    lines = [f"svdiag benchmark, {datetime.date.today()}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores (every contender on {n}), Python {platform.python_version()}, NumPy {np.__version__}; "
             f"medians of {a.repeat} alternating rounds", ""]
    for title, path in checkpoints:
        print(f"== {title}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as work:
            nulls = os.path.join(work, "nulls")
            env = dict(os.environ, SVDIAG_NULL_CACHE=nulls)
            cold = svdiag_contender("svdiag exact, first run (null draws computed, then cached)", a.svdiag, path,
                                    ["--threads", str(n)], env, work)
            cold.run()  # fills the null cache the rounds below use
            exact = svdiag_contender(f"svdiag exact, {n} threads", a.svdiag, path, ["--threads", str(n)], env, work)
            contenders = [
                exact,
                svdiag_contender(f"svdiag --method svd, {n} threads", a.svdiag, path, ["--threads", str(n), "--method", "svd"], env, work),
                svdiag_contender(f"svdiag --quick, {n} threads", a.svdiag, path, ["--threads", str(n), "--quick"], env, work),
                numpy_contender(f"NumPy dgesdd loop, {n} BLAS threads", path, "svd", n),
                numpy_contender(f"NumPy Gram + eigvalsh loop, {n} BLAS threads", path, "gram", n),
            ]
            if a.ww_python:
                contenders.append(Contender(f"WeightWatcher analyze(), {n} threads", [a.ww_python, "-c", WW_CHILD, path, str(n)],
                                            threads_env(n), lambda out: out.split()[-3:]))
            if n > 1:  # the 1-thread figures, labelled
                contenders.append(svdiag_contender("svdiag exact, 1 thread", a.svdiag, path, ["--threads", "1"], env, work))
                contenders.append(numpy_contender("NumPy Gram + eigvalsh loop, 1 BLAS thread", path, "gram", 1))
                if a.ww_python:
                    contenders.append(Contender("WeightWatcher analyze(), 1 thread", [a.ww_python, "-c", WW_CHILD, path, "1"],
                                                threads_env(1), lambda out: out.split()[-3:]))
            for r in range(a.repeat):
                for c in contenders:
                    print(f"  round {r + 1}: {c.label}", file=sys.stderr)
                    c.run()
            ref = contenders[3].result
            routes = {}
            for m in exact.result.values():
                routes[m["route"]] = routes.get(m["route"], 0) + 1
            lines.append(f"### {title}")
            lines.append(f"`{os.path.basename(path)}`: {len(ref)} matrices; svdiag routes: "
                         + ", ".join(f"{k} {v}" for k, v in sorted(routes.items())))
            lines.append("")
            lines.append("| contender | wall s | CPU s | wall / svdiag exact | max rel. metric diff vs dgesdd |")
            lines.append("|---|---|---|---|---|")
            t_exact = exact.wall()
            for c in [cold, *contenders]:
                if c.label.startswith("NumPy dgesdd"):
                    err = "reference"
                elif c.label.startswith("WeightWatcher"):
                    version, layers = c.result[2], c.result[1]
                    c.label = c.label.replace("WeightWatcher", f"WeightWatcher {version} ({layers} layers)")
                    err = "—"
                elif "--quick" in c.label:
                    err = f"{max_rel(c.result, ref, ['frobenius_norm', 'spectral_norm', 'stable_rank', 'l12_norm']):.1e}"
                else:
                    err = f"{max_rel(c.result, ref):.1e}"
                lines.append(f"| {c.label} | {c.wall():.2f} | {c.cpu():.1f} | {c.wall() / t_exact:.2f}× | {err} |")
            lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
