#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the valid and hostile fixtures of its format.
set -euo pipefail
cd "$(dirname "$0")/.."
copy() { local t=$1; shift; mkdir -p "fuzz/corpus/$t"; for f in "$@"; do [ -f "$f" ] && cp "$f" "fuzz/corpus/$t/"; done; }
copy safetensors tests/data/reference/*.safetensors tests/data/hostile/safetensors/*
copy pytorch_zip tests/data/formats/*.pt tests/data/formats/*.npz tests/data/hostile/pytorch/* tests/data/hostile/npz/* \
  tests/data/keras/*.keras tests/data/keras/real/*.keras tests/data/hostile/keras/*.keras
copy keras_h5 tests/data/keras/*.h5 tests/data/keras/real/*.h5 tests/data/hostile/keras/*.h5
copy gguf tests/data/formats/*.gguf tests/data/hostile/gguf/*
copy npy tests/data/formats/*.npy tests/data/hostile/npy/*
copy onnx tests/data/formats/*.onnx tests/data/hostile/onnx/*
echo "corpora in fuzz/corpus/"
