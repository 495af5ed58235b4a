#!/usr/bin/env python3
"""ONNX fixtures written with the `onnx` package: the weights of ../reference/reference.safetensors as
graph initializers in every storage ONNX allows, so that svdiag must give identical metrics.

  pip install onnx numpy && python3 tests/data/formats/generate_onnx.py

  reference.onnx            raw_data initializers; gauss_f32 in float_data, gauss_f64 in double_data,
                            tall_f16 in int32_data (FLOAT16 bit patterns), conv_f32 as a Constant node,
                            wide_bf16 as BFLOAT16 raw_data
  external.onnx + external.onnx.data   the same matrices with their data in an external file
and hostile files under ../hostile/onnx/.
"""
import importlib.util
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(os.path.dirname(HERE), "hostile", "onnx")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bf16_bits():
    ref = os.path.join(HERE, "..", "reference", "reference.safetensors")
    import json
    with open(ref, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    info = json.loads(buf[8:8 + n])["wide_bf16"]
    s, e = info["data_offsets"]
    return np.frombuffer(buf[8 + n + s:8 + n + e], dtype="<u2").reshape(info["shape"])


def model(initializers, nodes=()):
    graph = helper.make_graph(list(nodes), "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=initializers)
    return helper.make_model(graph, producer_name="svdiag-fixtures")


def main():
    arrays = _load("fmtgen", os.path.join(HERE, "generate.py")).read_safetensors(
        os.path.join(HERE, "..", "reference", "reference.safetensors"))
    inits, nodes = [], []
    for name in sorted(arrays):
        a = arrays[name]
        if name == "gauss_f32":
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, a.shape, a.ravel().tolist(), raw=False))
        elif name == "gauss_f64":
            inits.append(helper.make_tensor(name, TensorProto.DOUBLE, a.shape, a.ravel().tolist(), raw=False))
        elif name == "tall_f16":
            # helper.make_tensor stores FLOAT16 values as their bit patterns in int32_data
            inits.append(helper.make_tensor(name, TensorProto.FLOAT16, a.shape, a.ravel().astype(np.float32).tolist(),
                                            raw=False))
        elif name == "conv_f32":
            nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(a, name="")))
        else:
            inits.append(numpy_helper.from_array(a, name=name))
    bits = bf16_bits()
    inits.append(helper.make_tensor("wide_bf16", TensorProto.BFLOAT16, bits.shape, bits.tobytes(), raw=True))
    m = model(inits, nodes)
    # the fixture must hold exactly the reference values: check with onnx's own reader
    for t in m.graph.initializer:
        if t.name in arrays and t.data_type != TensorProto.BFLOAT16:
            assert np.array_equal(numpy_helper.to_array(t), arrays[t.name]), t.name
    onnx.save_model(m, os.path.join(HERE, "reference.onnx"))

    if os.path.exists(os.path.join(HERE, "external.onnx.data")):
        os.remove(os.path.join(HERE, "external.onnx.data"))
    ext = model([numpy_helper.from_array(arrays[n], name=n) for n in ("gauss_f32", "spiked_f64", "heavy_tailed_f32")])
    onnx.save_model(ext, os.path.join(HERE, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.onnx.data", size_threshold=0)

    os.makedirs(HOSTILE, exist_ok=True)
    good = open(os.path.join(HERE, "reference.onnx"), "rb").read()
    with open(os.path.join(HOSTILE, "truncated.onnx"), "wb") as f:
        f.write(good[: len(good) // 2])
    def save(m, name):
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(m.SerializeToString())
    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), name="w")
    w.raw_data = w.raw_data[:-4]
    save(model([w]), "raw_data_short.onnx")
    t = helper.make_tensor("w", TensorProto.FLOAT, (4, 4), np.ones(16, dtype=np.float32).tobytes(), raw=True)
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    for k, v in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "64")):
        e = t.external_data.add()
        e.key, e.value = k, v
    t.ClearField("raw_data")
    save(model([t]), "external_path_traversal.onnx")
    t2 = onnx.TensorProto()
    t2.CopyFrom(t)
    t2.external_data[0].value = "missing.bin"
    save(model([t2]), "external_missing.onnx")
    # a length prefix that claims more bytes than the file holds
    with open(os.path.join(HOSTILE, "length_lie.onnx"), "wb") as f:
        f.write(b"\x08\x07\x3a\xff\xff\xff\xff\x0f" + b"\0" * 16)


if __name__ == "__main__":
    main()
