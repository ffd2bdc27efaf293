"""The PyTorch half of the real-scale comparison of issue 11: the blog's Keras ResNet50 twin
(bench/blog_resnet_twin.py) trained from our initial weights on our batches, as written by
build/bench/blog_twin_cifar OUT, then the same accuracies that program prints; the trained
state goes to OUT/pytorch_final.safetensors (our names and layouts).

  build/bench/blog_twin_cifar /tmp/twin 500 100 1 0     # ours; writes /tmp/twin/twin_input.safetensors
  python3 bench/blog_twin_pytorch.py /tmp/twin [--epochs 1] [--adam-eps 1e-7] [--threads 2]

(On a machine without a GPU the CUDA wheel needs the LD_LIBRARY_PATH of
bench/make_trajectory_golden.py.) Adam lr 1e-3, batch 50, constant rate, px / 255, no
augmentation, the file's order: as ours. (Not named compare_*.py: those run on the device machine
in .device/gpu-check.sh, and this CPU comparison needs its own input first.)
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blog_resnet_twin import BlogResNet, from_ours, to_ours  # noqa: E402

BATCH = 50


def to_input(px):
    x = torch.from_numpy(px) * torch.tensor(1.0 / 255.0, dtype=torch.float32)
    return x.permute(0, 3, 1, 2).contiguous()


def accuracy(model, x, y, training):
    model.train(training)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), BATCH):
            correct += (model(x[i:i + BATCH]).argmax(1) == y[i:i + BATCH]).sum().item()
    return correct / len(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--adam-eps", type=float, default=1e-7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1, help="as given to blog_twin_cifar")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    f = load_file(str(Path(a.dir) / "twin_input.safetensors"))
    x, y = to_input(f["train_pixels"]), torch.from_numpy(f["train_labels"]).long()
    xt, yt = to_input(f["test_pixels"]), torch.from_numpy(f["test_labels"]).long()
    init = {k[len("init."):]: v for k, v in f.items() if k.startswith("init.")}

    model = BlogResNet()
    from_ours(model, init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=a.adam_eps)
    step, loss_sum, correct, seen = 0, 0.0, 0, 0
    model.train()
    for i in [e for _ in range(a.epochs) for e in range(0, len(y) - BATCH + 1, BATCH)]:
        if i == 0:
            loss_sum, correct, seen = 0.0, 0, 0  # the last epoch's running means, as ours
        logits = model(x[i:i + BATCH])
        loss = F.cross_entropy(logits, y[i:i + BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.item() * BATCH
        correct += (logits.argmax(1) == y[i:i + BATCH]).sum().item()
        seen += BATCH
        if step <= 5 or step % 10 == 0:
            print(f"step {step}: epoch running loss {loss_sum / seen:.4f}, accuracy {correct / seen:.3f}", flush=True)

    save_file(to_ours(model), str(Path(a.dir) / "pytorch_final.safetensors"))
    probe = slice(0, min(1000, len(y)))
    test_eval = accuracy(model, xt, yt, False)
    probe_eval = accuracy(model, x[probe], y[probe], False)
    test_train = accuracy(model, xt, yt, True)
    probe_train = accuracy(model, x[probe], y[probe], True)
    print(f"pytorch (adam eps {a.adam_eps:g}): {step} steps, training accuracy {correct / seen:.4f}; "
          f"held-out {len(yt)}: eval mode {test_eval:.4f}, train mode {test_train:.4f}; first "
          f"{len(y[probe])} training images: eval mode {probe_eval:.4f}, train mode {probe_train:.4f}")


if __name__ == "__main__":
    main()
