"""Train one tiny character-level transformer twice from the same initialization, once with AdamW
and once with Muon (for the 2-D hidden weights; AdamW for embeddings, head, norms and biases),
on the same batches, and write checkpoints that `svdiag trend` / `compare` / `delta` read:

    runs/adamw/checkpoint-<step>/model.safetensors
    runs/muon/checkpoint-<step>/model.safetensors

Usage (CPU is enough: on 2 cores the two runs of 3000 steps take about 20 minutes together):

    python examples/optimizers/train.py --text examples/optimizers/corpus --out runs
    svdiag compare runs/adamw runs/muon

The corpus is any text: a file, or every .txt file of a directory. The recorded run (train.json) used
the one in the repository, examples/optimizers/corpus/: svdiag's own documentation (metrics,
benchmarks, report) as plain text, ~57 000 characters of English technical prose about
singular-value spectra; any text of that size gives runs of the same kind. Both runs start from the
same initialization, saved as checkpoint-0. Versions, seeds, the corpus's SHA-256 and the final
losses are written to runs/train.json.
"""

import argparse
import hashlib
import json
import math
import pathlib
import platform

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.input_layernorm = nn.LayerNorm(d)
        self.self_attn = nn.ModuleDict(
            {name: nn.Linear(d, d, bias=False) for name in ["q_proj", "k_proj", "v_proj", "o_proj"]}
        )
        self.post_attention_layernorm = nn.LayerNorm(d)
        self.mlp = nn.ModuleDict({"up_proj": nn.Linear(d, 4 * d, bias=False), "down_proj": nn.Linear(4 * d, d, bias=False)})

    def forward(self, x):
        b, t, d = x.shape
        h = self.input_layernorm(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = (split(self.self_attn[n](h)) for n in ["q_proj", "k_proj", "v_proj"])
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.self_attn["o_proj"](a.transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        return x + self.mlp["down_proj"](F.gelu(self.mlp["up_proj"](h)))


class TinyLM(nn.Module):
    def __init__(self, vocab, d, layers, heads, context):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.embed_positions = nn.Embedding(context, d)
        self.layers = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        x = self.embed_tokens(idx) + self.embed_positions(pos)
        for block in self.layers:
            x = block(x)
        return self.lm_head(self.norm(x))


def corpus(path):
    p = pathlib.Path(path)
    files = sorted(p.glob("*.txt")) if p.is_dir() else [p]
    return "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)


def save(model, out, step):
    state = {"model." + k if k.startswith("layers.") else k: v.detach().contiguous() for k, v in model.state_dict().items()}
    d = out / f"checkpoint-{step}"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / ".model.safetensors.tmp"
    save_file(state, str(tmp), metadata={"step": str(step)})
    tmp.rename(d / "model.safetensors")  # a watcher never sees a half-written file


def train(name, init, data, args):
    torch.manual_seed(args.data_seed)  # the same batches for both optimizers
    model = TinyLM(**args.shape)
    model.load_state_dict(init)
    hidden = [p for n, p in model.named_parameters() if p.ndim == 2 and n.startswith("layers.")]
    rest = [p for n, p in model.named_parameters() if not (p.ndim == 2 and n.startswith("layers."))]
    if name == "muon":
        opts = [
            torch.optim.Muon(hidden, lr=args.lr, weight_decay=args.weight_decay, adjust_lr_fn="match_rms_adamw"),
            torch.optim.AdamW(rest, lr=args.lr, weight_decay=args.weight_decay),
        ]
    else:
        opts = [torch.optim.AdamW(hidden + rest, lr=args.lr, weight_decay=args.weight_decay)]
    out = pathlib.Path(args.out) / name
    save(model, out, 0)  # the shared initialization, as step 0 of both runs
    ctx = args.shape["context"]
    losses = []
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for o in opts:
            for g in o.param_groups:
                g["lr"] = lr
        ix = torch.randint(len(data) - ctx - 1, (args.batch,))
        x = torch.stack([data[i : i + ctx] for i in ix])
        y = torch.stack([data[i + 1 : i + ctx + 1] for i in ix])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()
        losses.append(loss.item())
        if step % args.every == 0 or step == args.steps:
            save(model, out, step)
            print(f"{name} step {step}: loss {sum(losses[-args.every:]) / len(losses[-args.every:]):.4f}", flush=True)
    return sum(losses[-args.every :]) / len(losses[-args.every :])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", required=True, help="a text file or a directory of .txt files")
    ap.add_argument("--out", default="runs")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500, help="checkpoint interval")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--init-seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(2)

    text = corpus(args.text)
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
    args.shape = dict(vocab=len(chars), d=128, layers=4, heads=4, context=64)
    torch.manual_seed(args.init_seed)
    init = {k: v.clone() for k, v in TinyLM(**args.shape).state_dict().items()}
    final = {name: train(name, init, data, args) for name in ["adamw", "muon"]}
    record = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "corpus": args.text,
        "corpus_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "corpus_chars": len(text),
        "vocab": len(chars),
        "shape": args.shape,
        "steps": args.steps,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "init_seed": args.init_seed,
        "data_seed": args.data_seed,
        "final_train_loss": final,
    }
    (pathlib.Path(args.out) / "train.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
