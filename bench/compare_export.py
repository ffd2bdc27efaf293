"""`refine_app export --format pytorch` checked against PyTorch: for a CIFAR ResNet-20 and the
blog's Keras ResNet50 (--archs for others), a one-generation chain trains one epoch with Adam
1e-3 (so batch norm has real running statistics, recomputed by precise BN), the model is
exported, and PyTorch (tools/refinery_resnet.py, load_state_dict(strict=True)) computes the
logits of 1,000 CIFAR-10 test images, normalized with the file's own metadata, which must equal ours
(`refine_app evaluate --logits`) within 1e-4 for logits up to 1 in magnitude, and within 1e-4 of
the largest |logit| beyond (float32 rounding grows with the values: after a few Adam steps the
blog ResNet50's logits reach ~80 and differ by ~1.5e-4, a relative 2e-6, where a wrong layout or
name differs by the logits' own size). PyTorch runs in float64 on the CPU and ours in float32 on
the CPU (the GPU's default TF32 math differs by more than the tolerance by design), so the
difference measures our float32 rounding and any layout or name error.

    python3 bench/compare_export.py BUILD/bench/bench_kernels [--data DIR] [--out DIR] [--archs A,B]

BUILD is taken from bench_kernels' path (the device script passes it). DIR holds cifar10/
(default: .device/data, unpacked from .device/data.tar.gz when needed, else ../shared/data).
Training runs on the GPU when refine_app finds one; without one it runs smaller, on the CPU.
Exit code 1 when a difference exceeds the tolerance.
"""
import argparse
import glob
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from refinery_resnet import load_export  # noqa: E402

TOLERANCE = 1e-4
TEST_IMAGES = 1000


def data_dir(given):
    if given:
        return Path(given)
    device_data = ROOT / ".device" / "data"
    tarball = ROOT / ".device" / "data.tar.gz"
    if not (device_data / "cifar10").exists() and tarball.exists():
        device_data.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as t:
            t.extractall(device_data, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return device_data if (device_data / "cifar10").exists() else ROOT.parent / "shared" / "data"


QUIET = False  # --quiet: hide refine_app's output


def run(cmd):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL if QUIET else None)


def compare(app, data, out, arch, train_limit, batch):
    """Trains, exports and evaluates `arch`; True when PyTorch's logits match ours."""
    runs = out / arch
    run([app, "cifar10", "--data", data, "--model", arch, "--generations", "1", "--epochs", "1",
         "--train-limit", train_limit, "--test-limit", TEST_IMAGES, "--val-fraction", "0", "--batch-size", batch,
         "--optimizer", "adam", "--lr", "1e-3", "--weight-decay", "0", "--schedule", "constant",
         "--precise-bn", "10", "--figure-images", "0", "--out", runs])
    model = Path(sorted(glob.glob(str(runs / "*" / "seed0" / "gen1" / "model.safetensors")))[-1])
    exported, logits = out / f"{arch}_pytorch.safetensors", out / f"{arch}_logits.safetensors"
    run([app, "export", model, "--format", "pytorch", exported])
    run([app, "evaluate", model, "--data", data / "cifar10", "--limit", TEST_IMAGES, "--device", "cpu",
         "--logits", logits])

    net, meta = load_export(str(exported))
    ours = load_file(str(logits))
    mean = np.array(meta["normalization_mean"], dtype=np.float64)
    std = np.array(meta["normalization_std"], dtype=np.float64)
    x = torch.from_numpy((ours["pixels"].astype(np.float64) / 255.0 - mean) / std).permute(0, 3, 1, 2)
    net = net.double()
    with torch.no_grad():
        theirs = torch.cat([net(x[i:i + 250]) for i in range(0, len(x), 250)]).numpy()
    diff = np.abs(theirs - ours["logits"].astype(np.float64))
    agree = (theirs.argmax(1) == ours["logits"].argmax(1)).mean()
    largest = np.abs(theirs).max()
    tolerance = TOLERANCE * max(1.0, largest)
    ok = diff.max() <= tolerance
    print(f"{arch}: {len(x)} test images, max |logit difference| {diff.max():.3g} (mean {diff.mean():.3g}, "
          f"largest |logit| {largest:.3g}, relative {diff.max() / max(1.0, largest):.2g}), argmax agreement "
          f"{100 * agree:.1f}%: {'ok' if ok else 'FAIL'} (tolerance {tolerance:.3g})", flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_kernels", help="BUILD/bench/bench_kernels; refine_app is BUILD/apps/refine_app")
    ap.add_argument("--data", help="folder holding cifar10/")
    ap.add_argument("--out", help="work folder (default: a temporary one)")
    ap.add_argument("--quiet", action="store_true", help="hide refine_app's output")
    ap.add_argument("--archs", default="resnet20,resnet50", help="architectures to check (default: resnet20,resnet50)")
    a = ap.parse_args()
    global QUIET
    QUIET = a.quiet
    app = Path(a.bench_kernels).resolve().parent.parent / "apps" / "refine_app"
    data = data_dir(a.data).resolve()
    gpu = torch.cuda.is_available()
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out) if a.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        # One epoch on this many training images, fewer without a GPU; batches of 100.
        images = 5000 if gpu else 500
        ok = all([compare(app, data, out, arch, images, 100) for arch in a.archs.split(",")])
    print(f"compare_export: {'ok' if ok else 'FAILED'} in {time.time() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
