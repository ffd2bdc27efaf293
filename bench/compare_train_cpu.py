"""Training throughput on the CPU, ours vs PyTorch, same networks, batches, threads, in one run
(issue 13). A benchmark: never part of the build or the tests.

  python3 bench/compare_train_cpu.py [--bench build/bench/bench_train] [--threads 2]
                                     [--models resnet8,resnet20,resnet50] [--rounds 3]

Each round runs, per model, our `bench_train --model M --threads T --json` and this script's
PyTorch twin of M as two separate processes, one after the other, alternating which goes first,
so load from other work on the machine falls on both. Both time whole training steps (zero_grad,
forward, soft-target cross-entropy, backward, Adam lr 1e-3 eps 1e-7) on the same synthetic
32x32x3 batch with one-hot targets, after one warm-up step; images/s is batch / median step.
It prints each round and the median over rounds of both figures and of their ratio.

The networks, as models/resnet.cpp and models/factory.cpp build them:
  resnet8, resnet20  CIFAR ResNets of He et al.: 3x3 conv 16 + BN + ReLU, 3 stages of 1 / 3 basic
                     blocks, widths 16/32/64, stride 2 on each later stage's first block, 1x1 conv
                     + BN projection shortcuts where the shape changes ("option B"), no conv bias,
                     global average pool, fc; batch 128.
  resnet50           the blog's Keras ResNet50: 7x7/2 conv (pad 3) + BN + ReLU + 3x3/2 max pool,
                     bottlenecks (3, 4, 6, 3) of widths 64..512 with the stride on the first 1x1,
                     a bias on every conv, BN eps 1.001e-5, fc; batch 32. BlogResNet of
                     bench/blog_resnet_twin.py with keras_padding=False: the conv's and the pool's
                     own padding, as ours, so no extra copies are timed.
PyTorch runs channels_last (NHWC, as ours) in float32 with torch.set_num_threads(T).

PyTorch on a CPU-only machine: PyPI's torch is a CUDA build; it imports without a GPU when the
CUDA libraries it links are found. Install and environment (as on the project's CPU machines):

  pip install --no-deps torch==2.11.0 nvidia-cusparselt-cu13 nvidia-nvshmem-cu13 nvidia-cufile
  mkdir -p /opt/torchcpu && ln -s /usr/local/cuda/lib64/stubs/libcuda.so /opt/torchcpu/libcuda.so.1
  SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$SP/nvidia/cu13/lib:$SP/nvidia/nvshmem/lib:/opt/torchcpu

(The CUDA toolkit provides lib64 and the driver stub; the nvidia-* wheels the rest.)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BATCH = {"resnet8": 128, "resnet20": 128, "resnet50": 32}
STEPS = {"resnet8": 10, "resnet20": 5, "resnet50": 4}  # bench_train's defaults


def torch_model(name):
    import torch
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.shortcut = None
            if stride != 1 or cin != width:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False),
                                              nn.BatchNorm2d(width))

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            h = self.bn2(self.conv2(h))
            return torch.relu(h + (self.shortcut(x) if self.shortcut is not None else x))

    class Net(nn.Module):
        def __init__(self, stem, blocks, widths):
            super().__init__()
            self.stem = stem
            layers, cin = [], stem[0].out_channels
            for s, (n, w) in enumerate(zip(blocks, widths)):
                for b in range(n):
                    layers.append(Basic(cin, w, 2 if (s > 0 and b == 0) else 1))
                    cin = w
            self.blocks = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))

    if name in ("resnet8", "resnet20"):
        n = 1 if name == "resnet8" else 3
        stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        return Net(stem, (n, n, n), (16, 32, 64))
    if name == "resnet50":
        from blog_resnet_twin import BlogResNet  # bench/, this script's folder
        return BlogResNet(keras_padding=False)
    raise SystemExit(f"unknown model {name}")


def torch_worker(name, batch, steps, threads):
    """Runs in its own process; prints one JSON line like bench_train --json."""
    import warnings

    # A CUDA wheel on a machine without a driver warns once that CUDA is unusable.
    warnings.filterwarnings("ignore", message="CUDA initialization")
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = torch_model(name).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    i = torch.arange(batch * 32 * 32 * 3, dtype=torch.int64)
    x = ((i * 2654435761) % 1000).to(torch.float32) / 500.0 - 1.0
    x = x.reshape(batch, 32, 32, 3).permute(0, 3, 1, 2)  # NHWC memory, NCHW view: channels_last
    x = x.contiguous(memory_format=torch.channels_last)
    t = torch.zeros(batch, 10)
    t[torch.arange(batch), torch.arange(batch) % 10] = 1.0

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    ms = []
    t0 = time.perf_counter()
    for _ in range(steps):
        s0 = time.perf_counter()
        step()
        ms.append(1e3 * (time.perf_counter() - s0))
    secs = time.perf_counter() - t0
    print(json.dumps({"model": name, "batch": batch, "steps": steps,
                      "threads": torch.get_num_threads(), "images_per_s": batch * steps / secs,
                      "mean_step_ms": 1e3 * secs / steps,
                      "median_step_ms": statistics.median(ms), "torch": torch.__version__}))


def run_json(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/bench/bench_train", help="our bench_train binary")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="resnet8,resnet20,resnet50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default: by model)")
    ap.add_argument("--omp-wait-policy", default="passive",
                    help="OMP_WAIT_POLICY for both sides (default passive: on a machine shared "
                         "with other work, spinning barriers lose whole scheduler slices; "
                         "'inherit' keeps the environment's)")
    ap.add_argument("--torch-worker", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    # .device/gpu-check.sh runs every bench/compare_*.py with its bench_kernels path: this is a CPU
    # benchmark, so on the device machine it steps aside instead of spending device time.
    ap.add_argument("gpu_check_binary", nargs="?", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.gpu_check_binary:
        print("compare_train_cpu.py: a CPU benchmark, skipped here; run it by hand (see its header)")
        return
    if a.torch_worker:
        torch_worker(a.torch_worker, a.batch, a.steps, a.threads)
        return

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(a.threads)
    if a.omp_wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = a.omp_wait_policy
    models = a.models.split(",")
    print(f"threads {a.threads}, OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"images/s = batch / median step")
    results = {m: {"ours": [], "torch": []} for m in models}
    for r in range(a.rounds):
        for m in models:
            batch, steps = BATCH[m], a.steps or STEPS[m]
            ours = [a.bench, "--model", m, "--batch", str(batch), "--steps", str(steps),
                    "--threads", str(a.threads), "--json"]
            theirs = [sys.executable, __file__, "--torch-worker", m, "--batch", str(batch),
                      "--steps", str(steps), "--threads", str(a.threads)]
            order = [("ours", ours), ("torch", theirs)]
            if r % 2:
                order.reverse()
            got = {}
            for side, cmd in order:
                j = run_json(cmd, env)
                got[side] = 1e3 * batch / j["median_step_ms"]
                results[m][side].append(got[side])
            print(f"round {r + 1} {m:9s} batch {batch:3d}: ours {got['ours']:8.1f}  "
                  f"pytorch {got['torch']:8.1f}  ours/pytorch {got['ours'] / got['torch']:.2f}  "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"\n{'model':9s} {'batch':>5s} {'ours img/s':>11s} {'pytorch img/s':>14s} "
          f"{'ours/pytorch':>13s}   (medians over {a.rounds} rounds; ratio per round)")
    for m in models:
        o, t = results[m]["ours"], results[m]["torch"]
        ratio = statistics.median(x / y for x, y in zip(o, t))
        print(f"{m:9s} {BATCH[m]:5d} {statistics.median(o):11.1f} {statistics.median(t):14.1f} "
              f"{ratio:13.2f}")


if __name__ == "__main__":
    main()
