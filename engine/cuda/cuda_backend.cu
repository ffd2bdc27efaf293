#include "engine/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "engine/cuda/cublas_check.h"
#include "engine/cuda/cudnn_batchnorm.h"
#include "engine/cuda/cudnn_check.h"
#include "engine/cuda/cudnn_conv.h"
#include "engine/cuda/single_tap_conv.h"
#include "engine/cuda/cuda_device_timer.h"
#include "engine/cuda/cuda_lane.h"
#include "engine/cuda/device_scratch.h"
#include "engine/cuda/step_graph.h"
#include "engine/cuda/stream_temporary.h"
#include "engine/cuda/upload_staging.h"
#include "kernels/cuda/batchnorm_relu.cuh"
#include "kernels/cuda/augment.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/gather.cuh"
#include "kernels/cuda/linear_bias.cuh"
#include "kernels/cuda/metrics.cuh"
#include "kernels/cuda/optimizers.cuh"
#include "kernels/cuda/pooling.cuh"
#include "kernels/cuda/softmax.cuh"
#include "kernels/cuda/softmax_xent.cuh"

namespace rf {
namespace {

// cudaFuncGetAttributes on it tells whether this binary carries code the device can run.
__global__ void probe_kernel() {}

// Sets the device's default memory pool to keep freed memory (rather than returning it to the
// driver at every synchronization, so steady-state training never reaches cudaMalloc) and creates
// the backend's main stream.
cudaStream_t create_stream() {
  int dev = 0;
  RF_CUDA_CHECK(cudaGetDevice(&dev));
  int pools = 0;
  RF_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, dev));
  RF_CHECK(pools != 0, "CUDA device " << dev << " does not support stream-ordered allocation");
  cudaMemPool_t pool = nullptr;
  RF_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
  uint64_t threshold = UINT64_MAX;
  RF_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  cudaStream_t stream = nullptr;
  RF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::CUDA; }
  CudaDeviceTimer& timer() { return timer_; }
  const char* name() const override { return "cuda"; }

  // ---- memory ----
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t e = cudaMallocAsync(&p, bytes, stream());
    if (e != cudaSuccess) {
      cudaGetLastError();  // reported here; keep it out of the next launch check
      if (e == cudaErrorMemoryAllocation)
        throw OutOfMemory(bytes, "CUDA allocation of " + std::to_string(bytes) + " bytes failed: " +
                                     cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
      RF_CHECK(false, "CUDA allocation of " << bytes << " bytes failed: " << cudaGetErrorName(e)
                                            << ": " << cudaGetErrorString(e));
    }
    return p;
  }
  void deallocate(void* p) override {
    if (p == nullptr) return;
    const cudaError_t e = cudaFreeAsync(p, stream());
    if (e == cudaErrorCudartUnloading) return;  // tensors outliving the runtime at exit
    RF_CUDA_CHECK(e);
  }
  // From concurrent work it reads through the side lane, which has waited for everything queued
  // on the main stream before the work was passed.
  void copy_to_host(void* dst_host, const void* src, size_t bytes) override {
    join_concurrent();
    if (bytes == 0) return;
    RF_CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, stream()));
    RF_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  // The caller may free or reuse the host buffer as soon as this returns, yet the transfer does
  // not wait for the GPU (see upload_staging.h): a training step's uploads cost no round trip.
  // The staging ring is ordered on the main stream only.
  void copy_from_host(void* dst, const void* src_host, size_t bytes) override {
    RF_CHECK(current_ == &main_,
             "copy_from_host called from work passed to run_concurrently: uploads are staged on "
             "the main stream, so the copy would not be ordered with the concurrent work; upload "
             "before passing the work");
    uploads_.copy(dst, src_host, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    RF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }
  // After the join the main stream waits for the side lane, so waiting for it waits for both.
  void synchronize() override {
    join_concurrent();
    RF_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  // Convolution plans are keyed by the policy, so algorithms found under one setting are never
  // used under another.
  void set_allow_tf32(bool allow) override {
    conv_policy_.tf32 = allow;
    apply_cublas_math();
  }
  // Only the convolutions have a choice to make. Our kernels (kernels/cuda, the fused batch norm
  // + ReLU included) reduce in a fixed order and use no atomics; cuDNN's plain batch norm is
  // deterministic (its reproducibility notes list only some convolution, pooling and CTC paths
  // as not); cuBLAS GEMMs repeat bitwise with atomics not allowed and, while two streams are
  // active, with a handle per stream (see cuda_lane.cpp).
  void set_deterministic(bool on) override { conv_policy_.deterministic = on; }

  // Work held from before the recording is joined first: the captured work cannot wait for
  // side-stream work queued outside the capture. Work passed to run_concurrently while recording
  // and still held when `work` returns is joined before the capture ends (an unjoined side stream
  // fails the capture), so the graph always ends with both branches joined. If that fails or
  // `work` throws, the side lane is joined into the (failing) capture and the held work dropped
  // inside it, as the rest of `work`'s tensors are, and the backend is left on its main lane.
  bool can_record() const override { return true; }
  std::unique_ptr<StepGraph> record(const std::function<void()>& work) override {
    join_concurrent();
    return record_cuda_graph(main_.stream(), [this, &work] {
      try {
        work();
        join_concurrent();
      } catch (...) {
        abandon_concurrent();
        throw;
      }
    });
  }

  // ---- concurrent work (backend.h): a side lane, forked from and joined back into the main
  // stream with events, so the graph of a recorded step has the same two branches ----
  void set_concurrency(bool on) override {
    join_concurrent();
    // The side lane is made here rather than at its first use, which may be inside a recording,
    // where creating library handles is not allowed.
    if (on && side_ == nullptr) make_side_lane();
    concurrency_ = on;
  }
  bool concurrency() const override { return concurrency_; }
  void run_concurrently(std::function<void()> work) override {
    if (!concurrency_ || current_ != &main_) {
      work();
      return;
    }
    // Room first, so that keeping `work` below cannot throw (grown geometrically: a backward
    // pass passes a few hundred).
    if (held_.size() == held_.capacity()) held_.reserve(std::max<size_t>(64, 2 * held_.size()));
    RF_CUDA_CHECK(cudaEventRecord(fork_, main_.stream()));
    RF_CUDA_CHECK(cudaStreamWaitEvent(side_->stream(), fork_, 0));
    current_ = side_.get();
    try {
      work();
    } catch (...) {
      // What it queued before throwing may still run: its tensors stay alive until the join.
      current_ = &main_;
      held_.push_back(std::move(work));
      throw;
    }
    current_ = &main_;
    held_.push_back(std::move(work));
  }
  // Called from concurrent work (copy_to_host there) it does nothing: the work is not held yet.
  // The held work is destroyed after the main stream's wait, so the memory its tensors free
  // (cudaFreeAsync on the main stream) is reused only after the side lane is done with it.
  void join_concurrent() override {
    if (held_.empty() || current_ != &main_) return;
    RF_CUDA_CHECK(cudaEventRecord(join_, side_->stream()));
    RF_CUDA_CHECK(cudaStreamWaitEvent(main_.stream(), join_, 0));
    std::vector<std::function<void()>> done;
    done.swap(held_);
  }

  // ---- elementwise ----
  void fill(int64_t n, float value, float* y) override { gpu::fill(n, value, y, stream()); }
  void add(int64_t n, const float* a, const float* b, float* y) override {
    gpu::add(n, a, b, y, stream());
  }
  void axpy(int64_t n, float alpha, const float* x, float* y) override {
    gpu::axpy(n, alpha, x, y, stream());
  }
  void scale(int64_t n, float alpha, const float* x, float* y) override {
    gpu::scale(n, alpha, x, y, stream());
  }
  void scale_by(int64_t n, const float* alpha, const float* x, float* y) override {
    gpu::scale_by(n, alpha, x, y, stream());
  }
  void relu_forward(int64_t n, const float* x, float* y) override {
    gpu::relu_forward(n, x, y, stream());
  }
  void relu_backward(int64_t n, const float* y, const float* dy, float* dx) override {
    gpu::relu_backward(n, y, dy, dx, stream());
  }

  // ---- convolution: cuDNN, or cuBLAS where a single filter tap meets the input (a 1x1 input
  // and output: engine/cuda/single_tap_conv.h); the bias is a row broadcast / column sum over the
  // NHWC output, which is a row-major [n*p*q, k] matrix ----
  void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                      float* y) override {
    if (g.single_tap())
      single_tap_forward(cublas(), g, x, w, y);
    else
      conv_.forward(cudnn(), workspace(), g, conv_policy_, x, w, y);
    if (bias != nullptr) gpu::bias_add(int64_t(g.n) * g.p() * g.q(), g.k, bias, y, stream());
  }
  void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w,
                            float* dx) override {
    if (g.single_tap())
      single_tap_backward_data(cublas(), g, dy, w, dx);
    else
      conv_.backward_data(cudnn(), workspace(), g, conv_policy_, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                              float* dbias, bool accumulate) override {
    if (dw != nullptr && g.single_tap())
      single_tap_backward_filter(cublas(), g, x, dy, dw, accumulate);
    else if (dw != nullptr)
      conv_.backward_filter(cudnn(), workspace(), g, conv_policy_, x, dy, dw, accumulate);
    if (dbias != nullptr) column_sums(int64_t(g.n) * g.p() * g.q(), g.k, dy, dbias, accumulate);
  }

  // ---- plain batch norm: cuDNN ----
  void batchnorm_forward_train(const BnGeom& g, const float* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, float* y, float* save_mean,
                               float* save_invstd) override {
    cudnn_batchnorm_forward_train(cudnn(), g, x, gamma, beta, eps, momentum, running_mean,
                                  running_var, y, save_mean, save_invstd);
  }
  void batchnorm_forward_eval(const BnGeom& g, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, float* y) override {
    cudnn_batchnorm_forward_eval(cudnn(), g, x, gamma, beta, running_mean, running_var, eps, y);
  }
  void batchnorm_backward(const BnGeom& g, const float* x, const float* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float eps, float* dx,
                          float* dgamma, float* dbeta, bool accumulate) override {
    cudnn_batchnorm_backward(cudnn(), g, x, dy, gamma, save_mean, save_invstd, eps, dx, dgamma,
                             dbeta, accumulate);
  }

  // ---- batch norm + residual add + ReLU: our fused kernels (kernels/cuda/batchnorm_relu.cu),
  // one read of each input and one write of each output after the statistics ----
  void batchnorm_relu_forward_train(const BnGeom& g, const float* x, const float* residual,
                                    const float* gamma, const float* beta, float eps,
                                    float momentum, float* running_mean, float* running_var,
                                    float* y, float* save_mean, float* save_invstd) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_forward_train(g.rows(), g.c, x, residual, gamma, beta, eps, momentum,
                                      running_mean, running_var, y, save_mean, save_invstd,
                                      partials, stream());
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const float* x, const float* residual,
                                   const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float eps,
                                   float* y) override {
    gpu::batchnorm_relu_forward_eval(g.rows(), g.c, x, residual, gamma, beta, running_mean,
                                     running_var, eps, y, stream());
  }
  void batchnorm_relu_backward(const BnGeom& g, const float* x, const float* y, const float* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float /*eps*/, float* dx,
                               float* dresidual, float* dgamma, float* dbeta,
                               bool accumulate) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_backward(g.rows(), g.c, x, y, dy, gamma, save_mean, save_invstd, dx,
                                 dresidual, dgamma, dbeta, accumulate, partials, stream());
  }

  // ---- pooling ----
  void maxpool_forward(const PoolGeom& g, const float* x, float* y) override {
    gpu::maxpool_forward(g, x, y, stream());
  }
  void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) override {
    gpu::maxpool_backward(g, x, dy, dx, stream());
  }
  void global_avgpool_forward(int n, int hw, int c, const float* x, float* y) override {
    gpu::global_avgpool_forward(n, hw, c, x, y, stream());
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx) override {
    gpu::global_avgpool_backward(n, hw, c, dy, dx, stream());
  }

  // ---- bf16 activations: the kernels above on bf16 storage (templated on it: the same
  // arithmetic, each stored element rounded once) and cuDNN with bf16 tensors. The plain batch
  // norm runs the fused kernels without residual and ReLU rather than cuDNN's, so that every bf16
  // batch norm computes its statistics as the CPU reference does (double sums) ----
  void cast(int64_t n, const float* x, BF16* y) override { gpu::cast(n, x, y, stream()); }
  void cast(int64_t n, const BF16* x, float* y) override { gpu::cast(n, x, y, stream()); }
  void add(int64_t n, const BF16* a, const BF16* b, BF16* y) override {
    gpu::add(n, a, b, y, stream());
  }
  void relu_forward(int64_t n, const BF16* x, BF16* y) override {
    gpu::relu_forward(n, x, y, stream());
  }
  void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx) override {
    gpu::relu_backward(n, y, dy, dx, stream());
  }
  void conv2d_forward(const ConvGeom& g, const BF16* x, const BF16* w, const float* bias,
                      BF16* y) override {
    if (g.single_tap())
      single_tap_forward(cublas(), g, x, w, y);
    else
      conv_.forward(cudnn(), workspace(), g, conv_policy_, x, w, y);
    if (bias != nullptr) gpu::bias_add(int64_t(g.n) * g.p() * g.q(), g.k, bias, y, stream());
  }
  void conv2d_backward_data(const ConvGeom& g, const BF16* dy, const BF16* w,
                            BF16* dx) override {
    if (g.single_tap())
      single_tap_backward_data(cublas(), g, dy, w, dx);
    else
      conv_.backward_data(cudnn(), workspace(), g, conv_policy_, dy, w, dx);
  }
  // The filter gradient is computed in bf16, as cuDNN stores it, into a temporary, then widened
  // into (or added to) the float32 gradient in one pass.
  void conv2d_backward_filter(const ConvGeom& g, const BF16* x, const BF16* dy, float* dw,
                              float* dbias, bool accumulate) override {
    if (dw != nullptr) {
      const StreamTemporary rounded(stream(), sizeof(BF16) * size_t(g.w_size()));
      BF16* t = static_cast<BF16*>(rounded.data());
      if (g.single_tap())
        single_tap_backward_filter(cublas(), g, x, dy, t);
      else
        conv_.backward_filter(cudnn(), workspace(), g, conv_policy_, x, dy, t);
      gpu::widen_add(g.w_size(), t, dw, accumulate, stream());
    }
    if (dbias != nullptr) column_sums(int64_t(g.n) * g.p() * g.q(), g.k, dy, dbias, accumulate);
  }
  void batchnorm_forward_train(const BnGeom& g, const BF16* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, BF16* y, float* save_mean,
                               float* save_invstd) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_forward_train(g.rows(), g.c, x, gamma, beta, eps, momentum, running_mean,
                                 running_var, y, save_mean, save_invstd, partials, stream());
  }
  void batchnorm_forward_eval(const BnGeom& g, const BF16* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, BF16* y) override {
    gpu::batchnorm_forward_eval(g.rows(), g.c, x, gamma, beta, running_mean, running_var, eps, y,
                                stream());
  }
  void batchnorm_backward(const BnGeom& g, const BF16* x, const BF16* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float /*eps*/,
                          BF16* dx, float* dgamma, float* dbeta, bool accumulate) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_backward(g.rows(), g.c, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                            dbeta, accumulate, partials, stream());
  }
  void batchnorm_relu_forward_train(const BnGeom& g, const BF16* x, const BF16* residual,
                                    const float* gamma, const float* beta, float eps,
                                    float momentum, float* running_mean, float* running_var,
                                    BF16* y, float* save_mean, float* save_invstd) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_forward_train(g.rows(), g.c, x, residual, gamma, beta, eps, momentum,
                                      running_mean, running_var, y, save_mean, save_invstd,
                                      partials, stream());
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const BF16* x, const BF16* residual,
                                   const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float eps,
                                   BF16* y) override {
    gpu::batchnorm_relu_forward_eval(g.rows(), g.c, x, residual, gamma, beta, running_mean,
                                     running_var, eps, y, stream());
  }
  void batchnorm_relu_backward(const BnGeom& g, const BF16* x, const BF16* y, const BF16* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float /*eps*/, BF16* dx,
                               BF16* dresidual, float* dgamma, float* dbeta,
                               bool accumulate) override {
    void* partials = scratch().get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_backward(g.rows(), g.c, x, y, dy, gamma, save_mean, save_invstd, dx,
                                 dresidual, dgamma, dbeta, accumulate, partials, stream());
  }
  void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y) override {
    gpu::maxpool_forward(g, x, y, stream());
  }
  void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx) override {
    gpu::maxpool_backward(g, x, dy, dx, stream());
  }
  void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y) override {
    gpu::global_avgpool_forward(n, hw, c, x, y, stream());
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx) override {
    gpu::global_avgpool_backward(n, hw, c, dy, dx, stream());
  }

  // ---- linear: cuBLAS (column-major). A row-major [r, c] matrix is, to cuBLAS, a column-major
  // c x r matrix with leading dimension c: the transpose. So with X = x^T (in x n, ld in),
  // W = w^T (in x out, ld in), Y = y^T (out x n, ld out), dY = dy^T (out x n, ld out):
  //   y  = x w^T   <=>  Y   = W^T X       : gemm(T, N, m=out, n=n,   k=in,  W, X)
  //   dx = dy w    <=>  dX  = W dY        : gemm(N, N, m=in,  n=n,   k=out, W, dY)
  //   dw = dy^T x  <=>  dW  = X dY^T      : gemm(N, T, m=in,  n=out, k=n,   X, dY)
  void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                      float* y) override {
    RF_CHECK(n >= 0 && in > 0 && out > 0, "linear: invalid sizes " << n << ", " << in << ", "
                                                                    << out);
    if (n == 0) return;
    const float one = 1.f, zero = 0.f;
    RF_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x, in,
                                &zero, y, out));
    if (b != nullptr) gpu::bias_add(n, out, b, y, stream());
  }
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, bool accumulate) override {
    RF_CHECK(n >= 0 && in > 0 && out > 0, "linear: invalid sizes " << n << ", " << in << ", "
                                                                    << out);
    const float one = 1.f, zero = 0.f;
    if (dx != nullptr && n > 0)
      RF_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy,
                                  out, &zero, dx, in));
    if (dw != nullptr) {
      if (n > 0)
        RF_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in,
                                    dy, out, accumulate ? &one : &zero, dw, in));
      else if (!accumulate)
        gpu::fill(int64_t(out) * in, 0.f, dw, stream());  // an empty sum
    }
    if (db != nullptr) column_sums(n, out, dy, db, accumulate);
  }

  // ---- softmax ----
  void softmax_forward(int64_t rows, int cols, const float* x, float* y) override {
    gpu::softmax_forward(rows, cols, x, y, stream());
  }
  void softmax_backward(int64_t rows, int cols, const float* y, const float* dy,
                        float* dx) override {
    gpu::softmax_backward(rows, cols, y, dy, dx, stream());
  }
  void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets,
                    float* loss, float* dlogits) override {
    RF_CHECK(rows > 0 && cols > 0, "softmax_xent: empty input " << rows << " x " << cols);
    void* partials = scratch().get(gpu::softmax_xent_scratch_bytes(rows, cols));
    gpu::softmax_xent(rows, cols, logits, targets, loss, dlogits, partials, stream());
  }

  void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                          const float* loss, double* totals, int64_t* confusion) override {
    gpu::accumulate_metrics(rows, cols, logits, labels, loss, totals, confusion, stream());
  }

  // ---- optimizers ----
  void sgd_update(int64_t n, const SgdParams& p, float* param, const float* grad,
                  float* momentum_buf) override {
    RF_CHECK(momentum_buf != nullptr || p.momentum == 0.f,
             "sgd: momentum " << p.momentum << " needs a velocity buffer");
    const gpu::SgdStep s{p.lr, p.momentum, p.weight_decay, p.nesterov};
    gpu::sgd_update(n, s, param, grad, momentum_buf, stream());
  }
  void adam_update(int64_t n, const AdamParams& p, float* param, const float* grad, float* m,
                   float* v) override {
    RF_CHECK(p.step >= 1, "adam: step " << p.step << " (it is 1-based)");
    const gpu::AdamStep s =
        gpu::adam_step(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled, p.step);
    gpu::adam_update(n, s, param, grad, m, v, stream());
  }

  // ---- data: indices are checked by the callers, on the host (see backend.h) ----
  void augment_batch(const AugmentBatch& a, const uint8_t* images, const int64_t* indices,
                     float* out) override {
    check_augment_batch(a);
    gpu::augment_batch(a, images, indices, out, stream());
  }
  void gather_rows(int64_t n, int cols, const float* table, int64_t rows, const int64_t* indices,
                   float* out) override {
    RF_CHECK(n >= 0 && cols > 0 && rows >= 0, "gather_rows: " << n << " rows of " << cols
                                                              << " from " << rows);
    gpu::gather_rows(n, cols, table, rows, indices, out, stream());
  }

 private:
  // The lane that ops queue on: the side lane while work passed to run_concurrently runs, else
  // the main one.
  cudaStream_t stream() { return current_->stream(); }
  cudnnHandle_t cudnn() { return current_->cudnn(); }
  cublasHandle_t cublas() { return current_->cublas(conv_policy_.tf32); }
  DeviceScratch& workspace() { return current_->workspace(); }
  DeviceScratch& scratch() { return current_->scratch(); }

  void apply_cublas_math() {
    main_.set_cublas_math(conv_policy_.tf32);
    if (side_ != nullptr) side_->set_cublas_math(conv_policy_.tf32);
  }

  // The handles are made now, not on first use, in case that use is inside a recording.
  void make_side_lane() {
    cudaStream_t stream = nullptr;
    RF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    auto side = std::make_unique<CudaLane>(stream);
    side->cudnn();
    side->cublas(conv_policy_.tf32);
    // Only the order of records and waits matters, never a time.
    RF_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
    RF_CUDA_CHECK(cudaEventCreateWithFlags(&join_, cudaEventDisableTiming));
    side_ = std::move(side);
  }

  // After recorded work threw: the main stream waits for the side lane (errors ignored: the
  // capture may be invalidated already, and the work's own error is the one to report), then
  // the held work is dropped.
  void abandon_concurrent() {
    current_ = &main_;
    if (held_.empty()) return;
    if (cudaEventRecord(join_, side_->stream()) == cudaSuccess)
      cudaStreamWaitEvent(main_.stream(), join_, 0);
    cudaGetLastError();
    std::vector<std::function<void()>> dropped;
    dropped.swap(held_);
  }

  template <class T>
  void column_sums(int64_t rows, int cols, const T* x, float* out, bool accumulate) {
    void* partial = scratch().get(gpu::column_sums_scratch_bytes(rows, cols));
    gpu::column_sums(rows, cols, x, out, accumulate, partial, stream());
  }

  CudaLane main_{create_stream()};
  std::unique_ptr<CudaLane> side_;  // made when concurrency is first turned on
  CudaLane* current_ = &main_;      // ops are queued from one thread
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
  bool concurrency_ = false;
  // Work passed to run_concurrently and not yet joined: kept for the tensors it captured.
  std::vector<std::function<void()>> held_;
  ConvPolicy conv_policy_;  // TF32 allowed, fastest algorithms; its tf32 also sets cuBLAS's math
  CudnnConv conv_;          // plans are shared by the lanes: they hold no handle or stream
  UploadStaging uploads_{main_.stream()};
  CudaDeviceTimer timer_{main_.stream()};  // the profiler's (see cuda_backend_timer)
};

