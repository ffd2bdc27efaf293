"""How sensitive the trajectory test's run is to rounding-sized changes, in PyTorch itself: the toy
blog ResNet of bench/make_trajectory_golden.py trained in float32 from its initial weights, and
again with a third of them scaled by 1 - eps and a third by 1 + eps. Prints the largest step-loss
difference per eps. tests/train/test_blog_trajectory.cpp cites it: at eps 3e-7 and 1e-6 PyTorch
lands on a second trajectory, 4.61e-4 away from step 10 on, as ours does on 14+ threads.

  python3 bench/trajectory_sensitivity.py      (CPU; see make_trajectory_golden.py for the set-up)
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_trajectory_golden as golden  # noqa: E402
from blog_resnet_twin import BlogResNet, keras_init_, to_ours  # noqa: E402


def perturbed(init, eps):
    out = {}
    for name, v in init.items():
        if "running" in name:
            out[name] = v
            continue
        flat = v.reshape(-1).astype(np.float32)
        out[name] = (flat * (1 + np.float32(eps) * (np.arange(flat.size) % 3 - 1)).astype(np.float32)).reshape(v.shape)
    return out


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(golden.SEED)
    train_px, labels = golden.make_images(rng, golden.TRAIN)
    eval_px, _ = golden.make_images(rng, golden.EVAL)
    train_t = golden.soft_targets(rng, labels)
    net = BlogResNet(**golden.CONFIG)
    keras_init_(net, golden.SEED)
    init = to_ours(net)
    base = golden.train(init, train_px, train_t, eval_px, torch.float32)[1]
    for eps in (1e-7, -1e-7, 3e-7, -3e-7, 1e-6, -1e-6):
        losses = golden.train(perturbed(init, eps), train_px, train_t, eval_px, torch.float32)[1]
        d = np.abs(losses - base)
        first = int(np.argmax(d > 1e-5)) if (d > 1e-5).any() else None
        print(f"eps {eps:+.0e}: step losses max |d| {d.max():.3g}, first step above 1e-5: {first}")


if __name__ == "__main__":
    main()
