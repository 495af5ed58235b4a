#!/usr/bin/env python3
"""Peak memory of `svdiag analyze` against the bound it promises: the largest matrices in flight,
not the model.

  python3 bench/memory_check.py [--layers L] [--hidden D] [--intermediate F] [--vocab V]
                                [--threads T] [--svdiag PATH] [--keep FILE]

Generates a seeded Llama-shaped BF16 checkpoint with bench/make_checkpoint.py (default 24 layers,
~0.9 GB; removed afterwards unless --keep names it), runs `svdiag analyze` on all of it, and measures
the peak resident set size of the svdiag process (wait4's rusage of that child). The bound, per worker: the
stored bytes of one of the largest tensors (its memory-mapped pages are touched while it is
analyzed and released after), plus three k×k f64 matrices (the Gram matrix, the eigen-solver's
copy, a factor for a refinement) and 16 MB of blocks and workspace; plus 64 MB for the program.
It measures the exact mode and `--quick` (whose Lanczos passes stream the stored values and hold
no f64 copy of a matrix: the same bound holds). Exits 1 if either peak exceeds the bound. This is a
memory test, not a timing: CI runs it.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--intermediate", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--svdiag", default=os.path.join(ROOT, "target/release/svdiag"))
    ap.add_argument("--keep", help="write the checkpoint here and keep it")
    ap.add_argument("--filter", help="passed to svdiag analyze")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = a.keep or os.path.join(d, "model.safetensors")
        if not os.path.exists(path):
            subprocess.run([sys.executable, os.path.join(HERE, "make_checkpoint.py"), path, "--layers", str(a.layers),
                            "--hidden", str(a.hidden), "--intermediate", str(a.intermediate), "--vocab", str(a.vocab)],
                           check=True)
        size = os.path.getsize(path)
        peaks = {}
        for mode in ["exact", "quick"]:
            cmd = [a.svdiag, "analyze", path, "--format", "json", "-o", os.path.join(d, "report.json"), "--quiet",
                   "--threads", str(a.threads)] + (["--quick"] if mode == "quick" else [])
            if a.filter:
                cmd += ["--filter", a.filter]
            child = subprocess.Popen(cmd)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the generator's
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                sys.exit(f"svdiag ({mode}) exited with {child.returncode}")
            peaks[mode] = usage.ru_maxrss * 1024  # KiB on Linux
    d_, f, v = a.hidden, a.intermediate, a.vocab
    largest = max(v * d_, f * d_) * 2  # BF16
    k = d_
    bound = a.threads * (largest + 3 * k * k * 8 + (16 << 20)) + (64 << 20)
    mb = lambda x: f"{x / 2**20:.0f} MiB"
    failed = False
    for mode, peak in peaks.items():
        print(f"checkpoint {mb(size)}, {a.threads} workers, {mode}: peak RSS {mb(peak)}, bound {mb(bound)} "
              f"({peak / size:.2f}× the file)")
        failed |= peak > bound
    if failed:
        print("FAIL: peak RSS above the bound", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
