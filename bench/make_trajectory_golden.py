"""Makes tests/train/fixtures/blog_trajectory.safetensors, the PyTorch golden trajectory that
tests/train/test_blog_trajectory.cpp replays with our trainer (issue 11). Run once, from the
repository root, on a machine with PyTorch, numpy and safetensors (CPU is enough):

  SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$SP/nvidia/cu13/lib:$SP/nvidia/nvshmem/lib:/opt/torchcpu
  python3 bench/make_trajectory_golden.py

(the LD_LIBRARY_PATH line is for the CUDA wheel on a machine without a GPU.)

The network is the blog's Keras ResNet50 configuration at toy size (bench/blog_resnet_twin.py):
stem width 8, stages of (2, 1, 1) bottleneck blocks of widths (4, 8, 16), so it has the 7x7/2
stem, the max pool, projection and identity shortcuts and a last stage at 1x1 like ResNet50 on
32x32 CIFAR images (batch norm there sees only the batch). 16x16 synthetic images (a class-coded
coloured grating plus noise, stored as pixel values) with soft targets; Adam lr 1e-3, eps 1e-7
(the blog recipe's, Keras' default), batch 32, 4 batches x 5 epochs = 20 steps in file order.

Besides the float32 golden the script trains the same steps in float64 and prints how far the
float32 run is from it: that is the floor any float32 implementation (ours included) can reach,
and the test's tolerances are set against it.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blog_resnet_twin import BlogResNet, keras_init_, to_ours, from_ours  # noqa: E402

CONFIG = dict(stem_width=8, blocks=(2, 1, 1), widths=(4, 8, 16), classes=10)
SIZE, BATCH, TRAIN, EVAL, EPOCHS = 16, 32, 128, 32, 5
LR, ADAM_EPS, SEED = 1e-3, 1e-7, 11
OUT = Path(__file__).resolve().parent.parent / "tests/train/fixtures/blog_trajectory.safetensors"


def make_images(rng, n):
    """Class c: a grating at angle c*18 degrees in a class colour, random phase, plus noise."""
    labels = rng.permutation(np.arange(n) % 10)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    colours = rng.uniform(0.2, 1.0, size=(10, 3))
    px = np.empty((n, SIZE, SIZE, 3))
    for i, c in enumerate(labels):
        a = math.pi * c / 10
        wave = np.sin(0.9 * (xx * math.cos(a) + yy * math.sin(a)) + rng.uniform(0, 2 * math.pi))
        px[i] = 128 + 70 * wave[..., None] * colours[c] + rng.normal(0, 30, size=(SIZE, SIZE, 3))
    return np.clip(np.round(px), 0, 255).astype(np.float32), labels


def soft_targets(rng, labels):
    """0.7 on the label plus 0.3 spread at random, as refined labels look."""
    t = 0.3 * rng.dirichlet(np.ones(10), size=len(labels))
    t[np.arange(len(labels)), labels] += 0.7
    return (t / t.sum(axis=1, keepdims=True)).astype(np.float32)


def to_input(pixels, dtype):
    # Our loader's identity normalization: px * (1 / 255) in float32, NHWC -> NCHW here.
    x = torch.from_numpy(pixels) * torch.tensor(1.0 / 255.0, dtype=torch.float32)
    return x.permute(0, 3, 1, 2).contiguous().to(dtype)


def train(init, train_px, train_t, eval_px, dtype):
    model = BlogResNet(**CONFIG).to(dtype)
    from_ours(model, init)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=ADAM_EPS)
    x_all, t_all = to_input(train_px, dtype), torch.from_numpy(train_t).to(dtype)
    model.train()
    losses, step1_logits = [], None
    for _ in range(EPOCHS):
        for b in range(TRAIN // BATCH):
            sl = slice(b * BATCH, (b + 1) * BATCH)
            logits = model(x_all[sl])
            if step1_logits is None:
                step1_logits = logits.detach().clone()
            loss = F.cross_entropy(logits, t_all[sl])  # soft targets, mean over the batch
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_logits = model(to_input(eval_px, dtype))
    return model, np.array(losses), step1_logits, eval_logits


def main():
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    train_px, train_labels = make_images(rng, TRAIN)
    eval_px, _ = make_images(rng, EVAL)
    train_t = soft_targets(rng, train_labels)

    net = BlogResNet(**CONFIG)
    keras_init_(net, SEED)
    init = to_ours(net)

    runs = {dt: train(init, train_px, train_t, eval_px, dt) for dt in (torch.float32, torch.float64)}
    m32, loss32, s1_32, ev32 = runs[torch.float32]
    m64, loss64, s1_64, ev64 = runs[torch.float64]
    final32, final64 = to_ours(m32), to_ours(m64)

    print(f"loss per step (float32): {np.round(loss32, 4).tolist()}")
    print(f"float32 vs float64 (the float32 noise floor):")
    print(f"  step losses max |d| {np.abs(loss32 - loss64).max():.3g}")
    print(f"  step-1 logits max |d| {(s1_32.double() - s1_64).abs().max().item():.3g}")
    print(f"  eval logits max |d| {(ev32.double() - ev64).abs().max().item():.3g}"
          f" (max |logit| {ev64.abs().max().item():.3g})")
    for name in final32:
        d = np.abs(final32[name].astype(np.float64) - final64[name]).max()
        moved = np.abs(final64[name] - init[name]).max()
        print(f"  {name:40s} max |d| {d:.3g}   max |final - init| {moved:.3g}")

    tensors = {"train_pixels": train_px, "train_targets": train_t, "eval_pixels": eval_px,
               "step_losses": loss32.astype(np.float32),
               "step1_logits": s1_32.numpy(), "eval_logits": ev32.numpy()}
    tensors.update({f"init.{k}": v for k, v in init.items()})
    tensors.update({f"final.{k}": v for k, v in final32.items()})
    meta = {"made_by": "bench/make_trajectory_golden.py", "torch": torch.__version__,
            "config": json.dumps(CONFIG), "batch": str(BATCH), "epochs": str(EPOCHS),
            "lr": repr(LR), "adam_eps": repr(ADAM_EPS)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(OUT),
              metadata=meta)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
