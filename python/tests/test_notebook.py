"""The notebook example runs in a real Jupyter kernel: the progress bar is tqdm's notebook widget,
the report displays as its HTML page, and ``progress=False`` shows no bar."""

from __future__ import annotations

import pytest

from conftest import REPO

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (scripts/test.sh installs it)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (scripts/test.sh installs it)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (scripts/test.sh installs it)")
pytest.importorskip("ipywidgets", reason="ipywidgets is not installed (scripts/test.sh installs it)")

WIDGET = "application/vnd.jupyter.widget-view+json"


def _execute(nb):
    # the kernel listens on the loopback interface (jupyter_client's default) and is shut down by
    # the client that started it
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_notebook_example_shows_a_widget_bar_the_page_and_the_table():
    nb = nbformat.read(REPO / "examples" / "python" / "notebook.ipynb", as_version=4)
    run, table, diagnoses = _execute(nb)
    bars = [o for o in run.outputs if o.output_type == "display_data" and WIDGET in o.data]
    assert len(bars) == 1 and "svdiag" in bars[0].data["text/plain"], run.outputs
    (shown,) = [o for o in run.outputs if o.output_type == "execute_result"]
    assert shown.data["text/plain"] == "<svdiag.Report: 12 matrices analyzed, 0 skipped, 0 failed>"
    assert shown.data["text/html"].startswith("<iframe srcdoc=") and "sandbox=" in shown.data["text/html"]
    (frame,) = [o for o in table.outputs if o.output_type == "execute_result"]
    assert frame.data["text/html"].count("model.layers.") == 12
    (found,) = [o for o in diagnoses.outputs if o.output_type == "execute_result"]
    assert "model.layers.7.mlp.up_proj.weight" in found.data["text/plain"]
    assert not any(o.output_type == "error" for c in (run, table, diagnoses) for o in c.outputs)


def test_progress_false_shows_no_bar_in_a_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np, svdiag\n"
            "w = {f'l.{i}.weight': np.random.default_rng(i).standard_normal((512, 512)) for i in range(8)}\n"
            "print(len(svdiag.run(w, progress=False).matrices))"
        )
    ]
    (cell,) = _execute(nb)
    assert [o.output_type for o in cell.outputs] == ["stream"], cell.outputs
    assert cell.outputs[0].text == "8\n"

