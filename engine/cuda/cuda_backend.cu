#include "engine/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "engine/check.h"
#include "engine/cuda/cublas_check.h"
#include "engine/cuda/cudnn_batchnorm.h"
#include "engine/cuda/cudnn_check.h"
#include "engine/cuda/cudnn_conv.h"
#include "engine/cuda/cuda_device_timer.h"
#include "engine/cuda/device_scratch.h"
#include "engine/cuda/step_graph.h"
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
// the backend's stream.
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
    const cudaError_t e = cudaMallocAsync(&p, bytes, stream_);
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
    const cudaError_t e = cudaFreeAsync(p, stream_);
    if (e == cudaErrorCudartUnloading) return;  // tensors outliving the runtime at exit
    RF_CUDA_CHECK(e);
  }
  void copy_to_host(void* dst_host, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    RF_CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, stream_));
    RF_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  // The caller may free or reuse the host buffer as soon as this returns, yet the transfer does
  // not wait for the GPU (see upload_staging.h): a training step's uploads cost no round trip.
  void copy_from_host(void* dst, const void* src_host, size_t bytes) override {
    uploads_.copy(dst, src_host, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    RF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() override { RF_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // Convolution plans are keyed by the policy, so algorithms found under one setting are never
  // used under another.
  void set_allow_tf32(bool allow) override {
    conv_policy_.tf32 = allow;
    if (cublas_ != nullptr) apply_cublas_math();
  }
  // Only the convolutions have a choice to make. Our kernels (kernels/cuda, the fused batch norm
  // + ReLU included) reduce in a fixed order and use no atomics; cuDNN's plain batch norm is
  // deterministic (its reproducibility notes list only some convolution, pooling and CTC paths
  // as not); cuBLAS GEMMs repeat bitwise on one stream with atomics not allowed (see cublas()).
  void set_deterministic(bool on) override { conv_policy_.deterministic = on; }

  bool can_record() const override { return true; }
  std::unique_ptr<StepGraph> record(const std::function<void()>& work) override {
    return record_cuda_graph(stream_, work);
  }

  // ---- elementwise ----
  void fill(int64_t n, float value, float* y) override { gpu::fill(n, value, y, stream_); }
  void add(int64_t n, const float* a, const float* b, float* y) override {
    gpu::add(n, a, b, y, stream_);
  }
  void axpy(int64_t n, float alpha, const float* x, float* y) override {
    gpu::axpy(n, alpha, x, y, stream_);
  }
  void scale(int64_t n, float alpha, const float* x, float* y) override {
    gpu::scale(n, alpha, x, y, stream_);
  }
  void scale_by(int64_t n, const float* alpha, const float* x, float* y) override {
    gpu::scale_by(n, alpha, x, y, stream_);
  }
  void relu_forward(int64_t n, const float* x, float* y) override {
    gpu::relu_forward(n, x, y, stream_);
  }
  void relu_backward(int64_t n, const float* y, const float* dy, float* dx) override {
    gpu::relu_backward(n, y, dy, dx, stream_);
  }

  // ---- convolution: cuDNN; the bias is a row broadcast / column sum over the NHWC output,
  // which is a row-major [n*p*q, k] matrix ----
  void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                      float* y) override {
    conv_.forward(cudnn(), workspace_, g, conv_policy_, x, w, y);
    if (bias != nullptr) gpu::bias_add(int64_t(g.n) * g.p() * g.q(), g.k, bias, y, stream_);
  }
  void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w,
                            float* dx) override {
    conv_.backward_data(cudnn(), workspace_, g, conv_policy_, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                              float* dbias) override {
    if (dw != nullptr) conv_.backward_filter(cudnn(), workspace_, g, conv_policy_, x, dy, dw);
    if (dbias != nullptr) column_sums(int64_t(g.n) * g.p() * g.q(), g.k, dy, dbias);
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
                          float* dgamma, float* dbeta) override {
    cudnn_batchnorm_backward(cudnn(), g, x, dy, gamma, save_mean, save_invstd, eps, dx, dgamma,
                             dbeta);
  }

  // ---- batch norm + residual add + ReLU: our fused kernels (kernels/cuda/batchnorm_relu.cu),
  // one read of each input and one write of each output after the statistics ----
  void batchnorm_relu_forward_train(const BnGeom& g, const float* x, const float* residual,
                                    const float* gamma, const float* beta, float eps,
                                    float momentum, float* running_mean, float* running_var,
                                    float* y, float* save_mean, float* save_invstd) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_forward_train(g.rows(), g.c, x, residual, gamma, beta, eps, momentum,
                                      running_mean, running_var, y, save_mean, save_invstd,
                                      partials, stream_);
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const float* x, const float* residual,
                                   const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float eps,
                                   float* y) override {
    gpu::batchnorm_relu_forward_eval(g.rows(), g.c, x, residual, gamma, beta, running_mean,
                                     running_var, eps, y, stream_);
  }
  void batchnorm_relu_backward(const BnGeom& g, const float* x, const float* y, const float* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float /*eps*/, float* dx,
                               float* dresidual, float* dgamma, float* dbeta) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_backward(g.rows(), g.c, x, y, dy, gamma, save_mean, save_invstd, dx,
                                 dresidual, dgamma, dbeta, partials, stream_);
  }

  // ---- pooling ----
  void maxpool_forward(const PoolGeom& g, const float* x, float* y) override {
    gpu::maxpool_forward(g, x, y, stream_);
  }
  void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) override {
    gpu::maxpool_backward(g, x, dy, dx, stream_);
  }
  void global_avgpool_forward(int n, int hw, int c, const float* x, float* y) override {
    gpu::global_avgpool_forward(n, hw, c, x, y, stream_);
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx) override {
    gpu::global_avgpool_backward(n, hw, c, dy, dx, stream_);
  }

  // ---- bf16 activations: the kernels above on bf16 storage (templated on it: the same
  // arithmetic, each stored element rounded once) and cuDNN with bf16 tensors. The plain batch
  // norm runs the fused kernels without residual and ReLU rather than cuDNN's, so that every bf16
  // batch norm computes its statistics as the CPU reference does (double sums) ----
  void cast(int64_t n, const float* x, BF16* y) override { gpu::cast(n, x, y, stream_); }
  void cast(int64_t n, const BF16* x, float* y) override { gpu::cast(n, x, y, stream_); }
  void add(int64_t n, const BF16* a, const BF16* b, BF16* y) override {
    gpu::add(n, a, b, y, stream_);
  }
  void relu_forward(int64_t n, const BF16* x, BF16* y) override {
    gpu::relu_forward(n, x, y, stream_);
  }
  void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx) override {
    gpu::relu_backward(n, y, dy, dx, stream_);
  }
  void conv2d_forward(const ConvGeom& g, const BF16* x, const BF16* w, const float* bias,
                      BF16* y) override {
    conv_.forward(cudnn(), workspace_, g, conv_policy_, x, w, y);
    if (bias != nullptr) gpu::bias_add(int64_t(g.n) * g.p() * g.q(), g.k, bias, y, stream_);
  }
  void conv2d_backward_data(const ConvGeom& g, const BF16* dy, const BF16* w,
                            BF16* dx) override {
    conv_.backward_data(cudnn(), workspace_, g, conv_policy_, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvGeom& g, const BF16* x, const BF16* dy, BF16* dw,
                              float* dbias) override {
    if (dw != nullptr) conv_.backward_filter(cudnn(), workspace_, g, conv_policy_, x, dy, dw);
    if (dbias != nullptr) column_sums(int64_t(g.n) * g.p() * g.q(), g.k, dy, dbias);
  }
  void batchnorm_forward_train(const BnGeom& g, const BF16* x, const float* gamma,
                               const float* beta, float eps, float momentum, float* running_mean,
                               float* running_var, BF16* y, float* save_mean,
                               float* save_invstd) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_forward_train(g.rows(), g.c, x, gamma, beta, eps, momentum, running_mean,
                                 running_var, y, save_mean, save_invstd, partials, stream_);
  }
  void batchnorm_forward_eval(const BnGeom& g, const BF16* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, BF16* y) override {
    gpu::batchnorm_forward_eval(g.rows(), g.c, x, gamma, beta, running_mean, running_var, eps, y,
                                stream_);
  }
  void batchnorm_backward(const BnGeom& g, const BF16* x, const BF16* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, float /*eps*/,
                          BF16* dx, float* dgamma, float* dbeta) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_backward(g.rows(), g.c, x, dy, gamma, save_mean, save_invstd, dx, dgamma,
                            dbeta, partials, stream_);
  }
  void batchnorm_relu_forward_train(const BnGeom& g, const BF16* x, const BF16* residual,
                                    const float* gamma, const float* beta, float eps,
                                    float momentum, float* running_mean, float* running_var,
                                    BF16* y, float* save_mean, float* save_invstd) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_forward_train(g.rows(), g.c, x, residual, gamma, beta, eps, momentum,
                                      running_mean, running_var, y, save_mean, save_invstd,
                                      partials, stream_);
  }
  void batchnorm_relu_forward_eval(const BnGeom& g, const BF16* x, const BF16* residual,
                                   const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float eps,
                                   BF16* y) override {
    gpu::batchnorm_relu_forward_eval(g.rows(), g.c, x, residual, gamma, beta, running_mean,
                                     running_var, eps, y, stream_);
  }
  void batchnorm_relu_backward(const BnGeom& g, const BF16* x, const BF16* y, const BF16* dy,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, float /*eps*/, BF16* dx,
                               BF16* dresidual, float* dgamma, float* dbeta) override {
    void* partials = scratch_.get(gpu::batchnorm_relu_scratch_bytes(g.rows(), g.c));
    gpu::batchnorm_relu_backward(g.rows(), g.c, x, y, dy, gamma, save_mean, save_invstd, dx,
                                 dresidual, dgamma, dbeta, partials, stream_);
  }
  void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y) override {
    gpu::maxpool_forward(g, x, y, stream_);
  }
  void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx) override {
    gpu::maxpool_backward(g, x, dy, dx, stream_);
  }
  void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y) override {
    gpu::global_avgpool_forward(n, hw, c, x, y, stream_);
  }
  void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx) override {
    gpu::global_avgpool_backward(n, hw, c, dy, dx, stream_);
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
    if (b != nullptr) gpu::bias_add(n, out, b, y, stream_);
  }
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db) override {
    RF_CHECK(n >= 0 && in > 0 && out > 0, "linear: invalid sizes " << n << ", " << in << ", "
                                                                    << out);
    const float one = 1.f, zero = 0.f;
    if (dx != nullptr && n > 0)
      RF_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy,
                                  out, &zero, dx, in));
    if (dw != nullptr) {
      if (n > 0)
        RF_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in,
                                    dy, out, &zero, dw, in));
      else
        gpu::fill(int64_t(out) * in, 0.f, dw, stream_);  // an empty sum
    }
    if (db != nullptr) column_sums(n, out, dy, db);
  }

  // ---- softmax ----
  void softmax_forward(int64_t rows, int cols, const float* x, float* y) override {
    gpu::softmax_forward(rows, cols, x, y, stream_);
  }
  void softmax_backward(int64_t rows, int cols, const float* y, const float* dy,
                        float* dx) override {
    gpu::softmax_backward(rows, cols, y, dy, dx, stream_);
  }
  void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets,
                    float* loss, float* dlogits) override {
    RF_CHECK(rows > 0 && cols > 0, "softmax_xent: empty input " << rows << " x " << cols);
    void* partials = scratch_.get(gpu::softmax_xent_scratch_bytes(rows, cols));
    gpu::softmax_xent(rows, cols, logits, targets, loss, dlogits, partials, stream_);
  }

  void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                          const float* loss, double* totals, int64_t* confusion) override {
    gpu::accumulate_metrics(rows, cols, logits, labels, loss, totals, confusion, stream_);
  }

  // ---- optimizers ----
  void sgd_update(int64_t n, const SgdParams& p, float* param, const float* grad,
                  float* momentum_buf) override {
    RF_CHECK(momentum_buf != nullptr || p.momentum == 0.f,
             "sgd: momentum " << p.momentum << " needs a velocity buffer");
    const gpu::SgdStep s{p.lr, p.momentum, p.weight_decay, p.nesterov};
    gpu::sgd_update(n, s, param, grad, momentum_buf, stream_);
  }
  void adam_update(int64_t n, const AdamParams& p, float* param, const float* grad, float* m,
                   float* v) override {
    RF_CHECK(p.step >= 1, "adam: step " << p.step << " (it is 1-based)");
    const gpu::AdamStep s =
        gpu::adam_step(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled, p.step);
    gpu::adam_update(n, s, param, grad, m, v, stream_);
  }

  // ---- data: indices are checked by the callers, on the host (see backend.h) ----
  void augment_batch(const AugmentBatch& a, const uint8_t* images, const int64_t* indices,
                     float* out) override {
    check_augment_batch(a);
    gpu::augment_batch(a, images, indices, out, stream_);
  }
  void gather_rows(int64_t n, int cols, const float* table, int64_t rows, const int64_t* indices,
                   float* out) override {
    RF_CHECK(n >= 0 && cols > 0 && rows >= 0, "gather_rows: " << n << " rows of " << cols
                                                              << " from " << rows);
    gpu::gather_rows(n, cols, table, rows, indices, out, stream_);
  }

 private:
  cudnnHandle_t cudnn() {
    if (cudnn_ == nullptr) {
      RF_CUDNN_CHECK(cudnnCreate(&cudnn_));
      RF_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    }
    return cudnn_;
  }

  cublasHandle_t cublas() {
    if (cublas_ == nullptr) {
      RF_CUBLAS_CHECK(cublasCreate(&cublas_));
      RF_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
      RF_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
      // cuBLAS's default, made explicit: with atomics not allowed its routines give the same
      // bits on every run on one device and stream (cuBLAS documentation, "Results
      // reproducibility"); --deterministic relies on it.
      RF_CUBLAS_CHECK(cublasSetAtomicsMode(cublas_, CUBLAS_ATOMICS_NOT_ALLOWED));
      apply_cublas_math();
    }
    return cublas_;
  }

  // CUBLAS_DEFAULT_MATH computes fp32 GEMMs in full fp32; TF32 tensor cores only when allowed.
  void apply_cublas_math() {
    RF_CUBLAS_CHECK(cublasSetMathMode(
        cublas_, conv_policy_.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }

  template <class T>
  void column_sums(int64_t rows, int cols, const T* x, float* out) {
    void* partial = scratch_.get(gpu::column_sums_scratch_bytes(rows, cols));
    gpu::column_sums(rows, cols, x, out, partial, stream_);
  }

  cudaStream_t stream_ = create_stream();
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  ConvPolicy conv_policy_;  // TF32 allowed, fastest algorithms; its tf32 also sets cuBLAS's math
  DeviceScratch workspace_{stream_};  // cuDNN convolution workspace
  DeviceScratch scratch_{stream_};    // partial sums of our reductions
  CudnnConv conv_;
  UploadStaging uploads_{stream_};
  CudaDeviceTimer timer_{stream_};  // the profiler's (see cuda_backend_timer)
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
