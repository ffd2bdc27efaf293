// The flat kernels of kernels/cuda run on the CUDA emulation: elementwise.cuh, gather.cuh,
// optimizers.cuh and metrics.cuh against plain double loops, the double optimizer references of
// tests/reference.h and the metrics' CPU twin. Lengths around multiples of four and pointers off
// the 16-byte grid take both the float4 and the scalar path, and their seams.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "emulated_case.h"
#include "kernels/cpu/metrics.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/gather.cuh"
#include "kernels/cuda/metrics.cuh"
#include "kernels/cuda/optimizers.cuh"
#include "kernels/metric_totals.h"

using namespace rf;
using namespace rf::test;

namespace {

const int64_t kLengths[] = {1, 3, 4, 5, 8, 255, 1023, 4099};
// Misalignment of (first input, second input or output): aligned, all off, and only one off.
const std::pair<size_t, size_t> kMisalign[] = {{0, 0}, {1, 1}, {0, 2}, {3, 0}};

std::string shape(int64_t n, std::pair<size_t, size_t> m) {
  return "n=" + std::to_string(n) + " misalign=" + std::to_string(m.first) + "," +
         std::to_string(m.second);
}

// y = op(x) for float or bf16 storage, checked element by element against want(x) rounded to the
// output's storage: float kernels do one float operation per element, which the double value
// rounded to float reproduces exactly (no contraction into fused multiply-adds here).
template <class In, class Out>
void check_unary(const char* what, const std::function<void(int64_t, const In*, Out*)>& kernel,
                 const std::function<double(double)>& want) {
  for (int64_t n : kLengths)
    for (auto m : kMisalign) {
      CAPTURE(what);
      CAPTURE(shape(n, m));
      const std::vector<float> v = random_floats(size_t(n), uint32_t(n), -2.f, 2.f);
      DeviceBuffer<In> x(size_t(n), m.first);
      DeviceBuffer<Out> y(size_t(n), m.second);
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<In, float>) x[size_t(i)] = v[size_t(i)];
        else x[size_t(i)] = float_to_bf16(v[size_t(i)]);
      }
      kernel(n, x.data(), y.data());
      int wrong = 0;
      for (int64_t i = 0; i < n; ++i) {
        double in;
        if constexpr (std::is_same_v<In, float>) in = x[size_t(i)];
        else in = bf16_to_float(x[size_t(i)]);
        const double w = std::is_same_v<Out, float> ? double(float(want(in)))
                                                    : ref::bf16_round(double(float(want(in))));
        double got;
        if constexpr (std::is_same_v<Out, float>) got = y[size_t(i)];
        else got = bf16_to_float(y[size_t(i)]);
        wrong += got != w;
      }
      CHECK(wrong == 0);
    }
}

template <class T>
T stored(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return float_to_bf16(v);
}

template <class T>
double loaded(T v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return bf16_to_float(v);
}

// y = op(a, b); with `alias`, also with the output written over its first input (the header
// allows it).
template <class A, class B, class Out>
void check_binary(const char* what,
                  const std::function<void(int64_t, const A*, const B*, Out*)>& kernel,
                  const std::function<double(double, double)>& want, bool alias = true) {
  for (int64_t n : kLengths)
    for (auto m : kMisalign)
      for (bool in_place : {false, true}) {
        if (in_place && (!alias || !std::is_same_v<A, Out>)) continue;
        CAPTURE(what);
        CAPTURE(shape(n, m));
        CAPTURE(in_place);
        const std::vector<float> va = random_floats(size_t(n), uint32_t(n), -2.f, 2.f);
        const std::vector<float> vb = random_floats(size_t(n), uint32_t(n + 1), -2.f, 2.f);
        DeviceBuffer<A> a(size_t(n), m.first);
        DeviceBuffer<B> b(size_t(n), m.second);
        DeviceBuffer<Out> y(size_t(n), m.first);
        std::vector<double> w(static_cast<size_t>(n));
        for (size_t i = 0; i < size_t(n); ++i) {
          a[i] = stored<A>(va[i]);
          b[i] = stored<B>(vb[i]);
          const double exact = double(float(want(loaded(a[i]), loaded(b[i]))));
          w[i] = std::is_same_v<Out, float> ? exact : ref::bf16_round(exact);
        }
        Out* out = y.data();
        if constexpr (std::is_same_v<A, Out>)
          if (in_place) out = a.data();
        kernel(n, a.data(), b.data(), out);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // `out` is read directly
        int wrong = 0;
        for (size_t i = 0; i < size_t(n); ++i) wrong += loaded(out[i]) != w[i];
        CHECK(wrong == 0);
      }
}

}  // namespace

