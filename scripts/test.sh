#!/usr/bin/env bash
# The whole test suite: unit, property, reference (NumPy f64 fixtures), CLI snapshot and error tests,
# and the real-checkpoint tests, which need the example models (fetched here by
# scripts/fetch-example-models.sh; ~110 MB, cached).
#
#   bash scripts/test.sh
#
# Environment: SVDIAG_MODELS, the model cache (default /tmp/svdiag-models).
set -euo pipefail
cd "$(dirname "$0")/.."
export SVDIAG_MODELS="${SVDIAG_MODELS:-/tmp/svdiag-models}"

bash scripts/fetch-example-models.sh "$SVDIAG_MODELS" >&2
# --include-ignored: the real-model tests are ignored in a plain `cargo test` (no models there)
cargo test --workspace --locked -- --include-ignored
