#!/usr/bin/env python3
"""Our fused softmax + soft-label cross-entropy against PyTorch on the same GPU.

Times PyTorch's F.cross_entropy(logits, soft_targets) forward + backward (what a PyTorch user of
Label Refinery runs) at the sizes bench_kernels uses, reads bench_kernels' figures for our kernel
from its --json output, and prints both with the ratio. Needs a GPU and PyTorch (the device machine
has both); not part of the build or the tests.

    python3 bench/compare_softmax_xent.py [path/to/bench_kernels]
"""
import json
import subprocess
import sys

import torch
import torch.nn.functional as F


def torch_ms(n, c, reps=50):
    g = torch.Generator(device="cuda").manual_seed(0)
    logits = (torch.rand(n, c, device="cuda", generator=g) * 10 - 5).requires_grad_()
    targets = torch.softmax(torch.rand(n, c, device="cuda", generator=g), dim=1)

    def step():
        logits.grad = None
        F.cross_entropy(logits, targets).backward()

    for _ in range(5):
        step()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(reps):
        step()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main():
    bench = sys.argv[1] if len(sys.argv) > 1 else "build/bench/bench_kernels"
    out = subprocess.run([bench, "--json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out[out.index("{"):])
    ours = {r["shape"]: r for r in report["rows"] if r["kernel"] == "softmax-xent"}
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"copy peak {report['peak_copy_gbs']:.0f} GB/s")
    print(f"{'shape':<16} {'ours ms':>9} {'ours GB/s':>10} {'% copy':>7} {'torch ms':>9} {'speedup':>8}")
    for n in (256, 4096, 65536):
        for c in (10, 1000):
            key = f"N={n} C={c}"
            r = ours[key]
            t = torch_ms(n, c)
            print(f"{key:<16} {r['ms']:9.4f} {r['rate']:10.1f} {100 * r['of_peak']:6.1f}% "
                  f"{t:9.4f} {t / r['ms']:7.2f}x")


if __name__ == "__main__":
    main()
