"""The callbacks in real trainers: a transformers Trainer and a Lightning Trainer training a tiny
model for a few CPU steps. The values arrive in the trainer's log history and logger, and a failing
callback leaves training untouched."""

from __future__ import annotations

import csv
import warnings

import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (SVDIAG_TEST_TORCH=1 bash scripts/test.sh installs it, as CI does)"
)

import svdiag  # noqa: E402
from svdiag.exceptions import SvdiagWarning  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up_proj = torch.nn.Linear(16, 64)
        self.down_proj = torch.nn.Linear(64, 16)

    def forward(self, x, labels=None):
        y = self.down_proj(torch.relu(self.up_proj(x)))
        return {"loss": torch.nn.functional.mse_loss(y, labels)}


class Data(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(16, generator=g)
        return {"x": x, "labels": x.flip(0)}


def _hf_trainer(tmp_path, **callback):
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate")
    from svdiag.callbacks import HFSpectralCallback

    torch.manual_seed(0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=4, save_steps=2, logging_steps=1, report_to=[],
        per_device_train_batch_size=8, use_cpu=True, disable_tqdm=True,
    )
    trainer = transformers.Trainer(model=Tiny(), args=args, train_dataset=Data())
    cb = HFSpectralCallback(trainer, cache=tmp_path / "store.sqlite3", **callback)
    trainer.add_callback(cb)
    return trainer, cb


def test_hf_trainer_logs_the_checkpoints_metrics(tmp_path):
    trainer, cb = _hf_trainer(tmp_path)
    trainer.train()
    logged = [h for h in trainer.state.log_history if any(k.startswith("svdiag/") for k in h)]
    assert [h["step"] for h in logged] == [2, 4]
    want = svdiag.callbacks.aggregate(svdiag.analyze(str(tmp_path / "out" / "checkpoint-4"), progress=False))
    assert {k: v for k, v in logged[-1].items() if k.startswith("svdiag/")} == want


def test_hf_training_is_unaffected_when_the_callback_fails(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no spectra today")

    monkeypatch.setattr(svdiag, "trend", broken)
    trainer, cb = _hf_trainer(tmp_path)
    with pytest.warns(SvdiagWarning, match="no spectra today"):
        out = trainer.train()
    assert out.global_step == 4 and cb.history == []


def test_lightning_trainer_logs_to_its_logger_and_early_stopping_sees_it(tmp_path):
    L = pytest.importorskip("lightning.pytorch", reason="needs lightning")
    from lightning.pytorch.loggers import CSVLogger

    from svdiag.callbacks import LightningSpectralCallback

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = Tiny()

        def training_step(self, batch, _):
            return self.net(batch["x"], batch["labels"])["loss"]

        def validation_step(self, batch, _):
            self.log("val_loss", self.net(batch["x"], batch["labels"])["loss"])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(Data(), batch_size=8)
    cb = LightningSpectralCallback(every_n_steps=2)
    stop = L.callbacks.EarlyStopping(monitor="svdiag/mlp_up/stable_rank", mode="max", patience=100)
    trainer = L.Trainer(
        max_steps=4, accelerator="cpu", logger=CSVLogger(tmp_path), enable_checkpointing=False,
        log_every_n_steps=1, limit_val_batches=1, val_check_interval=2, callbacks=[cb, stop],
        enable_progress_bar=False, enable_model_summary=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's own advice about workers and batch sizes
        trainer.fit(Module(), loader, loader)
    # every 2 optimizer steps (train batches) and at each validation (val_check_interval=2)
    assert sorted({s for s, _ in cb.history}) == [2, 4]
    with open(trainer.logger.log_dir + "/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("svdiag/mlp_up/stable_rank") for r in rows)
    assert "svdiag/mlp_up/stable_rank" in trainer.callback_metrics
    assert stop.best_score is not None and stop.best_score > 0
