// Throughput of every kernel of one backend (CUDA when usable, else CPU), each validated first:
// the CPU backend against the naive references, the CUDA backend against the CPU backend.
// Figures are relative to the device's own measured peaks (copy bandwidth, sgemm GFLOP/s).
// Validation runs in the math mode that is timed (--math; the CPU always computes FP32), with
// the tolerance of that mode: TF32 results are held to tf32_tolerance of the reduction length.
//
//   bench_kernels [--device cpu|cuda] [--math fp32|tf32] [--batch N] [--quick] [--json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "reference.h"
#include "resnet50_shapes.h"
#include "tolerance.h"

#ifdef RF_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

using namespace rf;

namespace {

struct Options {
  Device device = Device::CPU;
  bool tf32 = true;  // what training runs with on the GPU; the CPU has no TF32
  int batch = 256;
  bool quick = false, json = false;
};

struct Row {
  std::string kernel, shape;
  double ms = 0;
  double rate = 0;        // GFLOP/s or GB/s
  const char* unit = "";  // which of the two
  double of_peak = 0;     // fraction of the measured peak of that unit
  std::string check;      // validation result
};

Options g_opt;
std::vector<Row> g_rows;
bool g_failed = false;
double g_peak_gflops = 0, g_peak_gbs = 0;

Tensor random_tensor(const Shape& s, unsigned seed, Device d, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(size_t(shape_numel(s)));
  for (float& x : v) x = u(rng);
  return Tensor::from_host(v, s, d);
}

ref::Vec as_vec(const Tensor& t) {
  const std::vector<float> h = t.to_host();
  return ref::Vec(h.begin(), h.end());
}

double max_rel_err(const Tensor& got, const ref::Vec& want) {
  const std::vector<float> g = got.to_host();
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!std::isfinite(g[i])) return INFINITY;
    err = std::max(err, std::abs(g[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

// The validation tolerance of a result whose longest sum has `reduction` terms: FP32 for the CPU
// and for the GPU with TF32 off, tf32_tolerance otherwise.
double tolerance(int64_t reduction, double fp32_tol) {
  const bool tf32 = g_opt.device == Device::CUDA && g_opt.tf32;
  return tf32 ? std::max(fp32_tol, test::tf32_tolerance(reduction)) : fp32_tol;
}

std::string verdict(double err, double tol) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %.1e", err <= tol ? "ok" : "FAIL", err);
  if (!(err <= tol)) g_failed = true;
  return buf;
}

// Mean milliseconds per call: one warm-up call, then repeats until ~0.3 s (or 2 in quick mode).
double time_ms(const std::function<void()>& fn) {
  Backend& be = backend_for(g_opt.device);
  fn();
  be.synchronize();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  int reps = 0;
  double elapsed = 0;
  do {
    fn();
    be.synchronize();
    ++reps;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (g_opt.quick ? reps < 2 : (elapsed < 0.3 || reps < 3));
  return 1e3 * elapsed / reps;
}

void add_row(std::string kernel, std::string shape, double ms, double amount, bool flops,
             std::string check) {
  Row r{std::move(kernel), std::move(shape), ms, 0, flops ? "GFLOP/s" : "GB/s", 0,
        std::move(check)};
  r.rate = amount / (ms * 1e-3) / 1e9;
  r.of_peak = r.rate / (flops ? g_peak_gflops : g_peak_gbs);
  g_rows.push_back(r);
  if (!g_opt.json)
    std::printf("%-16s %-34s %10.3f %10.1f %-8s %6.1f%%  %s\n", g_rows.back().kernel.c_str(),
                g_rows.back().shape.c_str(), ms, r.rate, r.unit, 100 * r.of_peak,
                g_rows.back().check.c_str());
}

void measure_peaks() {
  Backend& be = backend_for(g_opt.device);
  const int64_t n = g_opt.quick ? (int64_t(1) << 22) : (int64_t(1) << 26);  // 16 MB or 256 MB
  Tensor a = Tensor::full({n}, 1.f, g_opt.device), b = Tensor::empty({n}, g_opt.device);
  const double copy_ms = time_ms([&] { be.copy(b.data(), a.data(), size_t(n) * 4); });
  g_peak_gbs = 2.0 * n * 4 / (copy_ms * 1e-3) / 1e9;
  const int m = g_opt.quick ? 512 : (g_opt.device == Device::CPU ? 2048 : 8192);
  Tensor x = random_tensor({m, m}, 1, g_opt.device), w = random_tensor({m, m}, 2, g_opt.device);
  Tensor y = Tensor::empty({m, m}, g_opt.device);
  const double gemm_ms =
      time_ms([&] { be.linear_forward(m, m, m, x.data(), w.data(), nullptr, y.data()); });
  g_peak_gflops = 2.0 * m * m * m / (gemm_ms * 1e-3) / 1e9;
  if (!g_opt.json)
    std::printf("peaks: copy %.1f GB/s (%lld MB), sgemm %.1f GFLOP/s (%d^3)\n\n", g_peak_gbs,
                (long long)(n * 4 >> 20), g_peak_gflops, m);
}

// Validates one conv shape on a single image: CPU against the naive reference, CUDA against CPU.
std::string validate_conv(ConvGeom g) {
  g.n = 1;
  Tensor x = random_tensor({1, g.h, g.w, g.c}, 3, Device::CPU);
  Tensor w = random_tensor({g.k, g.r, g.s, g.c}, 4, Device::CPU, -0.1f, 0.1f);
  Tensor dy = random_tensor({1, g.p(), g.q(), g.k}, 5, Device::CPU);
  auto run = [&](Device d, Tensor& y, Tensor& dx, Tensor& dw) {
    Backend& be = backend_for(d);
    Tensor xd = x.to(d), wd = w.to(d), dyd = dy.to(d);
    y = Tensor::empty(dy.shape(), d), dx = Tensor::empty(x.shape(), d);
    dw = Tensor::empty(w.shape(), d);
    be.conv2d_forward(g, xd.data(), wd.data(), nullptr, y.data());
    be.conv2d_backward_data(g, dyd.data(), wd.data(), dx.data());
    be.conv2d_backward_filter(g, xd.data(), dyd.data(), dw.data(), nullptr, false);
  };
  Tensor y, dx, dw;
  run(g_opt.device, y, dx, dw);
  double err;
  if (g_opt.device == Device::CPU) {
    const ref::Vec yr = ref::conv2d_forward(g, as_vec(x), as_vec(w), nullptr);
    const ref::ConvGrads gr = ref::conv2d_backward(g, as_vec(x), as_vec(w), as_vec(dy));
    err = std::max({max_rel_err(y, yr), max_rel_err(dx, gr.dx), max_rel_err(dw, gr.dw)});
  } else {
    Tensor yc, dxc, dwc;
    run(Device::CPU, yc, dxc, dwc);
    err = std::max({max_rel_err(y, as_vec(yc)), max_rel_err(dx, as_vec(dxc)),
                    max_rel_err(dw, as_vec(dwc))});
  }
  const int64_t reduction =
      std::max({int64_t(g.r) * g.s * g.c, int64_t(g.r) * g.s * g.k, int64_t(g.p()) * g.q()});
  return verdict(err, tolerance(reduction, 1e-4));
}

void bench_convs() {
  Backend& be = backend_for(g_opt.device);
  double total_flops = 0, total_ms = 0;
  for (const bench::ConvLayer& layer : bench::resnet50_conv_layers(g_opt.batch)) {
    const ConvGeom& g = layer.geom;
    const std::string check = validate_conv(g);
    Tensor x = random_tensor({g.n, g.h, g.w, g.c}, 6, g_opt.device);
    Tensor w = random_tensor({g.k, g.r, g.s, g.c}, 7, g_opt.device, -0.1f, 0.1f);
    Tensor y = Tensor::empty({g.n, g.p(), g.q(), g.k}, g_opt.device);
    Tensor dx = Tensor::empty(x.shape(), g_opt.device), dw = Tensor::empty(w.shape(), g_opt.device);
    const double fwd = time_ms([&] { be.conv2d_forward(g, x.data(), w.data(), nullptr, y.data()); });
    const double bwd_d = time_ms([&] { be.conv2d_backward_data(g, y.data(), w.data(), dx.data()); });
    const double bwd_f = time_ms(
        [&] { be.conv2d_backward_filter(g, x.data(), y.data(), dw.data(), nullptr, false); });
    // A single-tap layer runs as a GEMM 1/(r*s) the size (ConvGeom::single_tap); its rate is
    // still of the nominal FLOPs, comparable with other runs and libraries.
    const std::string shape = std::string(layer.name) + " x" + std::to_string(layer.count) +
                              (g.single_tap() ? " (single tap, nominal FLOPs)" : "");
    add_row("conv fwd", shape, fwd, g.flops(), true, check);
    add_row("conv bwd-data", shape, bwd_d, g.flops(), true, check);
    add_row("conv bwd-filter", shape, bwd_f, g.flops(), true, check);
    total_flops += 3 * g.flops() * layer.count;
    total_ms += (fwd + bwd_d + bwd_f) * layer.count;
  }
  add_row("conv fwd+bwd", "ResNet50 all layers, batch " + std::to_string(g_opt.batch), total_ms,
          total_flops, true, "-");
}

void bench_gemm() {
  Backend& be = backend_for(g_opt.device);
  // The classifier head of the blog's model and a square GEMM.
  struct G { int n, in, out; };
  for (G s : {G{g_opt.batch, 2048, 10}, G{g_opt.batch, 2048, 1000}, G{1024, 1024, 1024}}) {
    Tensor x = random_tensor({s.n, s.in}, 8, g_opt.device);
    Tensor w = random_tensor({s.out, s.in}, 9, g_opt.device);
    Tensor b = random_tensor({s.out}, 10, g_opt.device);
    Tensor y = Tensor::empty({s.n, s.out}, g_opt.device);
    be.linear_forward(s.n, s.in, s.out, x.data(), w.data(), b.data(), y.data());
    // Validation on the first 4 rows (CPU: naive reference; CUDA: the CPU backend).
    const int vr = std::min(4, s.n);
    Tensor xs = x.view(0, {vr, s.in}).to(Device::CPU);
    const ref::Vec b_ref = as_vec(b);
    const ref::Vec yr =
        ref::linear_forward(vr, s.in, s.out, as_vec(xs), as_vec(w.to(Device::CPU)), &b_ref);
    const std::string check =
        verdict(max_rel_err(y.view(0, {vr, s.out}), yr), tolerance(s.in, 1e-4));
    const double ms =
        time_ms([&] { be.linear_forward(s.n, s.in, s.out, x.data(), w.data(), b.data(), y.data()); });
    add_row("gemm", std::to_string(s.n) + "x" + std::to_string(s.in) + " * " +
                        std::to_string(s.in) + "x" + std::to_string(s.out),
            ms, 2.0 * s.n * s.in * s.out, true, check);
  }
}

void bench_batchnorm() {
  Backend& be = backend_for(g_opt.device);
  constexpr float kEps = 1.001e-5f;  // the blog's
  for (auto [hw, c] : {std::pair{8, 256}, std::pair{2, 1024}}) {
    const BnGeom geom{g_opt.batch, hw, hw, c};
    const int64_t rows = geom.rows();
    Tensor x = random_tensor({rows, c}, 11, g_opt.device), y = Tensor::empty({rows, c}, g_opt.device);
    Tensor dx = Tensor::empty({rows, c}, g_opt.device);
    Tensor gamma = Tensor::full({c}, 1.f, g_opt.device), beta = Tensor::zeros({c}, g_opt.device);
    Tensor rm = Tensor::zeros({c}, g_opt.device), rv = Tensor::full({c}, 1.f, g_opt.device);
    Tensor sm = Tensor::empty({c}, g_opt.device), si = Tensor::empty({c}, g_opt.device);
    Tensor dg = Tensor::empty({c}, g_opt.device), db = Tensor::empty({c}, g_opt.device);
    be.batchnorm_forward_train(geom, x.data(), gamma.data(), beta.data(), kEps, 0.1f, rm.data(),
                               rv.data(), y.data(), sm.data(), si.data());
    // Validation: batch-normalized output has mean 0 and variance 1 per channel.
    const std::vector<float> yh = y.to_host();
    double worst = 0;
    for (int j = 0; j < c; ++j) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < rows; ++i) m += yh[i * c + j];
      m /= rows;
      for (int64_t i = 0; i < rows; ++i) v += (yh[i * c + j] - m) * (yh[i * c + j] - m);
      worst = std::max({worst, std::abs(m), std::abs(v / rows - 1)});
    }
    const std::string check = verdict(worst, 1e-3);
    const double fwd = time_ms([&] {
      be.batchnorm_forward_train(geom, x.data(), gamma.data(), beta.data(), kEps, 0.1f,
                                 rm.data(), rv.data(), y.data(), sm.data(), si.data());
    });
    const double bwd = time_ms([&] {
      be.batchnorm_backward(geom, x.data(), y.data(), gamma.data(), sm.data(), si.data(), kEps,
                            dx.data(), dg.data(), db.data(), false);
    });
    const std::string shape = std::to_string(rows) + " x " + std::to_string(c);
    const double bytes = double(rows) * c * 4;
    add_row("batchnorm fwd", shape, fwd, 3 * bytes, false, check);   // two reads, one write
    add_row("batchnorm bwd", shape, bwd, 5 * bytes, false, check);   // x, dy twice; dx
  }
}

// ---- batch norm + residual add + ReLU, fused (the backend's override) against composed
// (Backend's default: the plain batch norm, add and ReLU; cuDNN's batch norm on the GPU) ----

// One layer's tensors on one device, with the residual (a ResNet block's last batch norm, the
// fused op's heaviest form).
struct BnReluLayer {
  static constexpr float kEps = 1.001e-5f, kMomentum = 0.01f;  // the blog's eps
  BnGeom g;
  Tensor x, r, dy, gamma, beta, rm, rv, y, mean, invstd, dx, dr, dgamma, dbeta;

  BnReluLayer(const BnGeom& geom, Device d) : g(geom) {
    const int64_t n = g.rows() * g.c;
    x = random_tensor({n}, 21, d, -2.f, 3.f), r = random_tensor({n}, 22, d);
    dy = random_tensor({n}, 23, d), gamma = random_tensor({g.c}, 24, d, 0.5f, 1.5f);
    beta = random_tensor({g.c}, 25, d, -0.5f, 0.5f);
    rm = Tensor::zeros({g.c}, d), rv = Tensor::full({g.c}, 1.f, d);
    y = Tensor::empty({n}, d), dx = Tensor::empty({n}, d), dr = Tensor::empty({n}, d);
    mean = Tensor::empty({g.c}, d), invstd = Tensor::empty({g.c}, d);
    dgamma = Tensor::empty({g.c}, d), dbeta = Tensor::empty({g.c}, d);
  }
  void forward(bool composed) {
    Backend& be = x.backend();
    if (composed)
      be.Backend::batchnorm_relu_forward_train(g, x.data(), r.data(), gamma.data(), beta.data(),
                                               kEps, kMomentum, rm.data(), rv.data(), y.data(),
                                               mean.data(), invstd.data());
    else
      be.batchnorm_relu_forward_train(g, x.data(), r.data(), gamma.data(), beta.data(), kEps,
                                      kMomentum, rm.data(), rv.data(), y.data(), mean.data(),
                                      invstd.data());
  }
  void backward(bool composed) {
    Backend& be = x.backend();
    if (composed)
      be.Backend::batchnorm_relu_backward(g, x.data(), y.data(), dy.data(), gamma.data(),
                                          mean.data(), invstd.data(), kEps, dx.data(), dr.data(),
                                          dgamma.data(), dbeta.data(), false);
    else
      be.batchnorm_relu_backward(g, x.data(), y.data(), dy.data(), gamma.data(), mean.data(),
                                 invstd.data(), kEps, dx.data(), dr.data(), dgamma.data(),
                                 dbeta.data(), false);
  }
};

struct BnReluWant {
  ref::Vec y, mean, invstd, dx, dr, dgamma, dbeta;
};

// The CPU backend's fused kernels (for a CUDA run) or the naive reference (for a CPU run).
BnReluWant bn_relu_reference(const BnGeom& g) {
  BnReluLayer cpu(g, Device::CPU);
  if (g_opt.device == Device::CUDA) {
    cpu.forward(false);
    cpu.backward(false);
    return {as_vec(cpu.y),  as_vec(cpu.mean),   as_vec(cpu.invstd), as_vec(cpu.dx),
            as_vec(cpu.dr), as_vec(cpu.dgamma), as_vec(cpu.dbeta)};
  }
  const int64_t rows = g.rows();
  const ref::Vec x = as_vec(cpu.x), r = as_vec(cpu.r), dy = as_vec(cpu.dy),
                 gamma = as_vec(cpu.gamma);
  const ref::BatchNormOut f = ref::batchnorm_train(rows, g.c, x, gamma, as_vec(cpu.beta),
                                                   BnReluLayer::kEps, BnReluLayer::kMomentum,
                                                   as_vec(cpu.rm), as_vec(cpu.rv));
  BnReluWant w;
  w.y = f.y, w.dr = dy, w.mean.assign(g.c, 0.0), w.invstd.assign(g.c, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    w.y[i] = std::max(0.0, w.y[i] + r[i]);
    if (w.y[i] == 0) w.dr[i] = 0;
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < g.c; ++j) w.mean[j] += x[i * g.c + j] / rows;
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < g.c; ++j) {
      const double d = x[i * g.c + j] - w.mean[j];
      w.invstd[j] += d * d / rows;
    }
  for (double& v : w.invstd) v = 1 / std::sqrt(v + BnReluLayer::kEps);
  const ref::BatchNormGrads b =
      ref::batchnorm_backward(rows, g.c, x, gamma, BnReluLayer::kEps, w.dr);
  w.dx = b.dx, w.dgamma = b.dgamma, w.dbeta = b.dbeta;
  return w;
}

// Validates one path of `layer` against `want`. The backward is handed the reference's y, so
// that both sides mask the same elements: an output within rounding of the ReLU's kink may land
// on either side of it, and its gradient with it.
std::string validate_bn_relu(BnReluLayer& layer, bool composed, const BnReluWant& want) {
  layer.forward(composed);
  double err = std::max({max_rel_err(layer.y, want.y), max_rel_err(layer.mean, want.mean),
                         max_rel_err(layer.invstd, want.invstd)});
  layer.y.copy_from(Tensor::from_host(std::vector<float>(want.y.begin(), want.y.end()),
                                      layer.y.shape()));
  layer.backward(composed);
  err = std::max({err, max_rel_err(layer.dx, want.dx), max_rel_err(layer.dr, want.dr),
                  max_rel_err(layer.dgamma, want.dgamma), max_rel_err(layer.dbeta, want.dbeta)});
  return verdict(err, 1e-4);
}

// At the batch-norm shapes of the blog's ResNet50 (every distinct convolution output) and of a
// CIFAR ResNet's first stage at batch 128. Bytes are what the op must move: the forward reads x
// and the residual and writes y; the backward reads x, y and dy and writes dx and dresidual.
void bench_batchnorm_relu() {
  std::vector<BnGeom> shapes = {{128, 32, 32, 16}};
  for (const bench::ConvLayer& layer : bench::resnet50_conv_layers(g_opt.batch)) {
    const BnGeom g{layer.geom.n, layer.geom.p(), layer.geom.q(), layer.geom.k};
    const auto same = [&](const BnGeom& o) { return o.n == g.n && o.h == g.h && o.c == g.c; };
    if (std::none_of(shapes.begin(), shapes.end(), same)) shapes.push_back(g);
  }
  for (const BnGeom& g : shapes) {
    const BnReluWant want = bn_relu_reference(g);
    BnReluLayer layer(g, g_opt.device);
    const std::string shape = std::to_string(g.n) + "x" + std::to_string(g.h) + "x" +
                              std::to_string(g.w) + "x" + std::to_string(g.c) + " +residual";
    const double bytes = double(g.rows()) * g.c * 4;
    for (const bool composed : {false, true}) {
      const std::string check = validate_bn_relu(layer, composed, want);
      const double fwd = time_ms([&] { layer.forward(composed); });
      const double bwd = time_ms([&] { layer.backward(composed); });
      add_row(composed ? "bn+relu fwd cmp" : "bn+relu fwd", shape, fwd, 3 * bytes, false, check);
      add_row(composed ? "bn+relu bwd cmp" : "bn+relu bwd", shape, bwd, 5 * bytes, false, check);
    }
  }
}

void bench_softmax_xent() {
  Backend& be = backend_for(g_opt.device);
  for (int64_t n : {int64_t(256), int64_t(4096), int64_t(65536)}) {
    for (int c : {10, 1000}) {
      if (g_opt.quick && n * c > (int64_t(1) << 22)) continue;
      Tensor logits = random_tensor({n, c}, 12, g_opt.device, -5.f, 5.f);
      Tensor targets = random_tensor({n, c}, 13, g_opt.device, 0.f, 2.f / c);
      Tensor loss = Tensor::empty({}, g_opt.device), d = Tensor::empty({n, c}, g_opt.device);
      be.softmax_xent(n, c, logits.data(), targets.data(), loss.data(), d.data());
      // Validation on the whole batch against the naive reference.
      ref::Vec dref;
      const double lref = ref::softmax_xent(n, c, as_vec(logits), as_vec(targets), &dref);
      const double err = std::max(max_rel_err(d, dref), std::abs(loss.item() - lref) / std::abs(lref));
      const std::string check = verdict(err, 1e-4);
      const double ms = time_ms(
          [&] { be.softmax_xent(n, c, logits.data(), targets.data(), loss.data(), d.data()); });
      add_row("softmax-xent", "N=" + std::to_string(n) + " C=" + std::to_string(c), ms,
              3.0 * n * c * 4, false, check);  // logits and targets read, dlogits written
    }
  }
}

void bench_optimizers() {
  Backend& be = backend_for(g_opt.device);
  const int64_t n = g_opt.quick ? 1000003 : 23555082;  // the blog's ResNet50 for 10 classes
  Tensor p = random_tensor({n}, 14, g_opt.device), g = random_tensor({n}, 15, g_opt.device);
  Tensor m = Tensor::zeros({n}, g_opt.device), v = Tensor::zeros({n}, g_opt.device);
  // Validation: one step from zero state on the first elements against the reference.
  const int64_t k = 4096;
  ref::Vec pr = as_vec(p.view(0, {k})), gr = as_vec(g.view(0, {k})), mr(k), vr(k);
  AdamParams ap;
  be.adam_update(n, ap, p.data(), g.data(), m.data(), v.data());
  ref::adam_step(ap.lr, ap.beta1, ap.beta2, ap.eps, 0, false, 1, pr, gr, mr, vr);
  const std::string adam_check = verdict(max_rel_err(p.view(0, {k}), pr), 1e-5);
  const double adam_ms = time_ms([&] { be.adam_update(n, ap, p.data(), g.data(), m.data(), v.data()); });
  add_row("adam update", std::to_string(n) + " params", adam_ms, 7.0 * n * 4, false, adam_check);

  SgdParams sp;
  Tensor vel = Tensor::zeros({n}, g_opt.device);
  ref::Vec ps = as_vec(p.view(0, {k})), vs(k);
  be.sgd_update(n, sp, p.data(), g.data(), vel.data());
  ref::sgd_step(sp.lr, sp.momentum, sp.weight_decay, sp.nesterov, ps, gr, vs);
  const std::string sgd_check = verdict(max_rel_err(p.view(0, {k}), ps), 1e-5);
  const double sgd_ms = time_ms([&] { be.sgd_update(n, sp, p.data(), g.data(), vel.data()); });
  add_row("sgd update", std::to_string(n) + " params", sgd_ms, 5.0 * n * 4, false, sgd_check);
}

void print_json() {
  std::printf("{\"device\": \"%s\", \"math\": \"%s\", \"batch\": %d, \"peak_copy_gbs\": %.2f, \"peak_sgemm_gflops\": %.2f, \"rows\": [\n",
              device_name(g_opt.device), g_opt.device == Device::CUDA && g_opt.tf32 ? "tf32" : "fp32",
              g_opt.batch, g_peak_gbs, g_peak_gflops);
  for (size_t i = 0; i < g_rows.size(); ++i) {
    const Row& r = g_rows[i];
    std::printf("  {\"kernel\": \"%s\", \"shape\": \"%s\", \"ms\": %.5f, \"rate\": %.3f, \"unit\": \"%s\", \"of_peak\": %.4f, \"check\": \"%s\"}%s\n",
                r.kernel.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit, r.of_peak,
                r.check.c_str(), i + 1 < g_rows.size() ? "," : "");
  }
  std::printf("]}\n");
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "bench_kernels: %s\nusage: bench_kernels [--device cpu|cuda] [--math fp32|tf32] [--batch N] [--quick] [--json]\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  g_opt.device = default_device();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      g_opt.json = true;
    } else if (a == "--quick") {
      g_opt.quick = true;
    } else if (a == "--math" && i + 1 < argc) {
      const std::string m = argv[++i];
      if (m == "bf16") usage("--math bf16: not implemented (the engine has no bf16 kernels yet)");
      if (m != "fp32" && m != "tf32") usage(("--math must be fp32 or tf32, not '" + m + "'").c_str());
      g_opt.tf32 = m == "tf32";
    } else if (a == "--batch" && i + 1 < argc) {
      g_opt.batch = std::atoi(argv[++i]);
      if (g_opt.batch < 1) usage("--batch needs a positive integer");
    } else if (a == "--device" && i + 1 < argc) {
      const std::string d = argv[++i];
      if (d == "cpu") g_opt.device = Device::CPU;
      else if (d == "cuda") g_opt.device = Device::CUDA;
      else usage(("--device must be cpu or cuda, not '" + d + "'").c_str());
      if (g_opt.device == Device::CUDA && !cuda_available()) usage("--device cuda: no usable GPU");
    } else {
      usage(("unknown argument '" + a + "'").c_str());
    }
  }
  if (g_opt.device == Device::CUDA) cuda_backend().set_allow_tf32(g_opt.tf32);
  const char* math = g_opt.device == Device::CUDA && g_opt.tf32 ? "tf32" : "fp32";
  if (!g_opt.json) {
    if (!cuda_available()) std::printf("CUDA unavailable: benchmarking the CPU backend\n");
#ifdef RF_WITH_CUDA
    if (g_opt.device == Device::CUDA) std::printf("device: %s\n", cuda_device_description().c_str());
#endif
    std::printf("backend: %s, math %s, batch %d%s\n", device_name(g_opt.device), math,
                g_opt.batch, g_opt.quick ? " (quick)" : "");
  }
  measure_peaks();
  if (!g_opt.json)
    std::printf("%-16s %-34s %10s %10s %-8s %7s  %s\n", "kernel", "shape", "ms", "rate", "unit",
                "of peak", "check");
  bench_convs();
  bench_gemm();
  bench_batchnorm();
  bench_batchnorm_relu();
  bench_softmax_xent();
  bench_optimizers();
  if (g_opt.json) print_json();
  if (g_failed) {
    std::fprintf(stderr, "bench_kernels: a validation failed (see the check column)\n");
    return 1;
  }
  return 0;
}
