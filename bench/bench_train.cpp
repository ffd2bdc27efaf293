// Images per second of whole training steps (forward, backward, Adam update) for the CIFAR
// ResNet-8 and ResNet-20 and the blog's ResNet50, on synthetic 32x32x3 batches.
//
// Usage: bench_train [model ...] [--model NAME] [--batch N] [--inference-batch N] [--steps N]
//                    [--threads N]
//                    [--device cpu|cuda] [--precision fp32|tf32|bf16] [--cuda-graphs on|off]
//                    [--concurrent-backward on|off] [--profile]
//                    [--json]
//   model, --model  any name of models/factory.h (default: resnet8 resnet20 resnet50)
//   --batch         images per step (default 128, 32 for resnet50*)
//   --inference-batch  images per inference pass (default: --batch), as refine_app
//                   --eval-batch-size
//   --steps         timed steps after one warm-up step (default 10 / 5 / 4 by model)
//   --threads       OpenMP threads (default: OpenMP's, i.e. OMP_NUM_THREADS or every core)
//   --device        cpu (default) or cuda. CUDA steps are queued back to back as the trainer
//                   queues them (no host round trip per step) and the timed loop ends when the
//                   GPU has finished; the median step is then the mean (with --profile each step
//                   is waited for)
//   --precision     as refine_app --precision: fp32, tf32 (default; CUDA convolutions and GEMMs
//                   with TF32) or bf16 (activations stored as bf16, the rest as tf32)
//   --cuda-graphs   on: each step's forward and backward replayed as a recorded CUDA graph
//                   (train/recorded_step.h), and the inference passes likewise, as refine_app
//                   --cuda-graphs on (default: off); the table then shows the kernels each
//                   recorded graph runs, training step / inference pass (StepGraph::kernels)
//   --concurrent-backward  on: each convolution's weight gradient runs on a second CUDA stream
//                   alongside the backward pass's data gradients (Backend::set_concurrency), as
//                   refine_app --concurrent-backward on; CUDA only, not with --profile (default: off)
//   --profile       per-op time of a step (engine/profiler.h): calls, ms and % of the step by op
//                   kind; "other" is the step's wall-clock outside every op (allocation,
//                   autograd bookkeeping). On CUDA also each op's GPU time (CUDA events around
//                   it, engine/cuda/cuda_device_timer.h; the host column is then launch cost).
//                   The throughput printed is of the profiled steps.
//   --json          one JSON object per model and line instead of the table
//                   (bench/compare_train_cpu.py reads it)
// images/s is batch * steps / (total time of the timed steps); median_step_ms is the median step.
// inference images/s: eval-mode forward passes without gradients (evaluation and the refinery's
// labeling), as many passes as timed steps, each copying its logits out of the pass.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/profiler.h"
#include "kernels/cpu/blas_kernels.h"
#include "models/factory.h"
#include "train/optimizer_config.h"
#include "train/recorded_step.h"

using namespace rf;

