#!/usr/bin/env python3
"""Keras HDF5 fixtures written with h5py alone (no TensorFlow, no Keras), NumPy f64 references, and
the files Keras's HDF5 reader must refuse.

  python3 tests/data/keras/generate.py        (needs h5py and numpy)

Writes, next to this script, files in the layouts Keras writes (checked against Keras 3.15.1's own
files: see make_real.py):
  keras3.weights.h5   Keras 3 `save_weights`: layers/<attr>/vars/<i>, the user's layer name in the
                      vars group's `name` attribute; Dense, Conv2D (kh, kw, in, out), Embedding,
                      an LSTM cell, MultiHeadAttention (query (d, heads, head_dim), output
                      (heads, head_dim, d), 2-D biases), a BF16 Dense (2-byte opaque + dtype
                      attribute), an F16 Dense, and the optimizer's state (kernel-shaped moments)
  model.keras         the same weights in a `.keras` zip (members STORED, as Keras writes them)
  legacy_model.h5     Keras 2 `model.save`: model_weights/<layer>/<layer>/<weight>, model_config,
                      optimizer_weights
  legacy_weights.h5   Keras 2 `save_weights`: fixed-length `S` layer_names / weight_names (h5py 2
                      style), names with `:0`; 300 layers, so the root group's B-tree has more than
                      one level (checked here)
  plain.h5            not Keras: a big-endian f4 dataset and a compact-layout f8 dataset
  twin.safetensors    every matrix above as the 2-D matrix svdiag analyzes, same dtype and bits
and reference.json: for every matrix, its analyzed shape and the singular values of the f64 matrix
by np.linalg.svd, with the NumPy and h5py versions and the seed.

Into ../hostile/keras/ it writes what the reader refuses, each with the feature named: the newer
format (libver="latest"), link-message groups (track_order=True), chunked + gzip datasets, and files
damaged by hand (see `hostile()`): a group cycle, a continuation loop, B-tree and heap damage, sizes
past the end of the file, an overflowing shape, a 140 TB dataset.
"""
import io
import json
import os
import struct
import sys
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _adapters_generator():
    """tests/data/adapters/generate.py, for its bf16_bits (round-to-nearest-even f32 → bfloat16 bits)
    and its safetensors writer."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("adapters_generate", os.path.join(HERE, "..", "adapters", "generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_adapters = _adapters_generator()
bf16_bits = _adapters.bf16_bits
write_safetensors = _adapters.write_safetensors  # tensors: name -> (dtype tag, array)

HOSTILE = os.path.join(HERE, "..", "hostile", "keras")
SEED = 20261130


def member(name, compression=zipfile.ZIP_STORED):
    """A zip member with a fixed date, so that the archives are the same at every run."""
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 30, 0, 0, 0))
    info.compress_type = compression
    return info


def keras3_layers(rng):
    """(attribute path, user name, [(role, array, storage tag)]) of a small Keras 3 model."""
    g = lambda *s: (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)  # noqa: E731
    bits, _ = bf16_bits(g(24, 20))
    return [
        ("layers/embedding", "tokens", [("embeddings", g(50, 16), "F32")]),
        ("layers/conv2d", "stem", [("kernel", g(3, 3, 4, 8), "F32"), ("bias", np.zeros(8, "f4"), "F32")]),
        ("layers/lstm/cell", "lstm_cell", [("kernel", g(16, 48), "F32"), ("recurrent_kernel", g(12, 48), "F32"),
                                           ("bias", np.zeros(48, "f4"), "F32")]),
        ("layers/multi_head_attention/query_dense", "query", [("kernel", g(16, 2, 4), "F32"),
                                                              ("bias", np.zeros((2, 4), "f4"), "F32")]),
        ("layers/multi_head_attention/output_dense", "attention_output", [("kernel", g(2, 4, 16), "F32"),
                                                                          ("bias", np.zeros(16, "f4"), "F32")]),
        ("layers/dense", "bf16_head", [("kernel", bits, "BF16")]),
        ("layers/dense_1", "f16_head", [("kernel", g(20, 10).astype(np.float16), "F16")]),
    ]


def values(array, tag):
    """The f64 values the stored elements hold."""
    if tag == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return array.astype(np.float64)


def analyzed_shape(shape, name):
    """The 2-D shape svdiag analyzes: Keras conv and attention-output kernels by their last axis."""
    if len(shape) >= 3 and ("conv" in name or "stem" in name or "attention_output" in name):
        return (int(np.prod(shape[:-1])), shape[-1])
    return (shape[0], int(np.prod(shape[1:])))


def write_keras3(f, layers):
    f.create_group("vars").attrs["name"] = "functional"
    names = {}
    for attr, user, variables in layers:
        parent = attr.rsplit("/", 1)[0]
        if parent.endswith("multi_head_attention") and f"{parent}/vars" not in f:
            f.create_group(f"{parent}/vars").attrs["name"] = "mha"
        if parent.endswith("lstm") and f"{parent}/vars" not in f:
            f.create_group(f"{parent}/vars").attrs["name"] = "lstm"
        group = f.create_group(f"{attr}/vars")
        group.attrs["name"] = user
        prefix = {"layers/multi_head_attention": "mha/", "layers/lstm": "lstm/"}.get(parent, "")
        for i, (role, array, tag) in enumerate(variables):
            if tag == "BF16":
                d = group.create_dataset(str(i), data=array.view("V2"))
                d.attrs["dtype"] = "bfloat16"
            else:
                group.create_dataset(str(i), data=array)
            names[f"{prefix}{user}/{role}"] = (array, tag)
    # Adam's moments: the same shapes as the kernels, which must not be reported as layers
    opt = f.create_group("optimizer/vars")
    opt.attrs["name"] = "adam"
    opt.create_dataset("0", data=np.int64(3))
    k = 1
    for _, _, variables in layers:
        for _, array, tag in variables:
            if tag == "F32":
                for _ in range(2):
                    opt.create_dataset(str(k), data=np.full(array.shape, 1e-3, "f4"))
                    k += 1
    return names


def reference(name, array, tag):
    rows, cols = analyzed_shape(array.shape, name)
    w = values(array, tag).reshape(rows, cols)
    return {"name": name, "matrix_shape": [rows, cols], "dtype": tag,
            "singular_values": np.linalg.svd(w, compute_uv=False).tolist()}


def main():
    rng = np.random.default_rng(SEED)
    layers = keras3_layers(rng)
    refs = {}

    with h5py.File(os.path.join(HERE, "keras3.weights.h5"), "w") as f:
        names = write_keras3(f, layers)
    matrices = {n: v for n, v in names.items() if v[0].ndim >= 2 and not n.endswith("/bias")}
    refs["keras3.weights.h5"] = [reference(n, a, t) for n, (a, t) in sorted(matrices.items())]
    refs["model.keras"] = refs["keras3.weights.h5"]
    twin = {}
    for n, (a, t) in matrices.items():
        rows, cols = analyzed_shape(a.shape, n)
        twin[n] = (t, a.reshape(rows, cols))
    write_safetensors(os.path.join(HERE, "twin.safetensors"), twin)

    with open(os.path.join(HERE, "keras3.weights.h5"), "rb") as h5:
        weights = h5.read()
    with zipfile.ZipFile(os.path.join(HERE, "model.keras"), "w", zipfile.ZIP_STORED) as z:
        z.writestr(member("metadata.json"), json.dumps({"keras_version": "3.15.1", "date_saved": "2026-11-30"}))
        z.writestr(member("config.json"), json.dumps({"class_name": "Functional", "config": {"name": "functional"}}))
        z.writestr(member("model.weights.h5"), weights)

    # Keras 2 model.save: model_weights/<layer>/<layer>/<weight>, model_config, optimizer_weights
    g = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    legacy = {"conv1": {"kernel": g(5, 3, 6)}, "dense": {"kernel": g(18, 7), "bias": g(7)}}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "Conv1D", "config": {"name": "conv1"}}, {"class_name": "Dense", "config": {"name": "dense"}}]}}
    with h5py.File(os.path.join(HERE, "legacy_model.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = list(legacy)
        mw.attrs["backend"] = "tensorflow"
        for layer, ws in legacy.items():
            lg = mw.create_group(layer)
            lg.attrs["weight_names"] = [f"{layer}/{w}" for w in ws]
            for w, a in ws.items():
                lg.create_dataset(f"{layer}/{w}", data=a)
        ow = f.create_group("optimizer_weights/adam")
        ow.create_dataset("conv1_kernel_momentum", data=np.zeros((5, 3, 6), "f4"))
        ow.create_dataset("dense_kernel_momentum", data=np.zeros((18, 7), "f4"))
    refs["legacy_model.h5"] = [reference(f"{layer}/kernel", ws["kernel"], "F32") for layer, ws in legacy.items()]

    # Keras 2 save_weights, h5py-2 style fixed-length strings, 700 layers: a multi-level B-tree
    with h5py.File(os.path.join(HERE, "legacy_weights.h5"), "w") as f:
        names = [f"dense_{i}" for i in range(300)]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        refs["legacy_weights.h5"] = []
        for i, n in enumerate(names):
            lg = f.create_group(n)
            lg.attrs["weight_names"] = np.array([f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()])
            k = g(4, 3)
            lg.create_dataset(f"{n}/kernel:0", data=k)
            lg.create_dataset(f"{n}/bias:0", data=np.zeros(3, "f4"))
            refs["legacy_weights.h5"].append(reference(f"{n}/kernel:0", k, "F32"))

    with open(os.path.join(HERE, "legacy_weights.h5"), "rb") as f:
        head = f.read(96)
        assert struct.unpack("<I", head[72:76])[0] == 1, "the root entry caches its B-tree address"
        f.seek(struct.unpack("<Q", head[80:88])[0])
        node = f.read(8)
        assert node[:4] == b"TREE" and node[5] >= 1, "the root group's B-tree has more than one level"

    # not Keras: paths as names; big-endian and compact storage
    with h5py.File(os.path.join(HERE, "plain.h5"), "w") as f:
        big = g(9, 5).astype(">f4")
        f.create_dataset("weights/big_endian", data=big)
        compact = g(6, 4).astype("f8")
        space = h5py.h5s.create_simple(compact.shape)
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)
        plist.set_obj_track_times(False)  # no timestamp: the file is the same at every run
        dset = h5py.h5d.create(f.id, b"weights/compact", h5py.h5t.IEEE_F64LE, space, plist)
        dset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(compact))
    refs["plain.h5"] = [reference("weights/big_endian", big.astype("<f4"), "F32"),
                        reference("weights/compact", compact, "F64")]

    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump({"numpy": np.__version__, "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
                   "seed": SEED, "files": refs}, f, indent=1)
    hostile(rng)


def small(path, **file_kw):
    with h5py.File(path, "w", **file_kw) as f:
        f.create_group("layers/dense/vars").attrs["name"] = "d"
        f["layers/dense/vars"].create_dataset("0", data=np.ones((4, 3), "f4"))


def patch(data, old, new, count=1):
    assert data.count(old) >= count, (old, data.count(old))
    return data.replace(old, new, count)


def hostile(rng):
    """Files the reader must refuse, each with its reason (EXPECTED.tsv lists what the error says)."""
    os.makedirs(HOSTILE, exist_ok=True)
    out = lambda name: os.path.join(HOSTILE, name)  # noqa: E731
    small(out("libver_latest.h5"), libver="latest")
    small(out("track_order.h5"), track_order=True)
    with h5py.File(out("chunked_gzip.h5"), "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.ones((64, 32), "f4"), chunks=(8, 8), compression="gzip")

    buf = io.BytesIO()
    small(buf)
    base = bytearray(buf.getvalue())
    sig = b"\x89HDF\r\n\x1a\n"
    write = lambda name, data: open(out(name), "wb").write(bytes(data))  # noqa: E731

    write("truncated.h5", base[: len(base) // 2])
    # the dataset's shape: dims 4 and 3 (8-byte lengths) in its dataspace message
    dims = struct.pack("<QQ", 4, 3)
    write("shape_overflow.h5", patch(bytes(base), dims, struct.pack("<QQ", 1 << 62, 1 << 62)))
    write("shape_140tb.h5", patch(bytes(base), dims, struct.pack("<QQ", 1 << 22, 1 << 22)))
    # the contiguous layout: address then size 48 (8-byte each), in the layout message (version 3)
    layout = bytes(base).find(b"\x03\x01", bytes(base).find(struct.pack("<Q", 48)) - 12)
    at = layout + 2
    past = bytearray(base)
    past[at:at + 8] = struct.pack("<Q", len(base) - 8)
    write("data_past_end.h5", past)
    # a superblock that declares more bytes than the file holds
    eof = bytearray(base)
    eof[40:48] = struct.pack("<Q", len(base) * 4)
    write("eof_past_end.h5", eof)
    # a user block: the signature at 512
    write("userblock.h5", bytes(512) + bytes(base))
    # damaged structures, found by their signatures
    data = bytes(base)
    tree = data.find(b"TREE")
    snod = data.find(b"SNOD")
    heap = data.find(b"HEAP")
    # the root B-tree's first child (an SNOD) replaced by the B-tree itself: a cycle
    cyc = bytearray(data)
    child = tree + 8 + 8 + 8 + 8  # signature, type, level, used, two siblings, key 0 (8 bytes)
    cyc[child:child + 8] = struct.pack("<Q", tree)
    write("btree_cycle.h5", cyc)
    # a member's object header address pointing back at the root group: a group cycle
    root_header = struct.unpack("<Q", data[64:72])[0]
    grp = bytearray(data)
    entry = snod + 8
    grp[entry + 8:entry + 16] = struct.pack("<Q", root_header)
    write("group_cycle.h5", grp)
    # a member name offset past the local heap
    name = bytearray(data)
    name[entry:entry + 8] = struct.pack("<Q", 1 << 20)
    write("name_past_heap.h5", name)
    # a local heap whose names have no terminating NUL
    nonul = bytearray(data)
    size = struct.unpack("<Q", data[heap + 8:heap + 16])[0]
    seg = struct.unpack("<Q", data[heap + 24:heap + 32])[0]
    nonul[seg:seg + size] = b"x" * size
    write("name_without_nul.h5", nonul)
    # a header that claims 65,535 messages
    many = bytearray(data)
    many[root_header + 2:root_header + 4] = struct.pack("<H", 0xFFFF)
    write("messages_65535.h5", many)
    # a continuation message pointing at its own header's block: a loop
    loop = bytearray(data)
    first = root_header + 16
    cont_body = struct.pack("<QQ", root_header + 16, 24)
    loop[first:first + 8 + 16] = struct.pack("<HHB3x", 0x0010, 16, 0) + cont_body
    loop[root_header + 2:root_header + 4] = struct.pack("<H", 0xFFFF)  # so that the loop is followed
    write("continuation_loop.h5", loop)
    # a B-tree node whose signature is damaged
    bad = bytearray(data)
    bad[tree:tree + 4] = b"EERT"
    write("btree_signature.h5", bad)

    # a .keras whose model.weights.h5 is deflated although Keras stores it
    with zipfile.ZipFile(out("deflated_member.keras"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member("model.weights.h5", zipfile.ZIP_DEFLATED), bytes(base))
    # a sharded .keras (Keras's max_shard_size): its weights are in several .h5 members, not read
    with zipfile.ZipFile(out("sharded.keras"), "w", zipfile.ZIP_STORED) as z:
        z.writestr(member("metadata.json"), json.dumps({"keras_version": "3.15.1"}))
        z.writestr(member("config.json"), json.dumps({"class_name": "Functional"}))
        z.writestr(member("model.weights.json"), json.dumps({"model_00000.weights.h5": ["layers/dense/vars"]}))
        z.writestr(member("model_00000.weights.h5"), bytes(base))
    # a vlen string attribute whose global heap object is missing
    vbuf = io.BytesIO()
    with h5py.File(vbuf, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.attrs["name"] = "a_user_name"
        g.create_dataset("0", data=np.ones((4, 3), "f4"))
    vl = bytes(vbuf.getvalue())
    gcol = vl.find(b"GCOL")
    idx = vl.find(b"\x01\x00", gcol + 16)  # object 1
    vl = bytearray(vl)
    vl[idx:idx + 2] = struct.pack("<H", 7)
    write("vlen_string_missing.h5", vl)


if __name__ == "__main__":
    sys.exit(main())
