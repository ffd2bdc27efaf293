#include "kernels/cuda/softmax.cuh"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/warp_reduce.cuh"

namespace rf::gpu {
namespace {

// One warp per row, grid-stride over rows. The first pass keeps an online (max, sum) per lane so
// the row is read twice in all, the second time mostly from cache.
__global__ void softmax_forward_kernel(int64_t rows, int cols, const float* x, float* y) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / 32;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -INFINITY, s = 0.f;
    for (int j = lane; j < cols; j += 32) online_max_sumexp(xr[j], m, s);
    group_merge_max_sumexp(m, s);
    const float log_s = logf(s);
    for (int j = lane; j < cols; j += 32) yr[j] = expf(xr[j] - m - log_s);
  }
}

__global__ void softmax_backward_kernel(int64_t rows, int cols, const float* y, const float* dy,
                                        float* dx) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / 32;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    float dot = 0.f;
    for (int j = lane; j < cols; j += 32) dot += dyr[j] * yr[j];
    dot = group_sum(dot);
    for (int j = lane; j < cols; j += 32) dxr[j] = yr[j] * (dyr[j] - dot);
  }
}

}  // namespace

void softmax_forward(int64_t rows, int cols, const float* x, float* y, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  launch(softmax_forward_kernel, grid_for(rows * 32), kThreads, stream)(rows, cols, x, y);
}

void softmax_backward(int64_t rows, int cols, const float* y, const float* dy, float* dx,
                      cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  launch(softmax_backward_kernel, grid_for(rows * 32), kThreads, stream)(rows, cols, y, dy, dx);
}

}  // namespace rf::gpu