namespace {

struct Case {
  std::string model;
  int batch = 0, steps = 0;
  Device device = Device::CPU;
  bool graphs = false;
  bool concurrent_backward = false;
  DType activations = DType::F32;
  int inference_batch = 0;
};

struct Result {
  double images_per_s = 0, median_step_ms = 0, mean_step_ms = 0, inference_images_per_s = 0;
  int64_t step_kernels = 0, inference_kernels = 0;  // of the recorded graphs (--cuda-graphs on)
  profiler::Totals ops{};
};

Result run(const Case& c, bool profile) {
  auto model = models::make_model(c.model, {.classes = 10, .seed = 1, .device = c.device});
  model->set_activation_dtype(c.activations);
  auto opt = train::make_optimizer(train::OptimizerConfig{}, model->parameters(), 1e-3f);
  std::vector<float> x(size_t(c.batch) * 32 * 32 * 3), t(size_t(c.batch) * 10, 0.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 2654435761u) % 1000) / 500.f - 1.f;
  for (int i = 0; i < c.batch; ++i) t[size_t(i) * 10 + size_t(i % 10)] = 1.f;
  const Tensor images = Tensor::from_host(x, {c.batch, 32, 32, 3}, c.device);
  const Tensor targets = Tensor::from_host(t, {c.batch, 10}, c.device);
  Backend& backend = backend_for(c.device);
  backend.set_concurrency(c.concurrent_backward);
  const auto forward_backward = [&](const Tensor& in, const Tensor& want) {
    model->parameters().zero_grad();
    Variable loss = softmax_cross_entropy(model->forward(Variable(in)), want);
    loss.backward();
  };
  int64_t recorded_kernels = 0;  // of the graph recorded last
  const train::RecordedStep::Recorder recorder = [&](const std::function<void()>& work) {
    std::unique_ptr<StepGraph> graph = backend.record(work);
    recorded_kernels = graph->kernels();
    return graph;
  };
  train::RecordedStep recorded(recorder, forward_backward);
  auto step = [&] {
    if (c.graphs)
      recorded.run(images, targets);
    else
      forward_backward(images, targets);
    opt->step();
  };
  // Warm-up: first-touch allocations, thread pool start, cuDNN's algorithm search; with graphs
  // the second step records.
  step();
  step();
  backend.synchronize();
  const int64_t step_kernels = recorded_kernels;
  profiler::reset();
  profiler::set_enabled(profile);
  std::vector<double> ms;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < c.steps; ++s) {
    const auto s0 = std::chrono::steady_clock::now();
    step();
    if (profile) backend.synchronize();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count());
  }
  backend.synchronize();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  profiler::set_enabled(false);
  Result r;
  r.step_kernels = step_kernels;
  r.images_per_s = double(c.batch) * c.steps / secs;
  r.mean_step_ms = 1e3 * secs / c.steps;
  std::sort(ms.begin(), ms.end());
  r.median_step_ms = c.device == Device::CUDA && !profile
                         ? r.mean_step_ms
                         : ms.size() % 2 ? ms[ms.size() / 2]
                                         : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  if (profile) r.ops = profiler::totals();

  model->set_training(false);
  NoGrad no_grad;
  const int ib = c.inference_batch;
  std::vector<float> xi(size_t(ib) * 32 * 32 * 3);
  for (size_t i = 0; i < xi.size(); ++i) xi[i] = x[i % x.size()];
  const Tensor inference_images = Tensor::from_host(xi, {ib, 32, 32, 3}, c.device);
  const Tensor logits = Tensor::empty({ib, 10}, c.device);
  const auto forward = [&](const Tensor& in, const Tensor&) {
    logits.copy_from(model->forward(Variable(in)).value());
  };
  train::RecordedStep recorded_inference(recorder, forward);
  auto infer = [&] {
    if (c.graphs)
      recorded_inference.run(inference_images, Tensor());
    else
      forward(inference_images, Tensor());
  };
  infer();  // warm-up: eval-mode algorithms; with graphs the second pass records
  infer();
  backend.synchronize();
  if (c.graphs) r.inference_kernels = recorded_kernels;
  const auto i0 = std::chrono::steady_clock::now();
  for (int s = 0; s < c.steps; ++s) infer();
  backend.synchronize();
  r.inference_images_per_s = double(ib) * c.steps /
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - i0).count();
  backend.set_concurrency(false);
  return r;
}

// True when a DeviceTimer measured the ops (CUDA): their device time is then what ranks them.
bool has_device_time(const profiler::Totals& t) {
  return std::any_of(t.begin(), t.end(),
                     [](const profiler::OpStats& o) { return o.device_seconds > 0; });
}

// Ops with calls, largest time first (device time where measured, else host).
std::vector<int> ops_by_time(const profiler::Totals& t) {
  const bool device = has_device_time(t);
  auto time = [&](int i) { return device ? t[size_t(i)].device_seconds : t[size_t(i)].seconds; };
  std::vector<int> order;
  for (int i = 0; i < profiler::kOpCount; ++i)
    if (t[size_t(i)].calls > 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return time(a) > time(b); });
  return order;
}

double ops_seconds(const profiler::Totals& t) {
  double s = 0;
  for (const profiler::OpStats& o : t) s += o.seconds;
  return s;
}

double ops_device_seconds(const profiler::Totals& t) {
  double s = 0;
  for (const profiler::OpStats& o : t) s += o.device_seconds;
  return s;
}

