"""Writes `torch.save` files without torch: the exact pickle protocol-2 stream and container layout
that torch/serialization.py produces (zip format and legacy format), built with Python's own pickle
and stand-ins registered as `torch._utils._rebuild_tensor_v2` / `torch.FloatStorage`, so fixtures can
be generated on machines without torch. The real legacy files from fetch-example-models.sh
(torchvision MobileNetV2, MTCNN) check the same reader against files torch itself wrote.
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

_torch = types.ModuleType("torch")
_utils = types.ModuleType("torch._utils")


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise RuntimeError("stand-in")


def _rebuild_parameter(*args):
    raise RuntimeError("stand-in")


_rebuild_tensor_v2.__module__ = _rebuild_parameter.__module__ = "torch._utils"
_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
_utils._rebuild_parameter = _rebuild_parameter
STORAGE_TYPES = {}
for cls_name, dt in [("FloatStorage", "<f4"), ("DoubleStorage", "<f8"), ("HalfStorage", "<f2"),
                     ("LongStorage", "<i8"), ("BFloat16Storage", None)]:
    cls = type(cls_name, (), {})
    cls.__module__ = "torch"
    setattr(_torch, cls_name, cls)
    STORAGE_TYPES[cls_name] = cls
_torch._utils = _utils
sys.modules.setdefault("torch", _torch)
sys.modules.setdefault("torch._utils", _utils)


class Storage:
    """A flat storage: raw little-endian bytes of `numel` elements of a torch storage type."""

    def __init__(self, key, type_name, raw, numel):
        self.key, self.type_name, self.raw, self.numel = key, type_name, raw, numel


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.storage, self.offset, self.size, self.stride, self.parameter = storage, offset, size, stride, parameter

    def __reduce_ex__(self, proto):
        t = (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                                  collections.OrderedDict()))
        if self.parameter:
            return (_rebuild_parameter, (_Plain(t), False, collections.OrderedDict()))
        return t


class _Plain:
    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce_ex__(self, proto):
        return self.reduced


def tensor_from_array(key, a, type_name=None, parameter=False):
    """A contiguous tensor over its own storage. `a` is a NumPy array (float32/64/16)."""
    type_name = type_name or {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
                              "int64": "LongStorage"}[a.dtype.name]
    a = np.require(a, requirements="C")  # keeps 0-D arrays 0-D
    raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
    st = Storage(key, type_name, raw, a.size)
    strides = [int(s // a.itemsize) for s in a.strides] if a.ndim else []
    return Tensor(st, 0, list(a.shape), strides, parameter)


class _Pickler(pickle.Pickler):
    def __init__(self, f, legacy):
        super().__init__(f, protocol=2)
        self.legacy = legacy
        self.seen = collections.OrderedDict()

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.seen[obj.key] = obj
            pid = ("storage", STORAGE_TYPES[obj.type_name], obj.key, "cpu", obj.numel)
            return pid + (None,) if self.legacy else pid
        return None


def save_zip(obj, path, prefix="archive"):
    buf = io.BytesIO()
    p = _Pickler(buf, legacy=False)
    p.dump(obj)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", buf.getvalue())
        z.writestr(f"{prefix}/byteorder", b"little")
        for key, st in p.seen.items():
            z.writestr(f"{prefix}/data/{key}", st.raw)
        z.writestr(f"{prefix}/version", b"3\n")


def save_legacy(obj, path):
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    p = _Pickler(out, legacy=True)
    p.dump(obj)
    keys = list(p.seen)
    pickle.dump(keys, out, protocol=2)
    for key in keys:
        st = p.seen[key]
        out.write(struct.pack("<q", st.numel))
        out.write(st.raw)
    with open(path, "wb") as f:
        f.write(out.getvalue())