CudaBackend& instance() {
  // Never destroyed: tensors may outlive any static destructor, and tearing down streams and
  // handles while the CUDA runtime unloads at exit is an error in itself.
  static CudaBackend* const instance = new CudaBackend();
  return *instance;
}

}  // namespace

bool cuda_probe(std::string* why_not) {
  const auto fail = [why_not](const std::string& why) {
    if (why_not != nullptr) *why_not = why;
    return false;
  };
  try {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count == 0) return fail("no CUDA device found");
    if (e == cudaSuccess) e = cudaFree(nullptr);  // creates the context: catches driver problems
    cudaFuncAttributes attr{};
    if (e == cudaSuccess) e = cudaFuncGetAttributes(&attr, probe_kernel);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction)
        return fail(std::string("this binary has no code for the CUDA device (") +
                    cudaGetErrorString(e) + "); rebuild with its CMAKE_CUDA_ARCHITECTURES");
      return fail(std::string("CUDA unavailable: ") + cudaGetErrorString(e));
    }
    return true;
  } catch (...) {
    return fail("CUDA probe failed");
  }
}

Backend& cuda_backend_instance() { return instance(); }

profiler::DeviceTimer& cuda_backend_timer() { return instance().timer(); }

void* cuda_pinned_alloc(size_t bytes) {
  void* p = nullptr;
  RF_CUDA_CHECK(cudaMallocHost(&p, bytes));
  return p;
}

