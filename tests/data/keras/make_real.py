#!/usr/bin/env python3
"""Files written by Keras itself, and their references read back with h5py + NumPy f64.

  python3 tests/data/keras/make_real.py      (needs keras 3 with a backend, e.g. jax; h5py; numpy)

Keras is not needed to run the tests: its outputs are committed (real/, ~200 KB). A small functional
model (Embedding, Conv1D, LSTM, MultiHeadAttention, a Dense head in bfloat16, a Dense in float16) is
trained for one step with Adam, so that the optimizer's state is saved beside the weights, then saved
three ways: `model.keras`, `model.weights.h5`, and the legacy `model.save("legacy.h5")`.

real/reference.json lists, per file, every weight matrix as svdiag names it, its HDF5 path, the 2-D
shape it is analyzed as, and the singular values of that f64 matrix by np.linalg.svd; the files are
read back with h5py (the bf16 kernel's opaque 2-byte elements are widened by hand); and, under
"gates", the singular values of each gate's column block of the LSTM kernels (`--split-gates`).
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "real")
SEED = 20261130
# Keras 3's variable order per layer kind (the attribute name of the layer in the file)
ROLES = {"cell": ["kernel", "recurrent_kernel", "bias"], "embedding": ["embeddings"]}


def model():
    keras.utils.set_random_seed(SEED)
    tokens = keras.Input((12,), dtype="int32")
    x = layers.Embedding(40, 16, name="tokens")(tokens)
    x = layers.Conv1D(16, 3, padding="same", name="conv")(x)
    x = layers.LSTM(16, return_sequences=True, name="lstm")(x)
    x = layers.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")(x, x)
    x = layers.Dense(24, dtype="float16", name="mlp")(x)
    y = layers.Dense(10, dtype="bfloat16", name="head")(x)
    m = keras.Model(tokens, y)
    m.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(SEED)
    m.fit(rng.integers(0, 40, (8, 12)), rng.standard_normal((8, 12, 10)), epochs=1, verbose=0)
    return m


def widen(d, bf16_layers=()):
    a = d[()]
    if a.dtype.kind == "V":
        # bfloat16 is stored as opaque 2-byte elements: Keras 3 marks them with a dtype attribute,
        # legacy files only by the layer's dtype policy in model_config
        assert d.attrs.get("dtype") == "bfloat16" or d.name.split("/")[2] in bf16_layers, d.name
        return (np.frombuffer(a.tobytes(), "<u2").astype(np.uint32) << 16).view(np.float32).reshape(a.shape)
    return a


def analyzed(path_or_name, a):
    out_last = "conv" in path_or_name or "output_dense" in path_or_name or "attention_output" in path_or_name
    if a.ndim >= 3 and out_last:
        return a.reshape(int(np.prod(a.shape[:-1])), a.shape[-1])
    return a.reshape(a.shape[0], -1)


def keras3_name(f, path):
    owner, index = path.rsplit("/vars/", 1)
    parts, names = owner.split("/"), []
    for i in range(1, len(parts) + 1):
        g = "/".join(parts[:i]) + "/vars"
        if g in f and "name" in f[g].attrs:
            names.append(f[g].attrs["name"])
    kind = parts[-1].rstrip("0123456789_")
    roles = ROLES.get(kind, ["kernel", "bias"])
    return "/".join(names) + "/" + roles[int(index)]


def references(f, layout):
    refs = []
    bf16_layers = set()
    if layout == "legacy":
        config = json.loads(f.attrs["model_config"])
        bf16_layers = {l["config"]["name"] for l in config["config"]["layers"]
                       if isinstance(l["config"].get("dtype"), dict) and l["config"]["dtype"]["config"]["name"] == "bfloat16"}

    def visit(path, d):
        if not isinstance(d, h5py.Dataset) or path.startswith("optimizer"):
            return
        if layout == "keras3":
            name = keras3_name(f, path)
        else:
            name = path.split("/", 2)[2]
        a = widen(d, bf16_layers)
        if a.ndim < 2 or name.endswith("bias"):
            return
        w = analyzed(name if layout != "keras3" else path, a).astype(np.float64)
        refs.append({"name": name, "path": path, "matrix_shape": list(w.shape),
                     "singular_values": np.linalg.svd(w, compute_uv=False).tolist()})

    f.visititems(visit)
    return sorted(refs, key=lambda r: r["name"])


def main():
    os.makedirs(OUT, exist_ok=True)
    m = model()
    m.save(os.path.join(OUT, "model.keras"))
    m.save_weights(os.path.join(OUT, "model.weights.h5"))
    m.save(os.path.join(OUT, "legacy.h5"))
    refs = {}
    with h5py.File(os.path.join(OUT, "model.weights.h5")) as f:
        refs["model.weights.h5"] = references(f, "keras3")
    with zipfile.ZipFile(os.path.join(OUT, "model.keras")) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        with z.open("model.weights.h5") as member, h5py.File(member) as f:
            refs["model.keras"] = references(f, "keras3")
    with h5py.File(os.path.join(OUT, "legacy.h5")) as f:
        refs["legacy.h5"] = references(f, "legacy")
    # --split-gates: the LSTM's gates are stacked along the columns, i f c o
    gates = []
    with h5py.File(os.path.join(OUT, "model.weights.h5")) as f:
        for index, role in [(0, "kernel"), (1, "recurrent_kernel")]:
            w = f[f"layers/lstm/cell/vars/{index}"][()].astype(np.float64)
            u = w.shape[1] // 4
            for k, label in enumerate("ifco"):
                gates.append({"name": f"lstm/lstm_cell/{role}", "gate": label, "matrix_shape": [w.shape[0], u],
                              "singular_values": np.linalg.svd(w[:, k * u:(k + 1) * u], compute_uv=False).tolist()})
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"keras": keras.__version__, "backend": keras.backend.backend(), "h5py": h5py.__version__,
                   "numpy": np.__version__, "seed": SEED, "files": refs, "gates": gates}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
