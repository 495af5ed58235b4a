"""torch objects: tensors of every supported dtype, modules and their state dicts, tied and
non-contiguous weights. svdiag never imports torch; these tests do."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (SVDIAG_TEST_TORCH=1 bash scripts/test.sh installs it, as CI does)"
)

import svdiag  # noqa: E402
from svdiag._inputs import resolve  # noqa: E402


def _records(report):
    return {r["name"]: {k: v for k, v in r.items() if k not in ("file", "dtype")} for r in report.document["matrices"]}


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(50, 16)
        self.up_proj = torch.nn.Linear(16, 64)
        self.down_proj = torch.nn.Linear(64, 16, bias=False)
        self.lm_head = torch.nn.Linear(16, 50, bias=False)
        self.lm_head.weight = self.embed_tokens.weight  # tied


def test_a_tensor_is_read_through_a_view_of_its_own_storage():
    t = torch.randn(32, 24, dtype=torch.bfloat16)
    (name, raw, tag, shape) = resolve(t).items[0]
    assert (tag, shape) == ("BF16", (32, 24))
    assert raw.ctypes.data == t.data_ptr() and raw.size == t.numel() * 2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_each_dtype_gives_the_metrics_of_its_values(dtype):
    torch.manual_seed(0)
    t = torch.randn(40, 30).to(dtype)
    # widening is exact: the same values as f64 give the same matrix
    assert _records(svdiag.run(t, progress=False)) == _records(svdiag.run(t.double().numpy(), progress=False))


def test_a_module_equals_its_state_dict_and_tied_weights_are_read_once():
    torch.manual_seed(1)
    model = Tiny()
    by_module = svdiag.run(model, progress=False)
    by_state = svdiag.run(model.state_dict(), progress=False)
    assert _records(by_module) == _records(by_state)
    names = [r["name"] for r in by_module.document["matrices"]]
    assert "embed_tokens.weight" in names and "lm_head.weight" not in names
    assert by_module.aliases == {"lm_head.weight": "embed_tokens.weight"}


def test_parameters_that_require_grad_and_transposed_views():
    p = torch.nn.Parameter(torch.randn(20, 35))
    assert _records(svdiag.run({"w": p.T}, progress=False)) == _records(svdiag.run({"w": p.detach().T.contiguous()}, progress=False))


def test_meta_tensors_hold_no_data_and_are_noted():
    with torch.device("meta"):
        model = torch.nn.Linear(8, 8)
    with pytest.raises(svdiag.exceptions.NothingToAnalyzeError):
        svdiag.run(model, progress=False)
    src = resolve(model)
    assert src.items == [] and "meta tensors" in src.notes[0]
