#include "kernels/cuda/elementwise.cuh"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/storage.cuh"

namespace rf::gpu {
namespace {

// Outputs may alias inputs, so no __restrict__: every element is read and written by one thread.
// The four-element path runs only when every pointer is aligned to it (views may start anywhere).

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

// In, Out, T: float or BF16 (kernels/cuda/storage.cuh), each op computing in float.
template <class In, class Out, class Op>
__global__ void unary_kernel(int64_t n, const In* x, Out* y, Op op, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    for (int64_t i = tid; i < n / 4; i += stride) {
      float v[4];
      load4(x + 4 * i, v);
      const float out[4] = {op(v[0]), op(v[1]), op(v[2]), op(v[3])};
      store4(y + 4 * i, out);
    }
  }
  for (int64_t i = head + tid; i < n; i += stride) y[i] = narrow<Out>(op(widen(x[i])));
}

template <class A, class B, class Out, class Op>
__global__ void binary_kernel(int64_t n, const A* a, const B* b, Out* y, Op op, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    head = n / 4 * 4;
    for (int64_t i = tid; i < n / 4; i += stride) {
      float u[4], v[4];
      load4(a + 4 * i, u);
      load4(b + 4 * i, v);
      const float out[4] = {op(u[0], v[0]), op(u[1], v[1]), op(u[2], v[2]), op(u[3], v[3])};
      store4(y + 4 * i, out);
    }
  }
  for (int64_t i = head + tid; i < n; i += stride)
    y[i] = narrow<Out>(op(widen(a[i]), widen(b[i])));
}

struct Identity {  // a cast: the store rounds
  __device__ float operator()(float x) const { return x; }
};
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

template <class In, class Out, class Op>
void launch_unary(int64_t n, const In* x, Out* y, Op op, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned4(x) && aligned4(y);
  launch(unary_kernel<In, Out, Op>, grid_for(vec ? n / 4 + 1 : n), kThreads, stream)(n, x, y, op, vec);
}

template <class A, class B, class Out, class Op>
void launch_binary(int64_t n, const A* a, const B* b, Out* y, Op op, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned4(a) && aligned4(b) && aligned4(y);
  launch(binary_kernel<A, B, Out, Op>, grid_for(vec ? n / 4 + 1 : n), kThreads, stream)(n, a, b, y, op, vec);
}

}  // namespace

void fill(int64_t n, float value, float* y, cudaStream_t stream) {
  if (n <= 0) return;
  const bool vec = aligned16(y);
  launch(fill_kernel, grid_for(vec ? n / 4 + 1 : n), kThreads, stream)(n, value, y, vec);
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

void cast(int64_t n, const float* x, BF16* y, cudaStream_t stream) {
  launch_unary(n, x, y, Identity{}, stream);
}

void cast(int64_t n, const BF16* x, float* y, cudaStream_t stream) {
  launch_unary(n, x, y, Identity{}, stream);
}

// One kernel either way: the plain widening, or the widened value added in one float addition
// (the same bits as a cast into a temporary followed by axpy with alpha 1).
void widen_add(int64_t n, const BF16* x, float* y, bool accumulate, cudaStream_t stream) {
  if (accumulate)
    launch_binary(n, x, y, y, Add{}, stream);
  else
    launch_unary(n, x, y, Identity{}, stream);
}

void add(int64_t n, const BF16* a, const BF16* b, BF16* y, cudaStream_t stream) {
  launch_binary(n, a, b, y, Add{}, stream);
}

void relu_forward(int64_t n, const BF16* x, BF16* y, cudaStream_t stream) {
  launch_unary(n, x, y, Relu{}, stream);
}

void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx, cudaStream_t stream) {
  launch_binary(n, y, dy, dx, ReluBackward{}, stream);
}

}  // namespace rf::gpu
