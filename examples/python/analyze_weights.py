"""svdiag from Python: a checkpoint on disk, the same weights in memory, and one matrix.

    python examples/python/analyze_weights.py [MODEL_DIR]      (default: $SVDIAG_MODELS/minilm-l6-v2)

Run `bash scripts/quickstart.sh` first: it installs svdiag into .venv and fetches the example models
(then run this with .venv/bin/python).
"""

import json
import os
import struct
import sys
from pathlib import Path

import numpy as np

import svdiag

model = Path(sys.argv[1] if len(sys.argv) > 1 else Path(os.environ.get("SVDIAG_MODELS", "/tmp/svdiag-models")) / "minilm-l6-v2")

# 1. a model directory: one row per weight matrix, the CSV's columns
df = svdiag.analyze(model, progress=False)
print(df[["name", "role", "layer", "kl_uniform", "kl_excess", "stable_rank", "alpha"]].head(8).to_string())
print("\nmedian per role:")
print(df.groupby("role")[["kl_excess", "stable_rank", "alpha"]].median().round(4).to_string())

# 2. the whole report: what was skipped and why, the diagnoses with their evidence
report = svdiag.run(model, progress=False)
print(f"\n{report}")
for d in report.diagnoses["matrices"]:
    print(f"  {d['kind']}: {d['subject']}  evidence {json.dumps({k: round(v, 4) for k, v in d['evidence'].items()})}")

# 3. the same weights in memory (read here with NumPy): the same numbers, without copying the arrays
path = model / "model.safetensors"
raw = path.read_bytes()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8 : 8 + n])
arrays = {
    name: np.frombuffer(raw[8 + n + info["data_offsets"][0] : 8 + n + info["data_offsets"][1]], dtype="<f4").reshape(info["shape"])
    for name, info in header.items()
    if name != "__metadata__" and info["dtype"] == "F32"
}
in_memory = svdiag.analyze(arrays, progress=False)
same = np.array_equal(in_memory["kl_uniform"].to_numpy(), df["kl_uniform"].to_numpy())
print(f"\nin memory: {len(in_memory)} matrices, kl_uniform identical to the file's: {same}")

# 4. one matrix: its singular values and every metric, by the same guarded f64 route
w = arrays["encoder.layer.0.attention.self.query.weight"]
s = svdiag.spectrum(w)
m = svdiag.metrics(w)
print(f"\nσ_1 = {s[0]:.6f} (NumPy f64: {np.linalg.svd(w.astype(np.float64), compute_uv=False)[0]:.6f}), "
      f"kl_uniform = {m['kl_uniform']:.6f}, random baseline {m['random_baseline_kl']:.6f}, route {m['route']}")
