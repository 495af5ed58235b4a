#!/usr/bin/env python3
"""Times `svdiag analyze` against a NumPy loop on the same checkpoint, in one run, and prints ratios.

  python3 bench/compare_numpy.py [CHECKPOINT] [--repeat N] [--svdiag PATH]

CHECKPOINT defaults to /tmp/svdiag-models/minilm-l6-v2/model.safetensors (fetched by
../shared/data/fetch-example-models.sh). The NumPy side reads the same file (header + np.frombuffer),
and for every matrix runs the issue's baseline `np.linalg.svd(W.astype(np.float64), compute_uv=False)`
plus the SCIENCE.md §2 metrics; it runs in a subprocess so that its BLAS thread count can be set.
Both sides are timed end to end (file read included) as the best of N runs, at 1 thread and at all
cores. The script also checks that both agree (max relative difference of every metric).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NUMPY_CHILD = r"""
import json, math, struct, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from generate import metrics
path = sys.argv[1]
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
    out[name] = metrics(w.astype(np.float64), 'sigma', 2.0)[1]
elapsed = time.perf_counter() - t0
print(json.dumps({'seconds': elapsed, 'metrics': out}))
"""


def numpy_run(path, threads):
    env = dict(os.environ)
    if threads:
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    out = subprocess.run([sys.executable, "-c", NUMPY_CHILD, path, os.path.join(ROOT, "tests/data/reference")],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def svdiag_run(binary, path, threads):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        args = [binary, "analyze", path, "--format", "json", "-o", report, "--quiet"]
        if threads:
            args += ["--threads", str(threads)]
        t0 = time.perf_counter()
        subprocess.run(args, check=True)
        elapsed = time.perf_counter() - t0
        with open(report) as f:
            doc = json.load(f)
    return elapsed, {m["name"]: m for m in doc["matrices"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default="/tmp/svdiag-models/minilm-l6-v2/model.safetensors")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--svdiag", default=os.path.join(ROOT, "target/release/svdiag"))
    a = ap.parse_args()
    import numpy as np

    print(f"checkpoint: {a.checkpoint} ({os.path.getsize(a.checkpoint) / 1e6:.1f} MB)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}")
    print(f"svdiag: {subprocess.run([a.svdiag, '--version'], capture_output=True, text=True).stdout.strip()}")
    worst = 0.0
    for threads in (1, os.cpu_count()):
        sv = min(svdiag_run(a.svdiag, a.checkpoint, threads)[0] for _ in range(a.repeat))
        npr = [numpy_run(a.checkpoint, threads) for _ in range(a.repeat)]
        nt = min(r["seconds"] for r in npr)
        _, sv_metrics = svdiag_run(a.svdiag, a.checkpoint, threads)
        for name, ref in npr[0]["metrics"].items():
            for field, x in ref.items():
                if isinstance(x, (int, float)) and x and field != "condition_number":
                    worst = max(worst, abs(sv_metrics[name][field] - x) / abs(x))
        print(f"{threads} thread(s): svdiag {sv:.3f} s, numpy svd loop {nt:.3f} s "
              f"-> svdiag is {nt / sv:.2f}x the speed of numpy ({len(sv_metrics)} matrices, best of {a.repeat})")
    print(f"max relative difference svdiag vs numpy over all metrics but condition_number: {worst:.2e}")


if __name__ == "__main__":
    main()
