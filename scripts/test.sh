#!/usr/bin/env bash
# The whole test suite: the Rust tests (unit, property, reference against NumPy f64 fixtures, CLI
# snapshots and errors, and the real-checkpoint tests, which need the example models: fetched here by
# scripts/fetch-example-models.sh, ~110 MB, cached), then the Python package's tests (pytest, on a
# development build of the package in a virtual environment).
#
#   bash scripts/test.sh
#
# Environment: SVDIAG_VENV (default .venv), SVDIAG_MODELS, the model cache (default /tmp/svdiag-models).
set -euo pipefail
cd "$(dirname "$0")/.."
export SVDIAG_MODELS="${SVDIAG_MODELS:-/tmp/svdiag-models}"
VENV="${SVDIAG_VENV:-.venv}"

bash scripts/fetch-example-models.sh "$SVDIAG_MODELS" >&2
# --include-ignored: the real-model tests are ignored in a plain `cargo test` (no models there)
cargo test --workspace --locked -- --include-ignored

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VENV="$(cd "$VENV" && pwd)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.16,<2" "numpy>=1.24" "pandas>=2.1" \
  "pytest>=8" "ml-dtypes>=0.4" "polars>=1.3" "transformers>=4.40"
(cd python && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --locked --quiet)
(cd python && "$VENV/bin/python" -m pytest -q -rs)
