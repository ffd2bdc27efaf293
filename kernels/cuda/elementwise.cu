#include "kernels/cuda/elementwise.cuh"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"

namespace rf::gpu {
namespace {

// Outputs may alias inputs, so no __restrict__: every element is read and written by one thread.
// The float4 path runs only when every pointer is 16-byte aligned (views may start anywhere).

__global__ void fill_kernel(int64_t n, float value, float* y, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = tid; i < n / 4; i += stride) y4[i] = make_float4(value, value, value, value);
  }
  for (int64_t i = head + tid; i < n; i += stride) y[i] = value;
}

template <class Op>
__global__ void unary_kernel(int64_t n, const float* x, float* y, Op op, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = tid; i < n / 4; i += stride) {
      const float4 v = x4[i];
      y4[i] = make_float4(op(v.x), op(v.y), op(v.z), op(v.w));
    }
  }
  for (int64_t i = head + tid; i < n; i += stride) y[i] = op(x[i]);
}

template <class Op>
__global__ void binary_kernel(int64_t n, const float* a, const float* b, float* y, Op op,
                              bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = tid; i < n / 4; i += stride) {
      const float4 u = a4[i], v = b4[i];
      y4[i] = make_float4(op(u.x, v.x), op(u.y, v.y), op(u.z, v.z), op(u.w, v.w));
    }
  }
  for (int64_t i = head + tid; i < n; i += stride) y[i] = op(a[i], b[i]);
}

struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Axpy {  // op(x, y) = alpha x + y
  float alpha;
  __device__ float operator()(float x, float y) const { return alpha * x + y; }
};
struct Scale {
  float alpha;
  __device__ float operator()(float x) const { return alpha * x; }
};
struct ScaleBy {
  const float* alpha;
  __device__ float operator()(float x) const { return *alpha * x; }
};
struct Relu {
  __device__ float operator()(float x) const { return x > 0.f ? x : 0.f; }
};
struct ReluBackward {  // op(y, dy)
  __device__ float operator()(float y, float dy) const { return y > 0.f ? dy : 0.f; }
};

template <class Op>
void launch_unary(int64_t n, const float* x, float* y, Op op, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(x) && aligned16(y);
  unary_kernel<<<grid_for(vec ? n / 4 + 1 : n), kThreads, 0, stream>>>(n, x, y, op, vec);
  RF_CUDA_CHECK_LAUNCH();
}

template <class Op>
void launch_binary(int64_t n, const float* a, const float* b, float* y, Op op,
                   cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  binary_kernel<<<grid_for(vec ? n / 4 + 1 : n), kThreads, 0, stream>>>(n, a, b, y, op, vec);
  RF_CUDA_CHECK_LAUNCH();
}

}  // namespace

void fill(int64_t n, float value, float* y, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(y);
  fill_kernel<<<grid_for(vec ? n / 4 + 1 : n), kThreads, 0, stream>>>(n, value, y, vec);
  RF_CUDA_CHECK_LAUNCH();
}

void add(int64_t n, const float* a, const float* b, float* y, cudaStream_t stream) {
  launch_binary(n, a, b, y, Add{}, stream);
}

void axpy(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream) {
  launch_binary(n, x, y, y, Axpy{alpha}, stream);
}

void scale(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream) {
  launch_unary(n, x, y, Scale{alpha}, stream);
}

void scale_by(int64_t n, const float* alpha, const float* x, float* y, cudaStream_t stream) {
  launch_unary(n, x, y, ScaleBy{alpha}, stream);
}

void relu_forward(int64_t n, const float* x, float* y, cudaStream_t stream) {
  launch_unary(n, x, y, Relu{}, stream);
}

void relu_backward(int64_t n, const float* y, const float* dy, float* dx, cudaStream_t stream) {
  launch_binary(n, y, dy, dx, ReluBackward{}, stream);
}

}  // namespace rf::gpu
