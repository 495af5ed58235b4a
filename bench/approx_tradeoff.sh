#!/usr/bin/env bash
# The speed/accuracy trade-off of --approx against the exact route, one matrix per file, 1 thread.
#   bash bench/approx_tradeoff.sh FILE.safetensors...
# For each file: seconds and peak RSS of exact, --approx always, --quick, and the approx estimates'
# relative error and 95 % half-width against the exact values.
set -euo pipefail
BIN="${SVDIAG:-$(dirname "$0")/../target/release/svdiag}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
printf '| shape | exact s | approx s | quick s | entropy err / ±95%% | kl_uniform err / ±95%% | nuclear_norm err / ±95%% | probes, steps |\n|---|---|---|---|---|---|---|---|\n'
for f in "$@"; do
  for mode in exact approx quick; do
    case $mode in exact) a=();; approx) a=(--approx always);; quick) a=(--quick);; esac
    /usr/bin/time -f "%e" -o "$T/$mode.time" "$BIN" analyze "$f" -f json -o "$T/$mode.json" --quiet --threads 1 "${a[@]}"
  done
  python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
e = json.load(open(f"{t}/exact.json"))["matrices"][0]
a = json.load(open(f"{t}/approx.json"))["matrices"][0]
sec = {m: float(open(f"{t}/{m}.time").read().split()[-1]) for m in ["exact", "approx", "quick"]}
cells = []
for k in ["entropy", "kl_uniform", "nuclear_norm"]:
    x = a["approx"][k]
    cells.append(f"{abs(x['value'] - e[k]) / e[k]:.1e} / {(x['high'] - x['low']) / 2 / e[k]:.1e}" + ("" if x["low"] <= e[k] <= x["high"] else " (miss)"))
shape = "×".join(map(str, e["matrix_shape"]))
print(f"| {shape} | {sec['exact']:.2f} | {sec['approx']:.2f} | {sec['quick']:.2f} | " + " | ".join(cells) + f" | {a['approx']['probes']}, {a['approx']['steps']} |")
PY
done
