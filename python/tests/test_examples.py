"""The runnable example under examples/python works as documented."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, models_or_skip


def test_analyze_weights_example_runs():
    model = models_or_skip("minilm-l6-v2")
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "analyze_weights.py"), str(model)],
        capture_output=True, text=True, check=True,
    )
    assert "kl_uniform identical to the file's: True" in out.stdout
    assert "spectral_saturation: embeddings.position_embeddings.weight" in out.stdout
