// The CPU backend: the Backend interface over the kernels in kernels/cpu.
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <vector>

#include "engine/backend.h"
#include "engine/check.h"
#include "engine/onednn_conv.h"
#include "kernels/cpu/augment.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/bf16_convert.h"
#include "kernels/cpu/blas_kernels.h"
#include "kernels/cpu/conv_single_tap.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gather.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/metrics.h"
#include "kernels/cpu/optimizers.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/softmax.h"

namespace rf {
namespace {

void check_indices(const char* op, int64_t n, const int64_t* indices, int64_t count) {
  for (int64_t i = 0; i < n; ++i)
    RF_CHECK(indices[i] >= 0 && indices[i] < count,
             op << ": index " << indices[i] << " (batch position " << i << ") outside the "
                << count << " rows it picks from");
}

// The bf16 ops' float32 working copies: a bf16 input widened (empty for a null pointer), and an
// output that is rounded into its bf16 destination when it goes.
std::vector<float> widened(int64_t n, const BF16* x) {
  std::vector<float> v(x ? size_t(n) : 0);
  if (x) cpu::widen(n, x, v.data());
  return v;
}
const float* ptr(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

class Rounded {
 public:
  Rounded(int64_t n, BF16* dst) : dst_(dst), v_(dst ? size_t(n) : 0) {}
  ~Rounded() {
    if (dst_) cpu::round_to_bf16(int64_t(v_.size()), v_.data(), dst_);
  }
  Rounded(const Rounded&) = delete;
  Rounded& operator=(const Rounded&) = delete;
  float* data() { return dst_ ? v_.data() : nullptr; }

 private:
  BF16* dst_;
  std::vector<float> v_;
};

// A parameter gradient's destination: with `accumulate`, the kernel writes a working copy that is
// added to dst when it goes (the sum rounded once, as an add of a separate gradient would be);
// without, the kernel writes dst itself. Null stays null.
class Accumulated {
 public:
  Accumulated(int64_t n, float* dst, bool accumulate)
      : dst_(dst), n_(n), v_(dst && accumulate ? new float[size_t(n)] : nullptr) {}
  ~Accumulated() {
    if (v_) cpu::add(n_, dst_, v_.get(), dst_);
  }
  Accumulated(const Accumulated&) = delete;
  Accumulated& operator=(const Accumulated&) = delete;
  float* data() { return v_ ? v_.get() : dst_; }

 private:
  float* dst_;
  int64_t n_;
  std::unique_ptr<float[]> v_;  // uninitialized: the kernel writes every element
};

// Tensors are malloc'd and freed every step, in the same sizes every step. glibc serves large
// blocks with mmap and gives freed ones back to the kernel under thresholds it adapts as it goes,
// so whether a step's activations land in fresh pages (a page fault and a zeroed page per 4 KB on
// first touch) depended on the order of earlier frees: ResNet-8's inference ran at 3,500-4,100
// images/s in some processes and 5,800-7,100 in others with one binary, the slow ones with 60%
// more page faults (this project's 2-core machine, 2026-12-07). Fixed thresholds keep freed memory
// in the heap for the next step (the process keeps its peak, as a training run does anyway).
void keep_freed_memory() {
  constexpr int kBytes = 1 << 30;  // blocks up to 1 GiB come from the heap; its top is kept
  // Older glibc versions cap the mmap threshold at 32 MiB (DEFAULT_MMAP_THRESHOLD_MAX) and refuse more.
  if (mallopt(M_MMAP_THRESHOLD, kBytes) == 0) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, kBytes);
}

class CpuBackend final : public Backend {
 public:
  // OpenBLAS's fallback kernels on CPUs newer than it are replaced before any BLAS call.
  CpuBackend() {
    cpu::select_blas_kernels();
    keep_freed_memory();
  }
  Device device() const override { return Device::CPU; }
  const char* name() const override { return "cpu"; }

