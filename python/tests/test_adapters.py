"""PEFT adapters written by `peft` itself: svdiag names each update after the weight it changes and
its metrics agree with NumPy's f64 SVD of s·B@A formed from the module's own factors and scaling
(PEFT's own reading of its config: rank_pattern, alpha_pattern, rsLoRA, embeddings)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import svdiag

torch = pytest.importorskip("torch", reason="torch is not installed (SVDIAG_TEST_TORCH=1 bash scripts/test.sh installs it)")
peft = pytest.importorskip("peft", reason="peft is not installed (SVDIAG_TEST_TORCH=1 bash scripts/test.sh installs it)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

FIELDS = ["entropy", "kl_uniform", "effective_rank", "stable_rank", "spectral_norm", "frobenius_norm", "nuclear_norm", "l12_norm"]


def _metrics(delta: np.ndarray) -> dict[str, float]:
    s = np.linalg.svd(delta, compute_uv=False)
    p = s / s.sum()
    nz = p[p > 0]
    h = float(-(nz * np.log(nz)).sum())
    return {
        "entropy": h,
        "kl_uniform": float(np.log(len(s)) - h),
        "effective_rank": float(np.exp(h)),
        "stable_rank": float((s**2).sum() / s[0] ** 2),
        "spectral_norm": float(s[0]),
        "frobenius_norm": float(np.sqrt((s**2).sum())),
        "nuclear_norm": float(s.sum()),
        "l12_norm": float(np.linalg.norm(delta, axis=0).sum()),
    }


@pytest.mark.parametrize("rslora", [False, True])
def test_adapters_written_by_peft_match_numpy(tmp_path, rslora):
    with warnings.catch_warnings():  # transformers' and peft's deprecation notes, not svdiag's
        warnings.simplefilter("ignore")
        cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2)
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(cfg)
        lora = peft.LoraConfig(r=4, lora_alpha=8, use_rslora=rslora,
                               target_modules=["q_proj", "v_proj", "down_proj", "embed_tokens"],
                               rank_pattern={"layers.1.self_attn.q_proj": 2}, alpha_pattern={"down_proj": 3})
        pm = peft.get_peft_model(model, lora)
        with torch.no_grad():  # B starts at zero: give every factor values
            for name, p in pm.named_parameters():
                if "lora_" in name:
                    p.copy_(torch.randn_like(p) * 0.1)
        pm.save_pretrained(tmp_path)
    report = svdiag.run(tmp_path, progress=False)
    rows = {r["name"]: r for r in report.document["matrices"]}
    checked = 0
    for name, module in pm.base_model.model.named_modules():
        if not isinstance(module, peft.tuners.lora.LoraLayer) or "default" not in module.scaling:
            continue
        s = module.scaling["default"]
        if "default" in module.lora_A:
            a, b = module.lora_A["default"].weight.detach().double(), module.lora_B["default"].weight.detach().double()
            delta = (s * (b @ a)).numpy()
        else:  # embedding: ΔW = (B·A)ᵀ · s
            a, b = module.lora_embedding_A["default"].detach().double(), module.lora_embedding_B["default"].detach().double()
            delta = (s * (b @ a)).T.numpy()
        got = rows[f"{name}.weight"]
        assert got["route"] == "factored" and got["lora_scale"] == pytest.approx(s, rel=1e-15)
        assert got["matrix_shape"] == list(delta.shape)
        want = _metrics(delta)
        for f in FIELDS:
            assert got[f] == pytest.approx(want[f], rel=1e-9), (name, f)
        checked += 1
    assert checked == 2 * 3 + 1  # q, v, down in 2 layers, and the embedding
    # rank_pattern and alpha_pattern, as PEFT itself applied them
    assert rows["model.layers.1.self_attn.q_proj.weight"]["lora_rank"] == 2
    df = svdiag.analyze(tmp_path, progress=False)
    assert {"lora_rank", "lora_energy_rank_90", "lora_stable_rank_used"} <= set(df.columns)