TEST_CASE("cuda emulated elementwise: float ops equal one float operation per element") {
  const float alpha = 0.37f;
  check_unary<float, float>(
      "relu_forward",
      [](int64_t n, const float* x, float* y) { gpu::relu_forward(n, x, y, nullptr); },
      [](double x) { return x > 0 ? x : 0.0; });
  check_unary<float, float>(
      "scale", [&](int64_t n, const float* x, float* y) { gpu::scale(n, alpha, x, y, nullptr); },
      [&](double x) { return double(alpha) * x; });
  // The factor read from device memory, as an upstream scalar gradient is.
  check_unary<float, float>(
      "scale_by",
      [&](int64_t n, const float* x, float* y) { gpu::scale_by(n, &alpha, x, y, nullptr); },
      [&](double x) { return double(alpha) * x; });
  check_binary<float, float, float>(
      "add",
      [](int64_t n, const float* a, const float* b, float* y) { gpu::add(n, a, b, y, nullptr); },
      [](double a, double b) { return a + b; });
  // relu_backward(y, dy): the gradient passes where the forward's output is positive.
  check_binary<float, float, float>(
      "relu_backward",
      [](int64_t n, const float* y, const float* dy, float* dx) {
        gpu::relu_backward(n, y, dy, dx, nullptr);
      },
      [](double y, double dy) { return y > 0 ? dy : 0.0; });
}

TEST_CASE("cuda emulated elementwise: bf16 ops compute in float and round each result once") {
  check_unary<float, BF16>(
      "cast to bf16", [](int64_t n, const float* x, BF16* y) { gpu::cast(n, x, y, nullptr); },
      [](double x) { return x; });
  check_unary<BF16, float>(
      "cast to float", [](int64_t n, const BF16* x, float* y) { gpu::cast(n, x, y, nullptr); },
      [](double x) { return x; });
  check_unary<BF16, BF16>(
      "relu_forward bf16",
      [](int64_t n, const BF16* x, BF16* y) { gpu::relu_forward(n, x, y, nullptr); },
      [](double x) { return x > 0 ? x : 0.0; });
  check_binary<BF16, BF16, BF16>(
      "add bf16",
      [](int64_t n, const BF16* a, const BF16* b, BF16* y) { gpu::add(n, a, b, y, nullptr); },
      [](double a, double b) { return double(float(a) + float(b)); });
  check_binary<BF16, BF16, BF16>(
      "relu_backward bf16",
      [](int64_t n, const BF16* y, const BF16* dy, BF16* dx) {
        gpu::relu_backward(n, y, dy, dx, nullptr);
      },
      [](double y, double dy) { return y > 0 ? dy : 0.0; });
}

TEST_CASE("cuda emulated elementwise: axpy adds into y, widen_add adds or overwrites") {
  const float alpha = -1.25f;
  // y = alpha * x + y: two float roundings, the product's and the sum's.
  check_binary<float, float, float>(
      "axpy", [&](int64_t n, const float* x, const float* y0, float* y) {
        std::copy(y0, y0 + n, y);
        gpu::axpy(n, alpha, x, y, nullptr);
      },
      [&](double x, double y) { return double(float(double(alpha) * x)) + y; }, false);
  for (bool accumulate : {false, true})
    check_binary<BF16, float, float>(
        accumulate ? "widen_add accumulate" : "widen_add overwrite",
        [&](int64_t n, const BF16* x, const float* y0, float* y) {
          // Without accumulate whatever y held is ignored, NaN included.
          for (int64_t i = 0; i < n; ++i) y[i] = accumulate ? y0[i] : NAN;
          gpu::widen_add(n, x, y, accumulate, nullptr);
        },
        [&](double x, double y) { return accumulate ? x + y : x; });
}

TEST_CASE("cuda emulated fill: every element, any alignment") {
  for (int64_t n : kLengths)
    for (size_t m : {0, 1, 2, 3}) {
      CAPTURE(shape(n, {m, m}));
      DeviceBuffer<float> y(size_t(n), m);
      gpu::fill(n, 2.5f, y.data(), nullptr);
      int wrong = 0;
      for (size_t i = 0; i < size_t(n); ++i) wrong += y[i] != 2.5f;
      CHECK(wrong == 0);
    }
}

TEST_CASE("cuda emulated gather_rows: rows by index, NaN rows for indices outside the table") {
  const int64_t rows = 7;
  for (int cols : {1, 3, 10, 33}) {
    CAPTURE(cols);
    const std::vector<float> table = random_floats(size_t(rows * cols), uint32_t(cols));
    const std::vector<int64_t> index = {3, 0, 6, -1, 7, 2, 2, 1000, 5};
    const int64_t n = int64_t(index.size());
    DeviceBuffer<float> t(table.size()), out(size_t(n * cols), 1);
    DeviceBuffer<int64_t> idx(index.size());
    t.assign(table);
    idx.assign(index);
    gpu::gather_rows(n, cols, t.data(), rows, idx.data(), out.data(), nullptr);
    int wrong = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < cols; ++j) {
        const float got = out[size_t(i * cols + j)];
        const bool inside = index[size_t(i)] >= 0 && index[size_t(i)] < rows;
        wrong += inside ? got != table[size_t(index[size_t(i)] * cols + j)] : !std::isnan(got);
      }
    CHECK(wrong == 0);
  }
}

