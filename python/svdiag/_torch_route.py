"""The device route: a torch tensor's Gram matrix and its eigenvalues formed in f64 by torch on the
device the tensor lives on (a GPU), so that the weights never cross to the host, only ``k``
eigenvalues and two scalars do. svdiag's own guard (in Rust, the same as on the CPU route) then
decides whether those eigenvalues give every reported metric to 5e-10; where they do not (small
singular values the Gram matrix cannot resolve, or ``σ_min`` for the condition number), that one
matrix is copied to the host and takes the CPU route, which refines ``σ_min`` or takes the direct SVD.
Nothing is ever computed in f32 or TF32 here.

Imported only when torch tensors are analyzed with a ``device``.
"""

from __future__ import annotations

import sys
from typing import Any

# f64 elements of the long side per block: bounds the widened copy on the device (64 MB)
BLOCK_ELEMENTS = 8 << 20

# compute capabilities whose f64 throughput is a large fraction of f32 (datacenter parts: P100,
# V100, A100, H100/H200, B100/B200); consumer GPUs run f64 at 1/32–1/64 of f32
FAST_F64 = {(6, 0), (7, 0), (8, 0), (9, 0), (10, 0)}


def _torch() -> Any:
    return sys.modules["torch"]


def fast_f64(device: Any) -> bool:
    """True for a CUDA device whose f64 is fast enough for the Gram route to beat the CPU."""
    torch = _torch()
    return device.type == "cuda" and torch.cuda.get_device_capability(device) in FAST_F64


def gram_eigenvalues(t: Any, rows: int, cols: int) -> tuple[list[float], float, float] | None:
    """``(λ_1 ≥ … ≥ λ_k, tr G, Σ_j ‖W_{:,j}‖₂)`` of the ``rows × cols`` matrix ``t`` (a 2-D view,
    any float dtype), with ``G`` the f64 Gram matrix of its smaller side, accumulated over blocks of
    the long side on ``t``'s device; ``None`` for a matrix with NaN or ±Inf (the CPU route reports
    the first one's position)."""
    torch = _torch()
    with torch.no_grad():
        if not bool(torch.isfinite(t).all()):
            return None
        tall = t if rows >= cols else t.T  # L × k: WᵀW = Σ Bᵀ B over row blocks B of the tall view
        long, k = tall.shape
        g = torch.zeros((k, k), dtype=torch.float64, device=t.device)
        l12 = torch.zeros((), dtype=torch.float64, device=t.device)
        step = max(1, BLOCK_ELEMENTS // max(k, 1))
        for start in range(0, long, step):
            b = tall[start : start + step].to(torch.float64)
            g.addmm_(b.T, b)
            if rows < cols:  # W's columns are the tall view's rows
                l12 += b.pow(2).sum(dim=1).sqrt().sum()
        if rows >= cols:  # W's columns are the tall view's columns: their squared norms are diag(G)
            l12 = g.diagonal().clamp_min(0).sqrt().sum()
        trace = g.diagonal().sum()
        lam = torch.linalg.eigvalsh(g).flip(0)
        return lam.cpu().tolist(), float(trace), float(l12)


def how(t: Any) -> str:
    """The record's ``route_reason`` for a spectrum computed here."""
    return f"f64 Gram matrix and its eigenvalues formed by torch {_torch().__version__} on {t.device}, accepted by the guard"
