"""Training throughput on one GPU, ours vs PyTorch, same networks and batches, in one run (issue 8).
A benchmark: never part of the build or the tests. Run by `bash .device/gpu-check.sh`, which
passes the path of bench_kernels; bench_train is taken from the same build folder.

  python3 bench/compare_train.py [BUILD/bench/bench_kernels] [--bench BUILD/bench/bench_train]
                                 [--models resnet50] [--steps 20] [--compile]

Per model (blog ResNet50 at batch 250 by default; resnet20, resnet8 at 128), each variant in a
process of its own:
  ours      bench_train --device cuda with --precision fp32, tf32, and tf32 / bf16 --cuda-graphs on,
            each of the last two also with --concurrent-backward on (weight gradients on a second
            CUDA stream) (synthetic batch, Adam, steps queued back to back as the trainer does; one
            synchronize at the end), and its eval-mode inference images/s (with graphs: the
            forward replayed from a graph, as PyTorch's CUDA-graph variant's)
  PyTorch   eager FP32, eager TF32, bf16 autocast + channels_last, the whole step captured in a
            CUDA graph (FP32 weights, TF32 math, capturable Adam), and with --compile also
            torch.compile(mode="max-autotune") (minutes of compiling: off by default, because
            gpu-check gives each script 120 s; run it through gpu-check's EXTRA)
Every variant, ours and PyTorch's, times `--steps` steps after warm-up, queued back to back with
one synchronize at the end (no loss read back per step; the trainer reads it once per epoch).
Prints images/s of each and our best over each of theirs.
The networks are bench/compare_train_cpu.py's twins of models/resnet.cpp (channels_last).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_train_cpu import torch_model  # noqa: E402  (bench/, this script's folder)

BATCH = {"resnet50": 250, "resnet20": 128, "resnet8": 128}
VARIANTS = ["fp32", "tf32", "bf16_channels_last", "cuda_graph"]


def torch_worker(name, batch, steps, variant):
    """Runs in its own process; prints one JSON line."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(1)
    torch.backends.cuda.matmul.allow_tf32 = variant != "fp32"
    torch.backends.cudnn.allow_tf32 = variant != "fp32"
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    model = torch_model(name).to(dev, memory_format=torch.channels_last).train()
    graph = variant == "cuda_graph"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, capturable=graph)
    x = torch.randn(batch, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
    t = torch.zeros(batch, 10, device=dev)
    t[torch.arange(batch), torch.arange(batch) % 10] = 1.0

    def step():
        opt.zero_grad(set_to_none=False)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=variant == "bf16_channels_last"):
            loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss

    run = step
    if variant == "compile":
        run = torch.compile(step, mode="max-autotune")
    compile_s = 0.0
    if graph:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up on a side stream, as torch.cuda.graphs asks
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step()
        run = g.replay
    else:
        t0 = time.perf_counter()
        for _ in range(3):
            run()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        run()  # as ours: queued back to back, no loss read back per step
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    # Eval-mode inference (what evaluation and labeling do): eager, or one captured forward
    # replayed for the CUDA-graph variant.
    infer = 0.0
    if graph:
        model.eval()
        with torch.no_grad():
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    model(x)
            torch.cuda.current_stream().wait_stream(s)
            g_infer = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g_infer):
                model(x)
            g_infer.replay()
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            for _ in range(steps):
                g_infer.replay()
            torch.cuda.synchronize()
            infer = batch * steps / (time.perf_counter() - t1)
    elif variant in ("fp32", "tf32", "bf16_channels_last"):
        model.eval()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16,
                                             enabled=variant == "bf16_channels_last"):
            model(x)
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            for _ in range(steps):
                model(x)
            torch.cuda.synchronize()
            infer = batch * steps / (time.perf_counter() - t1)
    print(json.dumps({"model": name, "variant": variant, "batch": batch, "steps": steps,
                      "images_per_s": batch * steps / secs, "inference_images_per_s": infer,
                      "warmup_s": compile_s, "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name()}))


def run_json(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"exit {p.returncode}: {tail}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_kernels", nargs="?", help="BUILD/bench/bench_kernels (as gpu-check passes)")
    ap.add_argument("--bench", help="our bench_train (default: next to bench_kernels, else build/)")
    ap.add_argument("--models", default="resnet50", help="comma-separated (resnet50, resnet20, resnet8)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="add torch.compile(mode='max-autotune')")
    ap.add_argument("--torch-worker", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.torch_worker[0], a.batch, a.steps, a.torch_worker[1])
        return
    bench = a.bench or (os.path.join(os.path.dirname(a.bench_kernels), "bench_train")
                        if a.bench_kernels else "build/bench/bench_train")
    variants = VARIANTS + (["compile"] if a.compile else [])
    print(f"{'model':10} {'batch':>5} {'variant':40} {'images/s':>10}")
    for name in a.models.split(","):
        batch = BATCH.get(name, 128)
        ours = {}
        for label, flags in (("fp32", ["--precision", "fp32"]), ("tf32", ["--precision", "tf32"]),
                             ("tf32 + graphs", ["--precision", "tf32", "--cuda-graphs", "on"]),
                             ("bf16 + graphs", ["--precision", "bf16", "--cuda-graphs", "on"]),
                             ("tf32 + graphs + concurrent backward",
                              ["--precision", "tf32", "--cuda-graphs", "on", "--concurrent-backward", "on"]),
                             ("bf16 + graphs + concurrent backward",
                              ["--precision", "bf16", "--cuda-graphs", "on", "--concurrent-backward", "on"])):
            try:
                r = run_json([bench, "--model", name, "--batch", str(batch), "--steps", str(a.steps),
                              "--device", "cuda", "--json"] + flags, 300)
                ours[label] = r["images_per_s"]
                print(f"{name:10} {batch:5} {'ours ' + label:40} {ours[label]:10.1f}  "
                      f"(inference {r['inference_images_per_s']:.0f} images/s)", flush=True)
            except (subprocess.SubprocessError, RuntimeError, ValueError, KeyError) as e:
                print(f"{name:10} {batch:5} {'ours ' + label:40} failed: {e}", flush=True)
        best = max(ours.values(), default=0.0)
        for v in variants:
            try:
                r = run_json([sys.executable, __file__, "--torch-worker", name, v, "--batch", str(batch),
                              "--steps", str(a.steps)], 900 if v == "compile" else 300)
                ratio = f"ours best / this {best / r['images_per_s']:.2f}" if best else ""
                extra = f" (warm-up {r['warmup_s']:.0f} s)" if v == "compile" else ""
                if r.get("inference_images_per_s"):
                    extra += f" (inference {r['inference_images_per_s']:.0f} images/s)"
                print(f"{name:10} {batch:5} {'pytorch ' + v:40} {r['images_per_s']:10.1f}  {ratio}{extra}",
                      flush=True)
            except (subprocess.SubprocessError, RuntimeError, ValueError) as e:
                print(f"{name:10} {batch:5} {'pytorch ' + v:40} failed: {e}", flush=True)


if __name__ == "__main__":
    main()
