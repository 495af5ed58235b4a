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

  python3 bench/memory_check.py --gguf-embedding [--vocab 151936 --hidden 896]

instead writes a GGUF file holding one Q5_0 embedding of that shape (Qwen2.5-0.5B's; random blocks)
and checks that analyzing it stays under 300 MiB: quantized blocks are dequantized into the Gram
product a block of rows at a time, never as an f64 copy of the whole tensor (which alone would
be 1 GiB here).
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write_q5_0_gguf(path, rows, cols, seed=0):
    """A GGUF v3 file with one Q5_0 tensor `token_embd.weight` of `rows × cols` (ggml dims
    [cols, rows]): random quant bits, every block scale 0.01, written block row by block row."""
    import numpy as np

    assert cols % 32 == 0
    blocks_per_row, block_bytes, align = cols // 32, 22, 32
    text = lambda s: struct.pack("<Q", len(s.encode())) + s.encode()
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    head += text("general.architecture") + struct.pack("<I", 8) + text("llama")
    head += text("token_embd.weight") + struct.pack("<IQQIQ", 2, cols, rows, 6, 0)
    head += b"\0" * (-len(head) % align)
    rng = np.random.default_rng(seed)
    scale = np.frombuffer(np.float16(0.01).tobytes(), dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(head)
        for start in range(0, rows, 4096):
            n = min(4096, rows - start) * blocks_per_row
            b = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
            b[:, 0:2] = scale
            f.write(b.tobytes())


def gguf_check(a):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "embedding.gguf")
        write_q5_0_gguf(path, a.vocab, a.hidden)
        size = os.path.getsize(path)
        cmd = [a.svdiag, "analyze", path, "--format", "json", "-o", os.path.join(d, "report.json"), "--quiet",
               "--threads", str(a.threads)]
        child = subprocess.Popen(cmd)
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"svdiag exited with {os.waitstatus_to_exitcode(status)}")
        peak = usage.ru_maxrss * 1024
    whole = a.vocab * a.hidden * 8
    bound = 300 << 20
    print(f"Q5_0 {a.vocab}×{a.hidden} embedding, file {size / 2**20:.0f} MiB (an f64 copy: {whole / 2**20:.0f} MiB), "
          f"{a.threads} workers: peak RSS {peak / 2**20:.0f} MiB, bound {bound / 2**20:.0f} MiB")
    if peak > bound:
        print("FAIL: peak RSS above the bound", file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, help="default 1024 (896 with --gguf-embedding)")
    ap.add_argument("--intermediate", type=int, default=4096)
    ap.add_argument("--vocab", type=int, help="default 32000 (151936 with --gguf-embedding)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--svdiag", default=os.path.join(ROOT, "target/release/svdiag"))
    ap.add_argument("--keep", help="write the checkpoint here and keep it")
    ap.add_argument("--filter", help="passed to svdiag analyze")
    ap.add_argument("--gguf-embedding", action="store_true", help="check a Q5_0 GGUF embedding instead (see above)")
    a = ap.parse_args()
    if a.gguf_embedding:  # the default shape here is Qwen2.5-0.5B's embedding
        a.vocab, a.hidden = a.vocab or 151936, a.hidden or 896
        return gguf_check(a)
    a.vocab, a.hidden = a.vocab or 32000, a.hidden or 1024
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
