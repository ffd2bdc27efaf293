#pragma once
// One interface, two implementations (CPU and CUDA). Every op of the engine is a method here that
// works on raw device pointers and sizes; the tensor and autograd layers above never know which
// backend runs. CUDA methods are asynchronous on the backend's stream: results are visible to the
// host only through copy_to_host (which synchronizes).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/device.h"
#include "kernels/augment_spec.h"
#include "kernels/bfloat16.h"
#include "kernels/shapes.h"

namespace rf {

struct SgdParams {
  float lr = 0.01f, momentum = 0.9f, weight_decay = 0.f;
  bool nesterov = false;
};

struct AdamParams {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f, weight_decay = 0.f;
  bool decoupled = false;  // true: AdamW (decay applied to the weights, not added to the gradient)
  int step = 1;            // 1-based step count, for bias correction
};

// Device work recorded once (a CUDA graph) and launched again and again at the cost of one launch.
class StepGraph {
 public:
  virtual ~StepGraph() = default;
  virtual void launch() = 0;
  // True once the backend moved a buffer the recorded work uses (a scratch buffer grew for a
  // larger op since): the work must be recorded again.
  virtual bool stale() const = 0;
  // The kernels one launch runs: how finely the recorded work is cut (each costs a few
  // microseconds however small), the count that fusing ops brings down.
  virtual int64_t kernels() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual const char* name() const = 0;