void print_profile(const Case& c, const Result& r) {
  const double step_ms = r.mean_step_ms;
  std::printf("\nper-op time of a %s step on %s, batch %d, %d threads (mean of %d steps, %.1f ms):\n",
              c.model.c_str(), device_name(c.device), c.batch, omp_get_max_threads(), c.steps,
              step_ms);
  // On CUDA the host column is launch cost; the device column is the GPU's time per op.
  const bool device = has_device_time(r.ops);
  std::printf("  %-20s %9s %10s %7s", "op", "calls", "ms/step", "%");
  if (device) std::printf(" %14s %7s", "device ms/step", "%");
  std::printf("\n");
  for (int i : ops_by_time(r.ops)) {
    const profiler::OpStats& o = r.ops[size_t(i)];
    const double op_ms = 1e3 * o.seconds / c.steps;
    std::printf("  %-20s %9.1f %10.2f %6.1f%%", profiler::op_name(profiler::Op(i)),
                double(o.calls) / c.steps, op_ms, 100 * op_ms / step_ms);
    const double dev_ms = 1e3 * o.device_seconds / c.steps;
    if (device) std::printf(" %14.2f %6.1f%%", dev_ms, 100 * dev_ms / step_ms);
    std::printf("\n");
  }
  const double other_ms = step_ms - 1e3 * ops_seconds(r.ops) / c.steps;
  std::printf("  %-20s %9s %10.2f %6.1f%%\n", "other (host)", "", other_ms,
              100 * other_ms / step_ms);
  if (device) {
    const double busy_ms = 1e3 * ops_device_seconds(r.ops) / c.steps;
    std::printf("  %-20s %9s %10s %7s %14.2f %6.1f%%\n", "all ops (device)", "", "", "", busy_ms,
                100 * busy_ms / step_ms);
  }
}

void print_json(const Case& c, const Result& r, bool profile) {
  std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"batch\": %d, \"steps\": %d, "
              "\"threads\": %d, \"blas\": \"%s\", \"cuda_graphs\": %s, \"concurrent_backward\": %s, "
              "\"images_per_s\": %.3f, "
              "\"mean_step_ms\": %.4f, \"median_step_ms\": %.4f, \"inference_batch\": %d, "
              "\"inference_images_per_s\": %.3f, \"step_kernels\": %lld, \"inference_kernels\": %lld",
              c.model.c_str(), device_name(c.device), c.batch, c.steps, omp_get_max_threads(),
              cpu::select_blas_kernels(), c.graphs ? "true" : "false", c.concurrent_backward ? "true" : "false",
              r.images_per_s,
              r.mean_step_ms, r.median_step_ms, c.inference_batch, r.inference_images_per_s,
              static_cast<long long>(r.step_kernels), static_cast<long long>(r.inference_kernels));
  if (profile) {
    std::printf(", \"profile\": [");
    bool first = true;
    for (int i : ops_by_time(r.ops)) {
      const profiler::OpStats& o = r.ops[size_t(i)];
      std::printf("%s{\"op\": \"%s\", \"calls_per_step\": %.2f, \"ms_per_step\": %.4f, "
                  "\"device_ms_per_step\": %.4f}",
                  first ? "" : ", ", profiler::op_name(profiler::Op(i)),
                  double(o.calls) / c.steps, 1e3 * o.seconds / c.steps,
                  1e3 * o.device_seconds / c.steps);
      first = false;
    }
    std::printf("], \"other_ms_per_step\": %.4f",
                r.mean_step_ms - 1e3 * ops_seconds(r.ops) / c.steps);
  }
  std::printf("}\n");
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_train: %s\nusage: bench_train [model ...] [--model NAME] [--batch N] "
               "[--inference-batch N] [--steps N] [--threads N] [--device cpu|cuda] [--precision fp32|tf32|bf16] "
               "[--cuda-graphs on|off] [--concurrent-backward on|off] [--profile] [--json]\n",
               why.c_str());
  std::exit(2);
}

