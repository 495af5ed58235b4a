"""The Hugging Face callback, with transformers' own TrainingArguments, TrainerState and
TrainerControl (no torch needed): it analyzes each saved checkpoint, logs per-role medians through
the trainer, raises the run's alerts once, works on rank 0 only, and never stops training."""

from __future__ import annotations

import numpy as np
import pytest

transformers = pytest.importorskip("transformers", reason="the HF callback needs transformers")

import svdiag  # noqa: E402
from svdiag.callbacks import HFSpectralCallback, aggregate  # noqa: E402
from svdiag.exceptions import SvdiagWarning  # noqa: E402
from conftest import write_safetensors  # noqa: E402
from test_runs import STEPS, _planted  # noqa: E402


class FakeTrainer:
    """What the callback uses of a Trainer: ``log``."""

    def __init__(self):
        self.logged = []

    def log(self, values):
        self.logged.append(values)


def _save(out, k, step, collapse=False):
    tensors = {}
    for layer in range(2):
        d = 0.05 * (1 + 0.02 * k + 0.1 * layer)
        up = d * (8 if collapse and layer == 1 else 1)  # only this matrix's spectrum concentrates
        tensors[f"model.layers.{layer}.mlp.up_proj.weight"] = _planted(32, np.exp(-up * np.arange(32)), seed=layer + 1)
        tensors[f"model.layers.{layer}.self_attn.q_proj.weight"] = _planted(32, np.exp(-2 * d * np.arange(32)), seed=layer + 5)
    write_safetensors(out / f"checkpoint-{step}" / "model.safetensors", tensors)


def _events(tmp_path, **kwargs):
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    trainer = FakeTrainer()
    cb = HFSpectralCallback(trainer, cache=tmp_path / "store.sqlite3", **kwargs)
    return args, trainer, cb


def test_each_save_logs_the_checkpoints_role_medians_through_the_trainer(tmp_path):
    args, trainer, cb = _events(tmp_path)
    state, control = transformers.TrainerState(), transformers.TrainerControl()
    for k, step in enumerate(STEPS[:3]):
        _save(tmp_path / "out", k, step)
        state.global_step = step
        cb.on_save(args, state, control)
    assert len(trainer.logged) == 3
    want = aggregate(svdiag.analyze(str(tmp_path / "out" / "checkpoint-300"), progress=False))
    assert trainer.logged[-1] == want
    assert set(want) == {f"svdiag/{r}/{m}" for r in ("mlp_up", "attn_q") for m in ("kl_uniform", "stable_rank", "effective_rank", "alpha", "kl_excess")}
    assert all(type(v) is float for v in want.values())


def test_alerts_are_logged_and_warned_once(tmp_path):
    args, trainer, cb = _events(tmp_path)
    state, control = transformers.TrainerState(), transformers.TrainerControl()
    for k, step in enumerate(STEPS):
        _save(tmp_path / "out", k, step, collapse=k == len(STEPS) - 1)
        state.global_step = step
        if k == len(STEPS) - 1:
            with pytest.warns(SvdiagWarning, match="svdiag alert: .*model.layers.1.mlp.up_proj.weight"):
                cb.on_save(args, state, control)
        else:
            cb.on_save(args, state, control)
    assert trainer.logged[-1]["svdiag/alerts/jump/kl_uniform"] >= 1.0
    assert not any("svdiag/alerts/jump/kl_uniform" in values for values in trainer.logged[:-1])


def test_only_rank_zero_works(tmp_path):
    args, trainer, cb = _events(tmp_path)
    _save(tmp_path / "out", 0, 100)
    state = transformers.TrainerState(global_step=100, is_world_process_zero=False)
    cb.on_save(args, state, transformers.TrainerControl())
    assert trainer.logged == []


def test_a_failure_warns_and_training_goes_on(tmp_path):
    args, trainer, cb = _events(tmp_path)
    bad = tmp_path / "out" / "checkpoint-100"
    bad.mkdir(parents=True)
    (bad / "model.safetensors").write_bytes(b"\x00" * 5)
    state = transformers.TrainerState(global_step=100)
    with pytest.warns(SvdiagWarning, match="the checkpoint analysis at step 100 failed"):
        cb.on_save(args, state, transformers.TrainerControl())
    assert trainer.logged == []


def test_live_weights_every_n_steps_in_quick_mode(tmp_path):
    args, trainer, cb = _events(tmp_path, every_n_steps=2, on_save=False)
    model = {"model.layers.0.mlp.up_proj.weight": np.random.default_rng(0).standard_normal((16, 8))}
    for step in range(1, 6):
        cb.on_step_end(args, transformers.TrainerState(global_step=step), transformers.TrainerControl(), model=model)
    assert [s for s, _ in cb.history] == [2, 4]
    assert set(trainer.logged[0]) == {f"svdiag/mlp_up/{m}" for m in ("stable_rank", "spectral_norm", "frobenius_norm")}
