"""What ``svdiag.analyze`` accepts, turned into what the native module reads.

Paths (one, several, model directories) go to the Rust readers. Everything else becomes a list of
tensors, each a zero-copy ``uint8`` view of its storage with a dtype tag and its shape: the weights
themselves are never copied. torch is never imported here; a torch object is recognised by its type
and used only because the caller passed one.

Copies are made only where the bytes cannot be read as they are, one tensor at a time: a
non-contiguous array or tensor (a transposed view, a slice with steps) is made contiguous, a
big-endian NumPy array is byte-swapped, and a tensor on an accelerator is copied to the host.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import UnsupportedDtypeError

# dtype names (NumPy's, and torch's without "torch.") -> svdiag's dtype tags (safetensors spelling);
# "bfloat16" is ml_dtypes' in NumPy (JAX arrays come as it) and torch's own
_TAGS = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


@dataclass
class Tensors:
    """Tensors held in memory, ready for the native module."""

    items: list[tuple[str, np.ndarray, str, tuple[int, ...]]] = field(default_factory=list)
    # torch tensors whose Gram eigenvalues are to be computed on a torch device: (name, tensor, device)
    device_items: list[tuple[str, Any, Any]] = field(default_factory=list)
    device: str | None = None
    # a tensor whose storage is another's (tied weights): its name -> the name it was analyzed as
    aliases: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _seen: dict[tuple, str] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        identity = _identity(value)
        if identity is not None and identity in self._seen:
            self.aliases[name] = self._seen[identity]
            return
        target = self._device_for(value)
        if identity is not None:
            self._seen[identity] = name
        if target is not None:
            self.device_items.append((name, value, target))
            return
        view = _view(name, value)
        if view is not None:
            self.items.append(view)

    def _device_for(self, x: Any) -> Any:
        """The torch device to form ``x``'s Gram matrix on, or ``None`` for the CPU route."""
        if self.device is None or not _is_torch_tensor(x):
            return None
        torch = _torch()
        if x.is_meta or x.layout != torch.strided or x.dtype not in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            return None
        if x.dim() < 2 or x.shape[0] < 2 or x[0].numel() < 2:
            return None  # not a matrix: the CPU route lists it as skipped with the reason
        if self.device != "auto":
            return torch.device(self.device)
        if x.device.type != "cuda":
            return None
        from ._torch_route import fast_f64

        if not fast_f64(x.device):
            note = f"{x.device} runs f64 slowly: its tensors were analyzed on the CPU (device='cuda' forces the GPU)"
            if note not in self.notes:
                self.notes.append(note)
            return None
        return x.device


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _torch() -> Any:
    return sys.modules.get("torch")


def _is_torch_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or _is_torch_tensor(x) or hasattr(x, "__array__") or hasattr(x, "__dlpack__")


def _identity(x: Any) -> tuple | None:
    """Where a tensor's data live, so that tied weights (one storage, several names) are read once."""
    if isinstance(x, np.ndarray):
        return ("numpy", x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
    if _is_torch_tensor(x) and x.layout == _torch().strided and not x.is_meta:
        return ("torch", x.device.type, x.device.index, x.data_ptr(), tuple(x.shape), x.stride(), str(x.dtype))
    return None


def torch_view(name: str, x: Any) -> tuple[str, np.ndarray, str, tuple[int, ...]] | None:
    """A torch tensor's bytes on the host (copied there if it is on a device)."""
    return _torch_view(name, x)


def _view(name: str, x: Any) -> tuple[str, np.ndarray, str, tuple[int, ...]] | None:
    if _is_torch_tensor(x):
        return _torch_view(name, x)
    a = x if isinstance(x, np.ndarray) else _as_numpy(name, x)
    tag = _TAGS.get(a.dtype.name)
    if tag is None:
        raise UnsupportedDtypeError(
            f"tensor '{name}': NumPy dtype {a.dtype} is not supported "
            "(float64, float32, float16 and bfloat16 are analyzed; integer and bool arrays are listed as skipped)"
        )
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    a = np.ascontiguousarray(a)
    return (name, a.reshape(-1).view(np.uint8), tag, tuple(int(d) for d in a.shape))


def _as_numpy(name: str, x: Any) -> np.ndarray:
    """Another library's array (JAX, CuPy, ...) as NumPy: through DLPack without a copy where it can,
    else its ``__array__`` (JAX's bfloat16 arrives as ml_dtypes' bfloat16)."""
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError):
            pass
    try:
        return np.asarray(x)
    except Exception as e:  # noqa: BLE001 - any failure to convert is reported with the tensor's name
        raise UnsupportedDtypeError(f"tensor '{name}': cannot be read as an array ({e})") from e


def _torch_view(name: str, t: Any) -> tuple[str, np.ndarray, str, tuple[int, ...]] | None:
    torch = _torch()
    t = t.detach()
    if t.is_meta or t.layout != torch.strided:
        return None  # no data to read (meta) or not a dense tensor; reported by the caller's notes
    tag = _TAGS.get(str(t.dtype).removeprefix("torch."))
    if tag is None:
        raise UnsupportedDtypeError(f"tensor '{name}': torch dtype {t.dtype} is not supported")
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy()
    return (name, raw, tag, tuple(int(d) for d in t.shape))


def _walk(prefix: str, value: Any, out: Tensors) -> None:
    if _is_array(value) and not isinstance(value, (str, bytes)):
        out.add(prefix or "array", value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _walk(f"{prefix}.{k}" if prefix else str(k), v, out)
    # other leaves (step counters, hyper-parameters, strings) hold no weights


def resolve(source: Any, device: str | None = None) -> list[str] | Tensors:
    """A list of paths for the readers, or the tensors of an in-memory source (torch tensors for the
    device route when ``device`` is given)."""
    if _is_path(source):
        return [os.fspath(source)]
    if isinstance(source, (list, tuple)) and source and all(_is_path(s) for s in source):
        return [os.fspath(s) for s in source]
    out = Tensors(device=device)
    torch = _torch()
    if torch is not None and isinstance(source, torch.nn.Module):
        # state_dict lists tied parameters under every name; they are read once (aliases)
        state = source.state_dict(keep_vars=True)
        for name, value in state.items():
            out.add(name, value)
        skipped = [n for n, v in state.items() if v.is_meta]
        if skipped:
            out.notes.append(f"{len(skipped)} meta tensors (no data) not analyzed: {', '.join(skipped[:5])}")
        return out
    if isinstance(source, Mapping):
        _walk("", source, out)
        if not out.items and not out.aliases and not out.device_items:
            raise UnsupportedDtypeError("the mapping holds no arrays or tensors")
        return out
    if _is_array(source):
        out.add("array", source)
        return out
    raise TypeError(
        f"svdiag cannot analyze a {type(source).__name__}: pass a path, a list of paths, a model directory, "
        "an array or tensor, a mapping of them (a state dict), or a torch.nn.Module"
    )