  // ---- memory ----
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p) = 0;
  virtual void copy_to_host(void* dst_host, const void* src, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src_host, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // both on this backend
  virtual void synchronize() = 0;
  // Tensor-core TF32 math for convolutions and GEMMs (CUDA only; tests turn it off).
  virtual void set_allow_tf32(bool) {}
  // Bitwise-repeatable results from run to run (CUDA only: the CPU backend always is, for a
  // given thread count). On: convolution algorithms that cuDNN marks deterministic, chosen by
  // its heuristic ranking rather than by timing. Off (the default): the fastest measured.
  virtual void set_deterministic(bool) {}

  // ---- step graphs ----
  // Records the device work that `record` queues on this backend, without running it, so it can
  // be replayed. `record` must free what it allocates and may not copy from or to the host (the
  // recording fails with CUDA's error if it does); every buffer it uses from outside must stay
  // where it is while the graph is replayed. Run the same work once before recording it, so that
  // cuDNN has chosen its algorithms and scratch buffers have their size. Only the CUDA backend
  // records; the others throw.
  virtual bool can_record() const { return false; }
  virtual std::unique_ptr<StepGraph> record(const std::function<void()>& work);

  // ---- concurrent work: a backward pass's parameter gradients off its critical path ----
  // run_concurrently(work): `work` (calls to this backend) may run at any moment between this call
  // and the next join_concurrent(), alongside the work queued in between; it sees everything
  // queued before this call. The backend keeps `work`, and so whatever it captured, until the
  // join: capture by value the tensors it reads, so that their memory is neither reused nor
  // summed into in place (Variable::add_grad never writes into a tensor with a second owner)
  // before it has run. Work queued in between must neither read what `work` writes nor write
  // what it reads; work passed to run_concurrently runs in the order it was passed. Called from
  // within concurrent work (or with concurrency off, the default), it runs `work` at once.
  // On: CUDA queues the work on a second stream, joined back into the first by join_concurrent
  // (inside a recorded step graph too: the graph then has two branches); the CPU holds the work
  // and runs it at the join, the latest moment allowed, which gains nothing but makes a missing
  // dependency show in a CPU test. Turning it on or off joins first. synchronize() and
  // copy_to_host() join first too.
  virtual void set_concurrency(bool on) = 0;
  virtual bool concurrency() const = 0;
  virtual void run_concurrently(std::function<void()> work) = 0;
  virtual void join_concurrent() = 0;

  // ---- elementwise ----
  virtual void fill(int64_t n, float value, float* y) = 0;
  virtual void add(int64_t n, const float* a, const float* b, float* y) = 0;  // y = a + b
  virtual void axpy(int64_t n, float alpha, const float* x, float* y) = 0;    // y += alpha * x
  virtual void scale(int64_t n, float alpha, const float* x, float* y) = 0;   // y = alpha * x
  // y = (*alpha) * x, where alpha lives in this backend's memory (an upstream scalar gradient).
  virtual void scale_by(int64_t n, const float* alpha, const float* x, float* y) = 0;
  virtual void relu_forward(int64_t n, const float* x, float* y) = 0;
  // dx = dy where the ReLU's output y > 0, else 0.
  virtual void relu_backward(int64_t n, const float* y, const float* dy, float* dx) = 0;

  // Parameter gradients (a filter's dw and dbias, a batch norm's dgamma and dbeta, a linear
  // layer's dw and db) are overwritten, or with `accumulate` added to what their buffers hold: an
  // op adds a leaf's gradient straight into the optimizer's flat gradient buffer
  // (Variable::grad_buffer) instead of writing a new tensor and summing it in after.

  // ---- convolution (NHWC activations, KRSC filters, optional bias of size k) ----
  virtual void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                              float* y) = 0;
  virtual void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w,
                                    float* dx) = 0;
  // dbias may be null.
  virtual void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy,
                                      float* dw, float* dbias, bool accumulate) = 0;

  // ---- batch norm over an NHWC tensor of geometry g (per-channel statistics over n*h*w) ----
  // Training: normalizes with the batch statistics (biased variance), updates the running
  // averages as running = (1 - momentum) * running + momentum * batch (unbiased variance, as
  // PyTorch and cuDNN do), and saves mean and 1/sqrt(var + eps) for the backward pass.
  virtual void batchnorm_forward_train(const BnGeom& g, const float* x, const float* gamma,
                                       const float* beta, float eps, float momentum,
                                       float* running_mean, float* running_var, float* y,
                                       float* save_mean, float* save_invstd) = 0;
  virtual void batchnorm_forward_eval(const BnGeom& g, const float* x, const float* gamma,
                                      const float* beta, const float* running_mean,
                                      const float* running_var, float eps, float* y) = 0;
  // dx is overwritten; dgamma and dbeta as `accumulate` says. `eps` is the forward's (cuDNN asks
  // for the same value).
  virtual void batchnorm_backward(const BnGeom& g, const float* x, const float* dy,
                                  const float* gamma, const float* save_mean,
                                  const float* save_invstd, float eps, float* dx, float* dgamma,
                                  float* dbeta, bool accumulate) = 0;

  // The ResNet epilogue fused in: y = relu(bn(x) + residual), residual may be null (then
  // y = relu(bn(x))). Same statistics and saved values as the plain forwards above. The
  // defaults compose the plain batch norm, add and ReLU (three passes over memory); a backend
  // with a fused kernel overrides them (the CPU backend: one pass after the statistics).
  virtual void batchnorm_relu_forward_train(const BnGeom& g, const float* x, const float* residual,
                                            const float* gamma, const float* beta, float eps,
                                            float momentum, float* running_mean,
                                            float* running_var, float* y, float* save_mean,
                                            float* save_invstd);
  virtual void batchnorm_relu_forward_eval(const BnGeom& g, const float* x, const float* residual,
                                           const float* gamma, const float* beta,
                                           const float* running_mean, const float* running_var,
                                           float eps, float* y);
  // y is the forward's output; the batch norm's incoming gradient is dy where y > 0, else 0, and
  // that is also the residual's gradient, written to dresidual when not null.
  virtual void batchnorm_relu_backward(const BnGeom& g, const float* x, const float* y,
                                       const float* dy, const float* gamma,
                                       const float* save_mean, const float* save_invstd, float eps,
                                       float* dx, float* dresidual, float* dgamma, float* dbeta,
                                       bool accumulate);

  // ---- pooling ----
  virtual void maxpool_forward(const PoolGeom& g, const float* x, float* y) = 0;
  // The gradient goes to the first maximum of each window in row-major window order.
  virtual void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) = 0;
  virtual void global_avgpool_forward(int n, int hw, int c, const float* x, float* y) = 0;
  virtual void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx) = 0;

  // ---- bfloat16 activations (--precision bf16, kernels/bfloat16.h) ----
  // The same ops on bf16 tensors, for the layers between a network's input and its pooled
  // features. Each computes in float32 exactly as its float32 twin above, from the bf16 values
  // widened, and rounds what it stores to the nearest even bf16; parameters, batch-norm statistics
  // and their gradients stay float32. (A convolution is a float32 convolution of the bf16 values,
  // rounded once; its bias, when there is one, is then added to the rounded value and rounded
  // again: cuDNN's convolution stores bf16 before the bias is applied.)
  virtual void cast(int64_t n, const float* x, BF16* y) = 0;  // round to nearest even
  virtual void cast(int64_t n, const BF16* x, float* y) = 0;  // exact
  virtual void add(int64_t n, const BF16* a, const BF16* b, BF16* y) = 0;
  virtual void relu_forward(int64_t n, const BF16* x, BF16* y) = 0;
  virtual void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx) = 0;
  virtual void conv2d_forward(const ConvGeom& g, const BF16* x, const BF16* w, const float* bias,
                              BF16* y) = 0;
  virtual void conv2d_backward_data(const ConvGeom& g, const BF16* dy, const BF16* w,
                                    BF16* dx) = 0;
  // dw is the gradient of the float32 filter whose bf16 rounding was convolved: the float32 sums
  // rounded to bf16 (as cuDNN stores them), then widened. dbias, when not null, is summed from the
  // bf16 dy.
  virtual void conv2d_backward_filter(const ConvGeom& g, const BF16* x, const BF16* dy, float* dw,
                                      float* dbias, bool accumulate) = 0;
  virtual void batchnorm_forward_train(const BnGeom& g, const BF16* x, const float* gamma,
                                       const float* beta, float eps, float momentum,
                                       float* running_mean, float* running_var, BF16* y,
                                       float* save_mean, float* save_invstd) = 0;
  virtual void batchnorm_forward_eval(const BnGeom& g, const BF16* x, const float* gamma,
                                      const float* beta, const float* running_mean,
                                      const float* running_var, float eps, BF16* y) = 0;
  virtual void batchnorm_backward(const BnGeom& g, const BF16* x, const BF16* dy,
                                  const float* gamma, const float* save_mean,
                                  const float* save_invstd, float eps, BF16* dx, float* dgamma,
                                  float* dbeta, bool accumulate) = 0;
  virtual void batchnorm_relu_forward_train(const BnGeom& g, const BF16* x, const BF16* residual,
                                            const float* gamma, const float* beta, float eps,
                                            float momentum, float* running_mean,
                                            float* running_var, BF16* y, float* save_mean,
                                            float* save_invstd) = 0;
  virtual void batchnorm_relu_forward_eval(const BnGeom& g, const BF16* x, const BF16* residual,
                                           const float* gamma, const float* beta,
                                           const float* running_mean, const float* running_var,
                                           float eps, BF16* y) = 0;
  virtual void batchnorm_relu_backward(const BnGeom& g, const BF16* x, const BF16* y,
                                       const BF16* dy, const float* gamma,
                                       const float* save_mean, const float* save_invstd, float eps,
                                       BF16* dx, BF16* dresidual, float* dgamma, float* dbeta,
                                       bool accumulate) = 0;
  virtual void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y) = 0;
  virtual void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx) = 0;
  // Pooled features leave bf16: y (and so dy) are float32, the mean summed in float32.
  virtual void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y) = 0;
  virtual void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx) = 0;

  // ---- linear: y[n,out] = x[n,in] * w[out,in]^T + b[out] (b may be null) ----
  virtual void linear_forward(int n, int in, int out, const float* x, const float* w,
                              const float* b, float* y) = 0;
  // dx is overwritten, dw and db as `accumulate` says; any of them may be null when not needed.
  virtual void linear_backward(int n, int in, int out, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* db,
                               bool accumulate) = 0;

  // ---- softmax and the fused soft-label cross-entropy, rows of `cols` classes ----
  virtual void softmax_forward(int64_t rows, int cols, const float* x, float* y) = 0;
  // dx = y * (dy - sum(dy * y)) per row.
  virtual void softmax_backward(int64_t rows, int cols, const float* y, const float* dy,
                                float* dx) = 0;
  // One pass: *loss = mean over rows of -sum_j t_j log softmax(x)_j, and, when dlogits is not
  // null, dlogits = (softmax(x) * sum_j t_j - t) / rows. Hard labels are one-hot targets.
  virtual void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets,
                            float* loss, float* dlogits) = 0;

  // ---- running metrics of a loop, in this backend's memory (no host round trip per batch) ----
  // Adds a batch to `totals` (kMetricSlots doubles, laid out as kernels/metric_totals.h says):
  // the rows whose argmax (the first maximum of `cols` logits) equals their int32 label, the rows,
  // one batch, and, when `loss` (one float) is not null, loss * rows and the first batch whose
  // loss was not finite. `confusion` (cols x cols int64, may be null): [label][argmax] += 1.
  // Labels must lie in [0, cols). Nothing comes from the host, so a captured step graph replays
  // it. Results are the same bits on every backend.
  virtual void accumulate_metrics(int64_t rows, int cols, const float* logits,
                                  const int32_t* labels, const float* loss, double* totals,
                                  int64_t* confusion) = 0;

  // ---- optimizer updates, each one fused pass over a flat range of parameters ----
  // momentum_buf holds the velocity (PyTorch convention: v = momentum * v + g).
  virtual void sgd_update(int64_t n, const SgdParams& p, float* param, const float* grad,
                          float* momentum_buf) = 0;
  virtual void adam_update(int64_t n, const AdamParams& p, float* param, const float* grad,
                           float* m, float* v) = 0;

  // ---- data: training batches made from data that lives in this backend's memory ----
  // out (a.n x h x w x c floats, NHWC) = the samples images[indices[i]] (a uint8 NHWC set of
  // a.count images) augmented by a.spec with parameters drawn from KeyedRng(a.seed, a.epoch,
  // indices[i]), then normalized: on the CPU the same bits as data::augment_sample; on CUDA the
  // same except where sinf/cosf of a rotation differ in the last bit (a tiny fraction of a grey
  // level). Indices must be in [0, a.count): the CPU backend throws; a CUDA kernel cannot, so it
  // writes NaN for such a sample, and callers check on the host (train/device_dataset.h does).
  virtual void augment_batch(const AugmentBatch& a, const uint8_t* images, const int64_t* indices,
                             float* out) = 0;
  // out[i, :] = table[indices[i], :] for i < n, rows of `cols` floats, table of `rows` rows.
  // Indices out of range as for augment_batch (CUDA: a NaN row).
  virtual void gather_rows(int64_t n, int cols, const float* table, int64_t rows,
                           const int64_t* indices, float* out) = 0;
};

// Throws unless the sizes and spec of `a` describe a batch both backends can make.
void check_augment_batch(const AugmentBatch& a);

// The CPU backend always exists.
Backend& cpu_backend();
// True when this binary has the CUDA backend and a usable GPU. The device is probed once; without
// a driver or GPU a one-line notice says so and the program goes on with the CPU backend.
bool cuda_available();
// The CUDA backend (throws with a clear message when cuda_available() is false).
Backend& cuda_backend();
Backend& backend_for(Device d);
// CUDA when a GPU is usable, else CPU: what a program runs on unless told otherwise.
Device default_device();

}  // namespace rf
