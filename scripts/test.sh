#!/usr/bin/env bash
# The whole test suite: the Rust tests (unit, property, reference against NumPy f64 fixtures, CLI
# snapshots and errors, and the real-checkpoint tests, which need the example models: fetched here by
# scripts/fetch-example-models.sh, ~110 MB, cached), then the Python package's tests (pytest, on a
# development build of the package in a virtual environment).
#
#   bash scripts/test.sh
#
# Environment: SVDIAG_VENV (default .venv), SVDIAG_MODELS, the model cache (default /tmp/svdiag-models),
# SVDIAG_TEST_TORCH=1 to install torch, lightning and accelerate and run the torch tests too.
# The distributed tests start a two-node Ray cluster on the loopback interface (ray is installed
# here); with SVDIAG_REQUIRE_RAY=1 (CI) they fail instead of skipping when Ray is missing.
# The HTML report's browser tests drive the system's Chromium (Debian: apt-get install chromium)
# through Playwright; without Chromium they skip with a message, and with SVDIAG_REQUIRE_BROWSER=1
# (CI) they fail instead. Their screenshots go to SVDIAG_SCREENSHOTS (default target/report-screens).
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
  "pytest>=8" "ml-dtypes>=0.4" "h5py>=3.8" "polars>=1.3" "transformers>=4.40" mypy "playwright>=1.50" \
  "tqdm>=4.66" "nbclient>=0.10" "nbformat>=5.9" ipykernel "ipywidgets>=8" "ray[default]>=2.40" psutil
# the torch tests (tensors, modules, real HF and Lightning trainers) need torch, whose PyPI wheels
# pull several GB of CUDA libraries: only with SVDIAG_TEST_TORCH=1 (CI sets it); they skip otherwise
if [ "${SVDIAG_TEST_TORCH:-0}" = 1 ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check torch "lightning>=2.0" accelerate "peft>=0.13"
fi
(cd python && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --locked --quiet)
export SVDIAG_SCREENSHOTS="${SVDIAG_SCREENSHOTS:-$(pwd)/target/report-screens}"
(cd python && "$VENV/bin/python" -m pytest -q -rs)
# the stub of the native module matches it; the package type-checks
(cd python && "$VENV/bin/python" -m mypy.stubtest svdiag._native && "$VENV/bin/python" -m mypy svdiag --ignore-missing-imports)
