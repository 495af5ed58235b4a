#!/usr/bin/env bash
# Peak memory against its bound on a generated ~0.9 GB BF16 checkpoint, then on a generated GGUF
# file holding a Q5_0 embedding of Qwen2.5-0.5B's shape (bench/memory_check.py).
# Needs NumPy for the generator: uses the system's, else installs it into a throwaway virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
if ! $PY -c 'import numpy' 2>/dev/null; then
  VENV="${TMPDIR:-/tmp}/svdiag-memcheck-venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet numpy
  PY="$VENV/bin/python"
fi
cargo build --release --locked -p svdiag
$PY bench/memory_check.py "$@"
$PY bench/memory_check.py --gguf-embedding
