#!/usr/bin/env bash
# Installs the svdiag Python package and command into a virtual environment (a release build of the
# Rust crates through pip and maturin), fetches the real example checkpoints
# (scripts/fetch-example-models.sh), and runs `svdiag analyze` on all-MiniLM-L6-v2 (a Hugging Face
# model directory with model.safetensors).
#
#   bash scripts/quickstart.sh [extra svdiag analyze flags]
#
# Then: .venv/bin/svdiag --help, or .venv/bin/python -c 'import svdiag; ...'.
# Environment: SVDIAG_VENV (default .venv), SVDIAG_MODELS, the model cache (default /tmp/svdiag-models).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SVDIAG_VENV:-.venv}"
MODELS="${SVDIAG_MODELS:-/tmp/svdiag-models}"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check ./python >&2
bash scripts/fetch-example-models.sh "$MODELS" >&2
"$VENV/bin/svdiag" analyze "$MODELS/minilm-l6-v2" --format table "$@"
