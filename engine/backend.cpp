#include "engine/backend.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/check.h"
#include "engine/profiler.h"
#ifdef RF_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace rf {

std::unique_ptr<StepGraph> Backend::record(const std::function<void()>&) {
  RF_CHECK(false, "the " << name() << " backend cannot record step graphs (CUDA graphs need the CUDA backend)");
  return nullptr;
}

bool cuda_available() {
#ifdef RF_WITH_CUDA
  static const bool usable = [] {
    std::string why;
    const bool ok = cuda_probe(&why);
    if (!ok) std::fprintf(stderr, "notice: no usable GPU (%s); using the CPU backend\n", why.c_str());
    return ok;
  }();
  return usable;
#else
  return false;
#endif
}

Backend& cuda_backend() {
#ifdef RF_WITH_CUDA
  RF_CHECK(cuda_available(), "the CUDA backend was requested but no usable GPU was found");
  // The backend's device timer serves the profiler from the backend's creation on. Registered
  // here, not in engine/cuda: rf_engine_cuda comes after rf_engine on the link line and may not
  // call into it.
  static Backend& backend = []() -> Backend& {
    Backend& b = cuda_backend_instance();
    profiler::set_device_timer(Device::CUDA, &cuda_backend_timer());
    return b;
  }();
  return backend;
#else
  RF_CHECK(false, "the CUDA backend was requested but this binary was built without CUDA");
#endif
}

void Backend::batchnorm_relu_forward_train(const BnGeom& g, const float* x, const float* residual,
                                           const float* gamma, const float* beta, float eps,
                                           float momentum, float* running_mean,
                                           float* running_var, float* y, float* save_mean,
                                           float* save_invstd) {
  batchnorm_forward_train(g, x, gamma, beta, eps, momentum, running_mean, running_var, y,
                          save_mean, save_invstd);
  const int64_t n = g.rows() * g.c;
  if (residual) add(n, y, residual, y);
  relu_forward(n, y, y);
}

void Backend::batchnorm_relu_forward_eval(const BnGeom& g, const float* x, const float* residual,
                                          const float* gamma, const float* beta,
                                          const float* running_mean, const float* running_var,
                                          float eps, float* y) {
  batchnorm_forward_eval(g, x, gamma, beta, running_mean, running_var, eps, y);
  const int64_t n = g.rows() * g.c;
  if (residual) add(n, y, residual, y);
  relu_forward(n, y, y);
}

void Backend::batchnorm_relu_backward(const BnGeom& g, const float* x, const float* y,
                                      const float* dy, const float* gamma, const float* save_mean,
                                      const float* save_invstd, float eps, float* dx,
                                      float* dresidual, float* dgamma, float* dbeta,
                                      bool accumulate) {
  const int64_t n = g.rows() * g.c;
  // The masked gradient needs a buffer of its own when there is no residual to hold it (the
  // plain backward's dy and dx must not alias).
  float* masked = dresidual ? dresidual : static_cast<float*>(allocate(sizeof(float) * n));
  relu_backward(n, y, dy, masked);
  batchnorm_backward(g, x, masked, gamma, save_mean, save_invstd, eps, dx, dgamma, dbeta,
                     accumulate);
  if (!dresidual) deallocate(masked);
}

void check_augment_batch(const AugmentBatch& a) {
  RF_CHECK(a.h > 0 && a.w > 0 && a.c > 0 && a.c <= kMaxChannels,
           "augment_batch: images of " << a.h << " x " << a.w << " x " << a.c
                                       << " (1 to " << kMaxChannels << " channels)");
  // Kernels index within one image with int.
  RF_CHECK(a.image_bytes() <= INT32_MAX, "augment_batch: images of " << a.image_bytes()
                                                                     << " bytes are too large");
  RF_CHECK(a.count >= 0 && a.n >= 0, "augment_batch: " << a.n << " samples of " << a.count);
  // A grid of one block per sample (CUDA).
  RF_CHECK(a.n <= INT32_MAX, "augment_batch: " << a.n << " samples in one batch");
  // 2 * pad + 1 crop positions must fit an int.
  RF_CHECK(a.spec.kind != AugmentKind::CropFlip ||
               (a.spec.crop.pad >= 0 && a.spec.crop.pad < (1 << 30)),
           "augment_batch: crop padding " << a.spec.crop.pad);
}

Backend& backend_for(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

Device default_device() { return cuda_available() ? Device::CUDA : Device::CPU; }

}  // namespace rf
