#!/usr/bin/env python3
"""The side-by-side benchmark: svdiag against what users run today, on the same files, in ONE run.

  python3 bench/benchmark.py [--ww-python PY] [--repeat N] [--models DIR] [--svdiag PATH] [--out FILE]

Checkpoints: a seeded GPT-2-small-shaped safetensors file (F32, all 50 matrices including the
50257×768 embedding; written to /tmp/svdiag-bench once) and the real all-MiniLM-L6-v2 from
scripts/fetch-example-models.sh (skipped if not fetched). For each, it times end to end
(file read included):
  svdiag exact          `svdiag analyze` (guarded Gram route), all cores and 1 thread
  svdiag --method svd   the direct SVD of every matrix, all cores
  svdiag --quick        the monitoring subset
  NumPy dgesdd          np.linalg.svd(W.astype(float64), compute_uv=False) per matrix, 1 BLAS thread
  NumPy Gram+eigvalsh   np.linalg.eigvalsh(G) of the f64 Gram matrix of the smaller side, 1 BLAS thread
  WeightWatcher         weightwatcher.WeightWatcher(model=state_dict).analyze(max_N=10**6), 1 thread
                        (needs --ww-python: a Python with torch and weightwatcher==0.7.7)
and prints a table of times, ratios (against svdiag exact at all cores) and the largest relative
difference of every §2 metric against NumPy dgesdd (svdiag and the Gram loop).
svdiag runs are the best of N; the NumPy and WeightWatcher loops run once (they take seconds).
Speed is measured here, never asserted in tests.
"""
import argparse
import datetime
import json
import os
import platform
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
torch.set_num_threads(1)
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


def one_thread_env():
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    return env


def numpy_run(path, route):
    out = subprocess.run([sys.executable, "-c", NUMPY_CHILD, path, route, os.path.join(ROOT, "tests/data/reference")],
                         env=one_thread_env(), check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def svdiag_run(binary, path, extra, repeat):
    best, doc = float("inf"), None
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([binary, "analyze", path, "--format", "json", "-o", report, "--quiet", *extra], check=True)
            best = min(best, time.perf_counter() - t0)
        with open(report) as f:
            doc = json.load(f)
    return best, {m["name"]: m for m in doc["matrices"]}


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
    ap.add_argument("--ww-python", help="a Python with torch and weightwatcher==0.7.7")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="/tmp/svdiag-models")
    ap.add_argument("--svdiag", default=os.path.join(ROOT, "target/release/svdiag"))
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    a = ap.parse_args()
    import numpy as np
    checkpoints = [("GPT-2-small-shaped, random F32 (50 matrices)", gpt2_checkpoint("/tmp/svdiag-bench/gpt2-small.safetensors"))]
    minilm = os.path.join(a.models, "minilm-l6-v2/model.safetensors")
    if os.path.exists(minilm):
        checkpoints.append(("all-MiniLM-L6-v2, real F32", minilm))
    cores = os.cpu_count()
    lines = [f"svdiag benchmark, {datetime.date.today()}, {platform.processor() or platform.machine()}, "
             f"{cores} cores, Python {platform.python_version()}, NumPy {np.__version__}", ""]
    for title, path in checkpoints:
        print(f"== {title}", file=sys.stderr)
        ref = numpy_run(path, "svd")
        gram = numpy_run(path, "gram")
        rows = []
        t_exact, exact = svdiag_run(a.svdiag, path, [], a.repeat)
        t_exact1, exact1 = svdiag_run(a.svdiag, path, ["--threads", "1"], a.repeat)
        t_svd, svd = svdiag_run(a.svdiag, path, ["--method", "svd"], a.repeat)
        t_quick, quick = svdiag_run(a.svdiag, path, ["--quick"], a.repeat)
        routes = {}
        for m in exact.values():
            routes[m["route"]] = routes.get(m["route"], 0) + 1
        rows.append(("svdiag exact (guarded Gram), all cores", t_exact, max_rel(exact, ref["metrics"])))
        rows.append(("svdiag exact, 1 thread", t_exact1, max_rel(exact1, ref["metrics"])))
        rows.append(("svdiag --method svd, all cores", t_svd, max_rel(svd, ref["metrics"])))
        rows.append(("svdiag --quick, all cores", t_quick,
                     max_rel(quick, ref["metrics"], ["frobenius_norm", "spectral_norm", "stable_rank", "l12_norm"])))
        rows.append(("NumPy dgesdd loop, 1 BLAS thread", ref["seconds"], 0.0))
        rows.append(("NumPy Gram + eigvalsh loop, 1 BLAS thread", gram["seconds"], max_rel(gram["metrics"], ref["metrics"])))
        if a.ww_python:
            out = subprocess.run([a.ww_python, "-c", WW_CHILD, path], env=one_thread_env(), check=True,
                                 capture_output=True, text=True)
            secs, layers, version = out.stdout.split()[-3:]
            rows.append((f"WeightWatcher {version} analyze(), {layers} layers, 1 thread", float(secs), None))
        lines.append(f"### {title}")
        lines.append(f"`{os.path.basename(path)}`: {len(ref['metrics'])} matrices; svdiag routes: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(routes.items())))
        lines.append("")
        lines.append("| route | seconds | time / svdiag exact | max rel. metric diff vs dgesdd |")
        lines.append("|---|---|---|---|")
        for name, secs, err in rows:
            e = "—" if err is None else ("reference" if name.startswith("NumPy dgesdd") else f"{err:.1e}")
            lines.append(f"| {name} | {secs:.2f} | {secs / t_exact:.1f}× | {e} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
