#!/usr/bin/env bash
# The whole test suite: unit, property, reference (NumPy f64 fixtures), CLI snapshot and error tests,
# and the real-checkpoint tests, which need the example models (fetched here; ~110 MB, cached).
#
#   bash scripts/test.sh
#
# Environment: SVDIAG_SHARED (default ../shared), SVDIAG_MODELS (default /tmp/svdiag-models).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SVDIAG_SHARED:-../shared}"
export SVDIAG_MODELS="${SVDIAG_MODELS:-/tmp/svdiag-models}"

bash "$SHARED/data/fetch-example-models.sh" "$SVDIAG_MODELS" >&2
# --include-ignored: the real-model tests are ignored in a plain `cargo test` (no models there)
cargo test --workspace --locked -- --include-ignored
