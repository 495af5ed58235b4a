"""The HTML report from Python (the command line's renderer), and the plot data it draws checked
against NumPy: the histogram, the near-zero count, the outliers and the cut-offs that counted them,
the complementary CDF, and the Marchenko–Pastur expected counts (integrated here independently)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import svdiag
from conftest import REFERENCE, run_cli, write_safetensors


def _cli_page(tmp_path, *argv: str) -> bytes:
    out = tmp_path / "cli.html"
    r = run_cli(*argv, "-o", str(out), "-q")
    assert r.returncode in (0, 3), r.stderr
    return out.read_bytes()


def test_report_to_html_is_the_command_lines_page(tmp_path):
    report = svdiag.run(str(REFERENCE), plot_data=True, progress=False)
    page = report.to_html()
    assert page.encode() == _cli_page(tmp_path, "analyze", str(REFERENCE))
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    # written atomically where asked, and the same text returned
    target = tmp_path / "r.html"
    assert report.to_html(target) == page and target.read_text() == page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_page_names_its_inputs_by_size_and_sha256():
    import hashlib

    report = svdiag.run(str(REFERENCE), plot_data=True, progress=False)
    (f,) = report.document["inputs"][0]["files"]
    data = REFERENCE.read_bytes()
    assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert f["sha256"] in report.to_html()
    # only with plot data: a plain analysis does not read its inputs twice
    assert "sha256" not in svdiag.run(str(REFERENCE), progress=False).document["inputs"][0]["files"][0]


def test_without_plot_data_the_page_says_how_to_get_the_spectra():
    page = svdiag.run(str(REFERENCE), progress=False).to_html()
    assert "plot_data=True" in page
    assert 'class="esd"' not in page


def test_notebook_display_is_the_page_in_an_isolated_frame():
    report = svdiag.run(str(REFERENCE), plot_data=True, progress=False)
    shown = report._repr_html_()
    assert shown.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts"' in shown
    # the whole page, escaped into the attribute: no raw markup of the page leaks into the notebook
    inner = shown[len('<iframe srcdoc="') : shown.index('" sandbox=')]
    assert "<" not in inner and '"' not in inner
    import html

    assert html.unescape(inner) == report.to_html()


def _run(tmp_path):
    rng = np.random.default_rng(3)
    for k, step in enumerate((10, 20, 30)):
        weights = {
            f"model.layers.{i}.mlp.up_proj.weight": rng.standard_normal((64, 32)) * (1 + 0.1 * k) for i in range(3)
        }
        write_safetensors(tmp_path / "run" / f"checkpoint-{step}" / "model.safetensors", weights)
    return tmp_path / "run"


def test_trend_and_compare_pages_are_the_command_lines(tmp_path):
    run = _run(tmp_path)
    t = svdiag.trend(str(run), cache=False)
    assert t.to_html().encode() == _cli_page(tmp_path, "trend", str(run), "--no-cache")
    a, b = str(run / "checkpoint-10"), str(run / "checkpoint-30")
    c = svdiag.compare(a, b, cache=False)
    assert c.to_html().encode() == _cli_page(tmp_path, "compare", a, b, "--no-cache")
    d = svdiag.delta(a, b, cache=False, plot_data=True)
    assert d.to_html().encode() == _cli_page(tmp_path, "delta", a, b, "--no-cache")


def _mp_expected(lo_hi, bins, scale, rows, cols):
    """Eigenvalues per log10-λ bin under the Marchenko–Pastur law of entry scale ``scale``,
    integrated here with a midpoint rule in θ (λ = (a+b)/2 − (b−a)/2·cos θ), independently of svdiag."""
    n, m = max(rows, cols), min(rows, cols)
    c = m / n
    a, b = (1 - math.sqrt(c)) ** 2, (1 + math.sqrt(c)) ** 2
    theta = (np.arange(400_000) + 0.5) * math.pi / 400_000
    x = (a + b) / 2 - (b - a) / 2 * np.cos(theta)
    weight = ((b - a) / 2 * np.sin(theta)) ** 2 / (2 * math.pi * c * x) * (math.pi / 400_000)
    weight /= weight.sum()
    lam = x * n * scale**2  # back to λ = σ²
    edges = np.linspace(lo_hi[0], lo_hi[1], bins + 1)
    edges[-1] = lo_hi[1]
    idx = np.searchsorted(10.0**edges, lam, side="right") - 1
    inside = (idx >= 0) & (idx < bins)
    return m * np.bincount(idx[inside], weights=weight[inside], minlength=bins)


def test_plot_data_matches_numpy(tmp_path):
    # the reference matrices, plus a rank-deficient one and one with spikes at both ends
    rng = np.random.default_rng(11)
    u, _ = np.linalg.qr(rng.standard_normal((120, 40)))
    v, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    s = np.linalg.svd(rng.standard_normal((120, 40)), compute_uv=False)
    s[:2] *= 6.0
    s[-3:] = [1e-2, 5e-3, 1e-3]
    deficient = rng.standard_normal((50, 8)) @ rng.standard_normal((8, 60))
    write_safetensors(tmp_path / "extra.safetensors", {"spikes": (u * s) @ v.T, "deficient": deficient})
    doc = json.loads(svdiag.run([str(REFERENCE), str(tmp_path / "extra.safetensors")], spectrum=True, plot_data=True, progress=False).to_json())
    checked = 0
    for m in doc["matrices"]:
        sv = np.array(m["singular_values"])
        e = m["esd"]
        rows, cols = m["matrix_shape"]
        k = len(sv)
        assert e["values"] == k
        tol = sv[0] * max(rows, cols) * np.finfo(float).eps
        assert e["tolerance"] == tol
        assert e["near_zero"] == int((sv <= tol).sum()) == k - m["numerical_rank"]
        lam = sv**2
        positive = lam[sv > tol]
        if len(positive) == 0:
            continue
        lo, hi = np.log10(positive.min()), np.log10(positive.max())
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        assert e["log10_range"] == pytest.approx([lo, hi], rel=1e-15, abs=1e-15)
        counts, _ = np.histogram(np.log10(positive), bins=60, range=(lo, hi))
        assert e["counts"] == counts.tolist(), m["name"]
        # ccdf: exact λ at the kept ranks, and the fraction i/k
        for lam_i, p in e["ccdf"]:
            i = round(p * k)
            assert p == i / k and lam_i == lam[i - 1]
        assert e["ccdf"][0] == [lam[0], 1 / k] and e["ccdf"][-1] == [lam[-1], 1.0]
        if m["mp_scale"] is not None:
            above, below = m["outliers_above"], m["outliers_below"]
            lower, upper = e["mp_cuts"]
            assert int((lam > upper).sum()) == above
            if lower is None:
                assert rows == cols and below == 0
            else:
                assert int((lam < lower).sum()) == below
            assert e["outliers_above"] == lam[: min(above, 64)].tolist()
            assert e["outliers_below"] == lam[k - min(below, 64) :][::-1].tolist()
            want = _mp_expected(e["log10_range"], 60, m["mp_scale"], rows, cols)
            assert np.allclose(e["mp_expected"], want, atol=2e-3 * k / 60 + 1e-9), m["name"]
        checked += 1
    names = {m["name"]: m for m in doc["matrices"]}
    assert names["spikes"]["outliers_above"] == 2 and names["spikes"]["outliers_below"] == 3
    assert names["deficient"]["esd"]["near_zero"] == 50 - 8
    assert checked >= 10
