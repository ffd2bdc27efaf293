#include "kernels/cuda/optimizers.cuh"

#include <cmath>
#include <stdexcept>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"

namespace rf::gpu {
namespace {

__device__ __forceinline__ void sgd_one(const SgdStep& s, float& p, float g, float* v) {
  if (s.weight_decay != 0.f) g += s.weight_decay * p;
  float update = g;
  if (v != nullptr) {
    *v = s.momentum * *v + g;
    update = s.nesterov ? g + s.momentum * *v : *v;
  }
  p -= s.lr * update;
}

__device__ __forceinline__ void adam_one(const AdamStep& s, float& p, float g, float& m,
                                         float& v) {
  if (s.weight_decay != 0.f) {
    if (s.decoupled)
      p *= s.decay;
    else
      g += s.weight_decay * p;
  }
  m = s.beta1 * m + (1.f - s.beta1) * g;
  v = s.beta2 * v + (1.f - s.beta2) * g * g;
  p -= s.step_size * (m / (sqrtf(v) / s.bc2_sqrt + s.eps));
}

// float4 path when every pointer is 16-byte aligned; the tail (and misaligned ranges) go scalar.
__global__ void sgd_kernel(int64_t n, SgdStep s, float* param, const float* grad, float* vel,
                           bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    float4* p4 = reinterpret_cast<float4*>(param);
    const float4* g4 = reinterpret_cast<const float4*>(grad);
    float4* v4 = reinterpret_cast<float4*>(vel);
    for (int64_t i = tid; i < n / 4; i += stride) {
      float4 p = p4[i];
      const float4 g = g4[i];
      if (vel != nullptr) {
        float4 v = v4[i];
        sgd_one(s, p.x, g.x, &v.x);
        sgd_one(s, p.y, g.y, &v.y);
        sgd_one(s, p.z, g.z, &v.z);
        sgd_one(s, p.w, g.w, &v.w);
        v4[i] = v;
      } else {
        sgd_one(s, p.x, g.x, nullptr);
        sgd_one(s, p.y, g.y, nullptr);
        sgd_one(s, p.z, g.z, nullptr);
        sgd_one(s, p.w, g.w, nullptr);
      }
      p4[i] = p;
    }
  }
  for (int64_t i = head + tid; i < n; i += stride)
    sgd_one(s, param[i], grad[i], vel != nullptr ? vel + i : nullptr);
}

__global__ void adam_kernel(int64_t n, AdamStep s, float* param, const float* grad, float* m,
                            float* v, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    float4* p4 = reinterpret_cast<float4*>(param);
    const float4* g4 = reinterpret_cast<const float4*>(grad);
    float4* m4 = reinterpret_cast<float4*>(m);
    float4* v4 = reinterpret_cast<float4*>(v);
    for (int64_t i = tid; i < n / 4; i += stride) {
      float4 p = p4[i], mm = m4[i], vv = v4[i];
      const float4 g = g4[i];
      adam_one(s, p.x, g.x, mm.x, vv.x);
      adam_one(s, p.y, g.y, mm.y, vv.y);
      adam_one(s, p.z, g.z, mm.z, vv.z);
      adam_one(s, p.w, g.w, mm.w, vv.w);
      p4[i] = p;
      m4[i] = mm;
      v4[i] = vv;
    }
  }
  for (int64_t i = head + tid; i < n; i += stride) adam_one(s, param[i], grad[i], m[i], v[i]);
}

}  // namespace

void sgd_update(int64_t n, const SgdStep& s, float* param, const float* grad, float* velocity,
                cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(param) && aligned16(grad) &&
                   (velocity == nullptr || aligned16(velocity));
  launch(sgd_kernel, grid_for(vec ? n / 4 + 1 : n), kThreads, stream)(n, s, param, grad, velocity,
                                                                      vec);
}

AdamStep adam_step(float lr, float beta1, float beta2, float eps, float weight_decay,
                   bool decoupled, int step) {
  if (step < 1) throw std::invalid_argument("adam: step is 1-based");
  // As PyTorch: the bias corrections in double, then used as float scalars.
  const double bc1 = 1.0 - std::pow(double(beta1), step);
  const double bc2 = 1.0 - std::pow(double(beta2), step);
  return {beta1,
          beta2,
          eps,
          weight_decay,
          decoupled,
          float(double(lr) / bc1),
          float(std::sqrt(bc2)),
          float(1.0 - double(lr) * double(weight_decay))};
}

void adam_update(int64_t n, const AdamStep& s, float* param, const float* grad, float* m,
                 float* v, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v);
  launch(adam_kernel, grid_for(vec ? n / 4 + 1 : n), kThreads, stream)(n, s, param, grad, m, v,
                                                                       vec);
}

}  // namespace rf::gpu
