#!/usr/bin/env python3
"""NumPy f64 reference metrics for the real example checkpoints of scripts/fetch-example-models.sh.

  python3 tests/data/reference/real_models.py [MODELS_DIR]      (default /tmp/svdiag-models)

Reads each safetensors file with its own minimal reader (header JSON + np.frombuffer; independent of
svdiag), computes every docs/metrics.md §2 metric with the functions of generate.py for a few settings, and
writes real_models.json (committed), recording NumPy's version and each file's sha256.
"""
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import metrics  # noqa: E402  (same formulas as the synthetic fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = [
    ("minilm-l6-v2", "minilm-l6-v2/model.safetensors"),
    ("silero-vad", "silero-vad/silero_vad_16k.safetensors"),
    ("g2p-en", "g2p-en/checkpoint20.npz"),
    ("mobilenet-v2", "mobilenet-v2/mobilenet_v2-b0353104.pth"),
    ("mtcnn-pnet", "mtcnn/pnet.pt"),
    ("mtcnn-rnet", "mtcnn/rnet.pt"),
    ("mtcnn-onet", "mtcnn/onet.pt"),
    ("smollm2-135m", "smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"),
]
TORCH_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8"}
SETTINGS = [("sigma", 2.0), ("energy", math.inf)]
DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop("__metadata__", None)
    for name, info in header.items():
        if info["dtype"] not in DTYPES or len(info["shape"]) < 2:
            continue
        s, e = info["data_offsets"]
        a = np.frombuffer(buf[8 + n + s:8 + n + e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        w = a.astype(np.float64).reshape(info["shape"][0], -1)
        if min(w.shape) >= 2:
            yield name, w


def read_npz(path):
    with np.load(path) as z:
        for name in z.files:
            a = z[name]
            if a.dtype.kind == "f" and a.ndim >= 2:
                w = a.astype(np.float64).reshape(a.shape[0], -1)
                if min(w.shape) >= 2:
                    yield name, w


def read_torch_legacy(path):
    """A legacy torch.save file, read with Python's own unpickler restricted to the tensor-rebuild
    globals (an independent reader: torch is not needed), storages as NumPy views."""
    import collections
    import pickle

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda key, offset, size, stride, *rest: ("tensor", key, offset, tuple(size), tuple(stride))
            if (module, name) == ("torch._utils", "_rebuild_parameter"):
                return lambda t, *rest: t
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch" and name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError(f"refused {module}.{name}")

        def persistent_load(self, pid):
            kind, storage_type, key, location, numel = pid[:5]
            types[key] = storage_type
            return key

    types = {}
    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        root = Unpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            (n,) = struct.unpack("<q", f.read(8))
            dt = np.dtype(TORCH_DTYPES[types[key]])
            storages[key] = np.frombuffer(f.read(n * dt.itemsize), dtype=dt)
    for name, t in root.items():
        _, key, offset, size, stride = t
        st = storages[key]
        if st.dtype.kind != "f" or len(size) < 2:
            continue
        a = np.lib.stride_tricks.as_strided(st[offset:], shape=size, strides=[x * st.itemsize for x in stride])
        w = a.astype(np.float64).reshape(size[0], -1)
        if min(w.shape) >= 2:
            yield name, w


def read_gguf(path):
    """GGUF through llama.cpp's own `gguf` package: its reader and its dequantization."""
    import gguf

    for t in gguf.GGUFReader(path).tensors:
        if len(t.shape) < 2:
            continue
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = [int(d) for d in reversed(t.shape)]  # GGUF lists dimensions fastest first
        w = np.asarray(a, dtype=np.float64).reshape(shape[0], -1)
        if min(w.shape) >= 2:
            yield t.name, w


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/svdiag-models"
    out = {"generator": "tests/data/reference/real_models.py", "numpy": np.__version__,
           "svd": "np.linalg.svd(W.astype(np.float64), compute_uv=False)", "models": {}}
    for model, rel in MODELS:
        path = os.path.join(root, rel)
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        entry = {"file": rel, "sha256": sha, "matrices": {}}
        reader = {".npz": read_npz, ".pth": read_torch_legacy, ".pt": read_torch_legacy, ".gguf": read_gguf}.get(
            os.path.splitext(rel)[1], read_safetensors)
        for name, w in reader(path):
            entry["matrices"][name] = {
                f"{norm}/q={'inf' if math.isinf(q) else q}": metrics(w, norm, q)[1] for norm, q in SETTINGS
            }
        out["models"][model] = entry
    tmp = os.path.join(HERE, "real_models.json.tmp")
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(HERE, "real_models.json"))


if __name__ == "__main__":
    main()