int positive(const char* flag, const char* value) {
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < 1 || v > 1000000)
    usage(std::string(flag) + " needs a positive integer, not '" + value + "'");
  return int(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  int batch = 0, steps = 0, threads = 0, inference_batch = 0;
  bool profile = false, json = false, tf32 = true, bf16 = false, graphs = false, concurrent_backward = false;
  Device device = Device::CPU;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--profile") profile = true;
    else if (a == "--json") json = true;
    else if (a == "--model" && has_value) names.push_back(argv[++i]);
    else if (a == "--batch" && has_value) batch = positive("--batch", argv[++i]);
    else if (a == "--inference-batch" && has_value) inference_batch = positive("--inference-batch", argv[++i]);
    else if (a == "--steps" && has_value) steps = positive("--steps", argv[++i]);
    else if (a == "--threads" && has_value) threads = positive("--threads", argv[++i]);
    else if (a == "--device" && has_value) {
      const std::string v = argv[++i];
      if (v != "cpu" && v != "cuda") usage("--device takes cpu or cuda, not '" + v + "'");
      device = v == "cuda" ? Device::CUDA : Device::CPU;
    } else if (a == "--precision" && has_value) {
      const std::string v = argv[++i];
      if (v != "fp32" && v != "tf32" && v != "bf16") usage("--precision takes fp32, tf32 or bf16, not '" + v + "'");
      tf32 = v != "fp32";
      bf16 = v == "bf16";
    } else if (a == "--cuda-graphs" && has_value) {
      const std::string v = argv[++i];
      if (v != "on" && v != "off") usage("--cuda-graphs takes on or off, not '" + v + "'");
      graphs = v == "on";
    } else if (a == "--concurrent-backward" && has_value) {
      const std::string v = argv[++i];
      if (v != "on" && v != "off") usage("--concurrent-backward takes on or off, not '" + v + "'");
      concurrent_backward = v == "on";
    }
    else if (a.starts_with("-")) usage("unknown or incomplete flag '" + a + "'");
    else names.push_back(a);
  }
  const std::vector<std::string> known = models::model_names();
  for (const std::string& n : names)
    if (std::find(known.begin(), known.end(), n) == known.end())
      usage("unknown model '" + n + "'");
  if (names.empty()) names = {"resnet8", "resnet20", "resnet50"};
  if (graphs && device != Device::CUDA) usage("--cuda-graphs on needs --device cuda");
  if (graphs && profile) usage("--profile times ops one by one: use it with --cuda-graphs off");
  if (concurrent_backward && device != Device::CUDA)
    usage("--concurrent-backward on needs --device cuda (a second CUDA stream only helps a GPU)");
  if (concurrent_backward && profile)
    usage("--profile times ops one by one: use it with --concurrent-backward off");
  if (threads > 0) omp_set_num_threads(threads);
  (void)cpu_backend();  // selects OpenBLAS's kernels (kernels/cpu/blas_kernels.h)
  if (device == Device::CUDA) {
    try {
      cuda_backend().set_allow_tf32(tf32);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_train: --device cuda: %s\n", e.what());
      return 1;
    }
  }
  if (!json) std::printf("OpenBLAS kernels: %s\n", cpu::select_blas_kernels());

  if (!json)
    std::printf("%-10s %6s %6s %8s %10s %14s %16s %10s %17s\n", "model", "batch", "steps", "threads",
                "images/s", "median step ms", "inference img/s", "conc. bwd", "kernels step/inf");
  for (const std::string& n : names) {
    const bool big = n.starts_with("resnet50");
    Case c{n, batch > 0 ? batch : (big ? 32 : 128),
           steps > 0 ? steps : (n == "resnet8" ? 10 : big ? 4 : 5), device, graphs,
           concurrent_backward, bf16 ? DType::BF16 : DType::F32};
    c.inference_batch = inference_batch > 0 ? inference_batch : c.batch;
    const Result r = run(c, profile);
    if (json) {
      print_json(c, r, profile);
    } else {
      // Kernel counts come from recorded graphs: a dash without them.
      const std::string kernels = c.graphs ? std::to_string(r.step_kernels) + " / " +
                                                 std::to_string(r.inference_kernels)
                                           : "-";
      std::printf("%-10s %6d %6d %8d %10.1f %14.2f %16.1f %10s %17s\n", c.model.c_str(), c.batch,
                  c.steps, omp_get_max_threads(), r.images_per_s, r.median_step_ms,
                  r.inference_images_per_s, c.concurrent_backward ? "on" : "off", kernels.c_str());
      if (profile) print_profile(c, r);
    }
    std::fflush(stdout);
  }
  return 0;
}
