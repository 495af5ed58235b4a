"""The device route (torch forms each f64 Gram matrix and its eigenvalues where the tensor lives; the
Rust guard decides), run on torch's CPU device: the same code a GPU runs. It agrees with svdiag's CPU
route to 1e-9, says where it computed, and hands the matrices the guard does not accept to the CPU
route (refined or decomposed there). bench/gpu_check.py runs the same comparison on a GPU."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (SVDIAG_TEST_TORCH=1 bash scripts/test.sh installs it, as CI does)"
)

import svdiag  # noqa: E402

FIELDS = [f for f in svdiag.METRIC_FIELDS if not f.startswith(("polar_", "alpha_farms", "farms_"))]


def _by_name(report):
    return {r["name"]: r for r in report.document["matrices"]}


def _weights():
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(60, 40, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(40, 40, dtype=torch.float64, generator=g))
    ill = (u * torch.logspace(0, -7, 40, dtype=torch.float64)) @ v.T  # σ_min needs more than the Gram matrix
    return {
        "model.layers.0.mlp.up_proj.weight": torch.randn(96, 32, generator=g),
        "model.layers.0.mlp.down_proj.weight": torch.randn(32, 96, generator=g).to(torch.bfloat16),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(48, 48, generator=g, dtype=torch.float64),
        "model.layers.1.self_attn.o_proj.weight": ill,
        "model.layers.1.conv.weight": torch.randn(8, 3, 3, 3, generator=g),  # the matrix [8, 27], on the device
        "model.norm.weight": torch.ones(32),
    }


def test_the_device_route_agrees_with_the_cpu_route_and_says_where_it_ran():
    weights = _weights()
    on_device = _by_name(svdiag.run(weights, device="cpu", progress=False))
    on_cpu = _by_name(svdiag.run(weights, device=None, progress=False))
    assert on_device.keys() == on_cpu.keys()
    for name, d in on_device.items():
        c = on_cpu[name]
        for f in FIELDS:
            a, b = d[f], c[f]
            if b is None or isinstance(b, str):
                assert a == b, (name, f)
            elif b != 0:
                assert abs(a - b) <= 1e-9 * abs(b) or (math.isinf(a) and math.isinf(b)), (name, f, a, b)
    on_torch = [n for n, r in on_device.items() if (r.get("route_reason") or "").startswith("f64 Gram matrix and its eigenvalues formed by torch")]
    assert sorted(on_torch) == [
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.1.conv.weight",
    ]
    conv = on_device["model.layers.1.conv.weight"]
    assert (conv["shape"], conv["matrix_shape"], conv["reshaped"]) == ([8, 3, 3, 3], [8, 27], True)
    assert all(on_device[n]["route"] == "gram" and f"torch {torch.__version__} on cpu" in on_device[n]["route_reason"] for n in on_torch)
    # the guard sends the others to the CPU route, which says what it did: a square matrix's σ_min is
    # refined, the ill-conditioned one is refined or decomposed
    for name in on_device.keys() - set(on_torch):
        assert on_device[name] == on_cpu[name], name
    assert on_device["model.layers.0.self_attn.q_proj.weight"]["route"] == "gram-refined"
    assert on_device["model.layers.1.self_attn.o_proj.weight"]["route"] in ("gram-refined", "svd")


def test_auto_keeps_cpu_tensors_on_the_cpu_route_bit_for_bit():
    weights = _weights()
    assert svdiag.run(weights, progress=False).to_json() == svdiag.run(weights, device=None, progress=False).to_json()


def test_a_non_finite_tensor_is_reported_with_its_position():
    w = torch.randn(20, 10)
    w[3, 4] = float("nan")
    with pytest.warns(svdiag.exceptions.FailedTensorsWarning):
        report = svdiag.run({"bad": w, "good": torch.randn(20, 10)}, device="cpu", progress=False)
    assert report.failed[0]["error"] == "element [3, 4] is NaN; spectra of non-finite matrices are undefined"


def test_options_that_need_the_entries_take_the_cpu_route_and_the_filter_applies():
    weights = _weights()
    polar = _by_name(svdiag.run(weights, device="cpu", polar=True, progress=False))
    assert polar["model.layers.0.mlp.up_proj.weight"]["polar_distance"] is not None
    kept = svdiag.run(weights, device="cpu", filter="mlp", progress=False)
    assert sorted(_by_name(kept)) == ["model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.up_proj.weight"]
    assert kept.document["summary"]["filtered_out"] == 4