void cuda_pinned_free(void* p) {
  if (p == nullptr) return;
  const cudaError_t e = cudaFreeHost(p);
  if (e == cudaErrorCudartUnloading) return;
  RF_CUDA_CHECK(e);
}

std::string cuda_device_description() {
  int dev = 0, driver = 0, runtime = 0;
  RF_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  RF_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  RF_CUDA_CHECK(cudaDriverGetVersion(&driver));
  RF_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  int blas[3] = {};
  RF_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &blas[0]));
  RF_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &blas[1]));
  RF_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &blas[2]));
  const size_t dnn = cudnnGetVersion();  // major * 10000 + minor * 100 + patch
  std::ostringstream os;
  os << prop.name << " (sm_" << prop.major << prop.minor << ", " << prop.multiProcessorCount
     << " SMs, " << double(prop.totalGlobalMem) / double(1ull << 30) << " GiB), driver "
     << driver / 1000 << "." << driver % 1000 / 10 << ", runtime " << runtime / 1000 << "."
     << runtime % 1000 / 10 << ", cuBLAS " << blas[0] << "." << blas[1] << "." << blas[2]
     << ", cuDNN " << dnn / 10000 << "." << dnn % 10000 / 100 << "." << dnn % 100;
  return os.str();
}

}  // namespace rf
