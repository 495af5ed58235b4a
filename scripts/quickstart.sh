#!/usr/bin/env bash
# Builds svdiag, fetches the real example checkpoints (scripts/fetch-example-models.sh), and runs
# `svdiag analyze` on all-MiniLM-L6-v2 (a Hugging Face model directory with model.safetensors).
#
#   bash scripts/quickstart.sh [extra svdiag analyze flags]
#
# Environment: SVDIAG_MODELS, the model cache (default /tmp/svdiag-models).
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${SVDIAG_MODELS:-/tmp/svdiag-models}"

cargo build --release --locked -p svdiag
bash scripts/fetch-example-models.sh "$MODELS" >&2
./target/release/svdiag analyze "$MODELS/minilm-l6-v2" --format table "$@"