  void* allocate(size_t bytes) override {
    // 64-byte alignment: whole cache lines and full-width SIMD loads for every tensor.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p) override { std::free(p); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    join_concurrent();
    std::memcpy(dst, src, bytes);
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override { cpu::copy(bytes, src, dst); }
  void synchronize() override { join_concurrent(); }

  // Concurrency on: work is held and run at the join (see backend.h).
  void set_concurrency(bool on) override {
    join_concurrent();
    concurrency_ = on;
  }
  bool concurrency() const override { return concurrency_; }
  void run_concurrently(std::function<void()> work) override {
    if (!concurrency_ || joining_) {
      work();
      return;
    }
    held_.push_back(std::move(work));
  }
  void join_concurrent() override {
    if (joining_) return;
    joining_ = true;
    try {
      for (auto& work : held_) work();  // work it passes on runs at once (joining_)
    } catch (...) {
      held_.clear();
      joining_ = false;
      throw;
    }
    held_.clear();
    joining_ = false;
  }

  void fill(int64_t n, float value, float* y) override { cpu::fill(n, value, y); }
  void add(int64_t n, const float* a, const float* b, float* y) override { cpu::add(n, a, b, y); }
  void axpy(int64_t n, float alpha, const float* x, float* y) override {
    cpu::axpy(n, alpha, x, y);
  }
  void scale(int64_t n, float alpha, const float* x, float* y) override {
    cpu::scale(n, alpha, x, y);
  }
  void scale_by(int64_t n, const float* alpha, const float* x, float* y) override {
    cpu::scale(n, *alpha, x, y);
  }
  void relu_forward(int64_t n, const float* x, float* y) override { cpu::relu_forward(n, x, y); }
  void relu_backward(int64_t n, const float* y, const float* dy, float* dx) override {
    cpu::relu_backward(n, y, dy, dx);
  }

  void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                      float* y) override {
    if (g.single_tap())
      cpu::single_tap_forward(g, x, w, bias, y);
    else
      conv_.forward(g, x, w, bias, y);
  }
  void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w,
                            float* dx) override {
    if (g.single_tap())
      cpu::single_tap_backward_data(g, dy, w, dx);
    else
      conv_.backward_data(g, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                              float* dbias, bool accumulate) override {
    Accumulated w_out(g.w_size(), dw, accumulate), b_out(g.k, dbias, accumulate);
    if (g.single_tap())
      cpu::single_tap_backward_filter(g, x, dy, w_out.data(), b_out.data());
    else
      conv_.backward_filter(g, x, dy, w_out.data(), b_out.data());
  }

  // The statistics are per channel over all n*h*w positions: the kernels see a [rows, c] matrix.
  void batchnorm_forward_train(const BnGeom& g, const float* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, float* y, float* save_mean,
                               float* save_invstd) override {
    cpu::batchnorm_forward_train(g.rows(), g.c, x, gamma, beta, eps, momentum, nullptr, false,
                                 running_mean, running_var, y, save_mean, save_invstd);
  }
  void batchnorm_forward_eval(const BnGeom& g, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, float* y) override {
    cpu::batchnorm_forward_eval(g.rows(), g.c, x, gamma, beta, running_mean, running_var, eps,
                                nullptr, false, y);
  }
  // eps is already folded into save_invstd.
  void batchnorm_backward(const BnGeom& g, const float* x, const float* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float /*eps*/,
                          float* dx, float* dgamma, float* dbeta, bool accumulate) override {
    cpu::batchnorm_backward(g.rows(), g.c, x, nullptr, dy, gamma, save_mean, save_invstd, dx,
                            nullptr, dgamma, dbeta, accumulate);
  }
  void batchnorm_relu_forward_train(const BnGeom& g, const float* x, const float* residual,
                                    const float* gamma, const float* beta, float eps,
                                    float momentum, float* running_mean, float* running_var,
                                    float* y, float* save_mean, float* save_invstd) override {
    cpu::batchnorm_forward_train(g.rows(), g.c, x, gamma, beta, eps, momentum, residual, true,
                                 running_mean, running_var, y, save_mean, save_invstd);
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const float* x, const float* residual,
                                   const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float eps,
                                   float* y) override {
    cpu::batchnorm_forward_eval(g.rows(), g.c, x, gamma, beta, running_mean, running_var, eps,
                                residual, true, y);
  }
  void batchnorm_relu_backward(const BnGeom& g, const float* x, const float* y, const float* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float /*eps*/, float* dx,
                               float* dresidual, float* dgamma, float* dbeta,
                               bool accumulate) override {
    cpu::batchnorm_backward(g.rows(), g.c, x, y, dy, gamma, save_mean, save_invstd, dx,
                            dresidual, dgamma, dbeta, accumulate);
  }

  void maxpool_forward(const PoolGeom& g, const float* x, float* y) override {
    cpu::maxpool_forward(g, x, y);
  }
  void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) override {
    cpu::maxpool_backward(g, x, dy, dx);
  }
  void global_avgpool_forward(int n, int hw, int c, const float* x, float* y) override {
    cpu::global_avgpool_forward(n, hw, c, x, y);
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx) override {
    cpu::global_avgpool_backward(n, hw, c, dy, dx);
  }