TEST_CASE("cuda emulated sgd_update and adam_update: three steps against the double references") {
  struct Sgd {
    float momentum, weight_decay;
    bool nesterov;
  };
  struct Adam {
    float weight_decay;
    bool decoupled;
  };
  const float lr = 0.05f;
  // Float updates of O(1) values over three steps: a few float roundings each.
  const double tol = 1e-5;
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1000)})
    for (size_t m : {0, 1}) {
      CAPTURE(shape(n, {m, m}));
      const std::vector<float> p0 = random_floats(size_t(n), 1), g = random_floats(size_t(n), 2);
      for (Sgd s : {Sgd{0.f, 0.f, false}, Sgd{0.9f, 1e-2f, false}, Sgd{0.9f, 1e-2f, true}}) {
        CAPTURE(s.momentum);
        CAPTURE(s.nesterov);
        DeviceBuffer<float> p(size_t(n), m), grad(size_t(n), m), vel(size_t(n), m);
        p.assign(p0);
        grad.assign(g);
        ref::Vec rp = to_double(p0), rv(size_t(n), 0.0);
        for (int step = 0; step < 3; ++step) {
          gpu::sgd_update(n, {lr, s.momentum, s.weight_decay, s.nesterov}, p.data(), grad.data(),
                          s.momentum != 0.f ? vel.data() : nullptr, nullptr);
          ref::sgd_step(lr, s.momentum, s.weight_decay, s.nesterov, rp, to_double(g), rv);
        }
        CHECK(error_scaled_to_max_or_one(p.to_vector(), rp) < tol);
        if (s.momentum != 0.f) CHECK(error_scaled_to_max_or_one(vel.to_vector(), rv) < tol);
      }
      for (Adam a : {Adam{0.f, false}, Adam{1e-2f, false}, Adam{1e-2f, true}}) {
        CAPTURE(a.decoupled);
        DeviceBuffer<float> p(size_t(n), m), grad(size_t(n), m), mom(size_t(n), m),
            var(size_t(n), m);
        p.assign(p0);
        grad.assign(g);
        ref::Vec rp = to_double(p0), rm(size_t(n), 0.0), rv(size_t(n), 0.0);
        for (int step = 1; step <= 3; ++step) {
          const gpu::AdamStep s =
              gpu::adam_step(lr, 0.9f, 0.999f, 1e-8f, a.weight_decay, a.decoupled, step);
          gpu::adam_update(n, s, p.data(), grad.data(), mom.data(), var.data(), nullptr);
          ref::adam_step(lr, 0.9, 0.999, 1e-8, a.weight_decay, a.decoupled, step, rp,
                         to_double(g), rm, rv);
        }
        CHECK(error_scaled_to_max_or_one(p.to_vector(), rp) < tol);
        CHECK(error_scaled_to_max_or_one(mom.to_vector(), rm) < tol);
        CHECK(error_scaled_to_max_or_one(var.to_vector(), rv) < tol);
      }
    }
}

TEST_CASE("cuda emulated accumulate_metrics: the same totals and confusion as the CPU twin") {
  const int cols = 10;
  std::vector<double> want(kMetricSlots, 0.0);
  want[kFirstBadBatch] = -1;
  DeviceBuffer<double> got(kMetricSlots);
  got.assign(want);
  std::vector<int64_t> want_confusion(size_t(cols * cols), 0);
  DeviceBuffer<int64_t> got_confusion(want_confusion.size());
  // More rows than the block's threads; ties (first maximum wins) and a NaN row; a NaN loss in
  // the third batch, which must be the one recorded, not the later infinite one.
  const float losses[] = {0.5f, 2.f, NAN, 1.f, INFINITY};
  const int64_t batch_rows[] = {300, 1, 257, 64, 5};
  for (int b = 0; b < 5; ++b) {
    CAPTURE(b);
    const int64_t rows = batch_rows[b];
    std::vector<float> logits = random_floats(size_t(rows * cols), uint32_t(b + 10));
    for (int64_t r = 0; r < rows; r += 7)
      logits[size_t(r * cols + 4)] = logits[size_t(r * cols + 2)] = 5.f;
    if (rows > 3) logits[size_t(3 * cols + 1)] = NAN;
    std::vector<int32_t> labels(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) labels[size_t(r)] = int32_t((r * 3 + b) % cols);
    DeviceBuffer<float> l(logits.size()), loss(1);
    DeviceBuffer<int32_t> lab(labels.size());
    l.assign(logits);
    lab.assign(labels);
    loss[0] = losses[b];
    const bool with_loss = b != 3;  // an evaluation batch may come without its loss
    gpu::accumulate_metrics(rows, cols, l.data(), lab.data(), with_loss ? loss.data() : nullptr,
                            got.data(), got_confusion.data(), nullptr);
    cpu::accumulate_metrics(rows, cols, logits.data(), labels.data(),
                            with_loss ? &losses[b] : nullptr, want.data(), want_confusion.data());
    // After every batch: totals summed over batches could hide a batch's count arriving late.
    for (int s = 0; s < kMetricSlots; ++s) {
      CAPTURE(s);
      if (std::isnan(want[size_t(s)])) CHECK(std::isnan(got[size_t(s)]));
      else CHECK(got[size_t(s)] == want[size_t(s)]);
    }
    CHECK(got_confusion.to_vector() == want_confusion);
  }
  CHECK(got[kFirstBadBatch] == 3);
}