  // ---- bf16: the float32 kernels above on widened values, outputs rounded ----
  void cast(int64_t n, const float* x, BF16* y) override { cpu::round_to_bf16(n, x, y); }
  void cast(int64_t n, const BF16* x, float* y) override { cpu::widen(n, x, y); }
  void add(int64_t n, const BF16* a, const BF16* b, BF16* y) override {
    const std::vector<float> av = widened(n, a), bv = widened(n, b);
    Rounded out(n, y);
    cpu::add(n, av.data(), bv.data(), out.data());
  }
  void relu_forward(int64_t n, const BF16* x, BF16* y) override {
    const std::vector<float> xv = widened(n, x);
    Rounded out(n, y);
    cpu::relu_forward(n, xv.data(), out.data());
  }
  void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx) override {
    const std::vector<float> yv = widened(n, y), dyv = widened(n, dy);
    Rounded out(n, dx);
    cpu::relu_backward(n, yv.data(), dyv.data(), out.data());
  }
  void conv2d_forward(const ConvGeom& g, const BF16* x, const BF16* w, const float* bias,
                      BF16* y) override {
    const std::vector<float> xv = widened(g.x_size(), x), wv = widened(g.w_size(), w);
    {
      Rounded out(g.y_size(), y);
      conv2d_forward(g, xv.data(), wv.data(), nullptr, out.data());
    }
    if (bias) cpu::add_bias_bf16(g.y_size() / g.k, g.k, bias, y);
  }
  void conv2d_backward_data(const ConvGeom& g, const BF16* dy, const BF16* w, BF16* dx) override {
    const std::vector<float> dyv = widened(g.y_size(), dy), wv = widened(g.w_size(), w);
    Rounded out(g.x_size(), dx);
    conv2d_backward_data(g, dyv.data(), wv.data(), out.data());
  }
  void conv2d_backward_filter(const ConvGeom& g, const BF16* x, const BF16* dy, float* dw,
                              float* dbias, bool accumulate) override {
    const std::vector<float> xv = widened(g.x_size(), x), dyv = widened(g.y_size(), dy);
    // The float32 sums (zeros before, so that accumulating into them, as dbias wants, writes them)
    // are stored as cuDNN stores a bf16 filter's gradient, rounded to bf16, then widened.
    std::vector<float> sums(size_t(g.w_size()));
    conv2d_backward_filter(g, xv.data(), dyv.data(), sums.data(), dbias, accumulate);
    std::vector<BF16> rounded(sums.size());
    cpu::round_to_bf16(g.w_size(), sums.data(), rounded.data());
    Accumulated w_out(g.w_size(), dw, accumulate);
    cpu::widen(g.w_size(), rounded.data(), w_out.data());
  }
  void batchnorm_forward_train(const BnGeom& g, const BF16* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, BF16* y, float* save_mean,
                               float* save_invstd) override {
    batchnorm_relu_train(g, x, nullptr, false, gamma, beta, eps, momentum, running_mean, running_var, y,
                         save_mean, save_invstd);
  }
  void batchnorm_forward_eval(const BnGeom& g, const BF16* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, float eps,
                              BF16* y) override {
    batchnorm_relu_eval(g, x, nullptr, false, gamma, beta, running_mean, running_var, eps, y);
  }
  void batchnorm_backward(const BnGeom& g, const BF16* x, const BF16* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float /*eps*/, BF16* dx,
                          float* dgamma, float* dbeta, bool accumulate) override {
    batchnorm_relu_grad(g, x, nullptr, dy, gamma, save_mean, save_invstd, dx, nullptr, dgamma, dbeta,
                        accumulate);
  }
  void batchnorm_relu_forward_train(const BnGeom& g, const BF16* x, const BF16* residual,
                                    const float* gamma, const float* beta, float eps, float momentum,
                                    float* running_mean, float* running_var, BF16* y, float* save_mean,
                                    float* save_invstd) override {
    batchnorm_relu_train(g, x, residual, true, gamma, beta, eps, momentum, running_mean, running_var, y,
                         save_mean, save_invstd);
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const BF16* x, const BF16* residual,
                                   const float* gamma, const float* beta, const float* running_mean,
                                   const float* running_var, float eps, BF16* y) override {
    batchnorm_relu_eval(g, x, residual, true, gamma, beta, running_mean, running_var, eps, y);
  }
  void batchnorm_relu_backward(const BnGeom& g, const BF16* x, const BF16* y, const BF16* dy,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               float /*eps*/, BF16* dx, BF16* dresidual, float* dgamma,
                               float* dbeta, bool accumulate) override {
    batchnorm_relu_grad(g, x, y, dy, gamma, save_mean, save_invstd, dx, dresidual, dgamma, dbeta,
                        accumulate);
  }
  void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y) override {
    const std::vector<float> xv = widened(g.x_size(), x);
    Rounded out(g.y_size(), y);
    cpu::maxpool_forward(g, xv.data(), out.data());
  }
  void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx) override {
    const std::vector<float> xv = widened(g.x_size(), x), dyv = widened(g.y_size(), dy);
    Rounded out(g.x_size(), dx);
    cpu::maxpool_backward(g, xv.data(), dyv.data(), out.data());
  }
  void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y) override {
    const std::vector<float> xv = widened(int64_t(n) * hw * c, x);
    cpu::global_avgpool_forward(n, hw, c, xv.data(), y);
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx) override {
    Rounded out(int64_t(n) * hw * c, dx);
    cpu::global_avgpool_backward(n, hw, c, dy, out.data());
  }

  void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                      float* y) override {
    cpu::linear_forward(n, in, out, x, w, b, y);
  }
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, bool accumulate) override {
    Accumulated w_out(int64_t(in) * out, dw, accumulate), b_out(out, db, accumulate);
    cpu::linear_backward(n, in, out, x, w, dy, dx, w_out.data(), b_out.data());
  }

  void softmax_forward(int64_t rows, int cols, const float* x, float* y) override {
    cpu::softmax_forward(rows, cols, x, y);
  }
  void softmax_backward(int64_t rows, int cols, const float* y, const float* dy,
                        float* dx) override {
    cpu::softmax_backward(rows, cols, y, dy, dx);
  }
  void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets,
                    float* loss, float* dlogits) override {
    cpu::softmax_xent(rows, cols, logits, targets, loss, dlogits);
  }
  void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                          const float* loss, double* totals, int64_t* confusion) override {
    cpu::accumulate_metrics(rows, cols, logits, labels, loss, totals, confusion);
  }

  void sgd_update(int64_t n, const SgdParams& p, float* param, const float* grad,
                  float* momentum_buf) override {
    cpu::sgd_update(n, p.lr, p.momentum, p.weight_decay, p.nesterov, param, grad, momentum_buf);
  }
  void adam_update(int64_t n, const AdamParams& p, float* param, const float* grad, float* m,
                   float* v) override {
    cpu::adam_update(n, p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled, p.step, param,
                     grad, m, v);
  }

  void augment_batch(const AugmentBatch& a, const uint8_t* images, const int64_t* indices,
                     float* out) override {
    check_augment_batch(a);
    check_indices("augment_batch", a.n, indices, a.count);
    cpu::augment_batch(a, images, indices, out);
  }
  void gather_rows(int64_t n, int cols, const float* table, int64_t rows, const int64_t* indices,
                   float* out) override {
    RF_CHECK(n >= 0 && cols > 0 && rows >= 0, "gather_rows: " << n << " rows of " << cols
                                                              << " from " << rows);
    check_indices("gather_rows", n, indices, rows);
    cpu::gather_rows(n, cols, table, indices, out);
  }

 private:
  // Batch norm (+ residual + ReLU when relu) on bf16 values; residual and y (the backward's mask)
  // may be null.
  void batchnorm_relu_train(const BnGeom& g, const BF16* x, const BF16* residual, bool relu,
                            const float* gamma, const float* beta, float eps, float momentum,
                            float* running_mean, float* running_var, BF16* y, float* save_mean,
                            float* save_invstd) {
    const int64_t n = g.rows() * g.c;
    const std::vector<float> xv = widened(n, x), rv = widened(n, residual);
    Rounded out(n, y);
    cpu::batchnorm_forward_train(g.rows(), g.c, xv.data(), gamma, beta, eps, momentum, ptr(rv), relu,
                                 running_mean, running_var, out.data(), save_mean, save_invstd);
  }
  void batchnorm_relu_eval(const BnGeom& g, const BF16* x, const BF16* residual, bool relu,
                           const float* gamma, const float* beta, const float* running_mean,
                           const float* running_var, float eps, BF16* y) {
    const int64_t n = g.rows() * g.c;
    const std::vector<float> xv = widened(n, x), rv = widened(n, residual);
    Rounded out(n, y);
    cpu::batchnorm_forward_eval(g.rows(), g.c, xv.data(), gamma, beta, running_mean, running_var, eps,
                                ptr(rv), relu, out.data());
  }
  void batchnorm_relu_grad(const BnGeom& g, const BF16* x, const BF16* y, const BF16* dy,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           BF16* dx, BF16* dresidual, float* dgamma, float* dbeta,
                           bool accumulate) {
    const int64_t n = g.rows() * g.c;
    const std::vector<float> xv = widened(n, x), yv = widened(n, y), dyv = widened(n, dy);
    Rounded dx_out(n, dx), dres_out(n, dresidual);
    cpu::batchnorm_backward(g.rows(), g.c, xv.data(), ptr(yv), dyv.data(), gamma, save_mean, save_invstd,
                            dx_out.data(), dres_out.data(), dgamma, dbeta, accumulate);
  }

  OnednnConv conv_;

  bool concurrency_ = false;
  bool joining_ = false;
  std::vector<std::function<void()>> held_;
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace rf
