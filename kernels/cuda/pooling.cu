#include "kernels/cuda/pooling.cuh"

#include <stdexcept>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/storage.cuh"

namespace rf::gpu {
namespace {

// PoolGeom's helpers are host-only; the kernels get the derived sizes precomputed.
struct Pool {
  int n, h, w, c, window, stride, pad, p, q;
};

Pool make_pool(const PoolGeom& g) {
  if (g.window <= 0 || g.stride <= 0 || g.pad < 0 || g.p() <= 0 || g.q() <= 0)
    throw std::invalid_argument("maxpool: invalid geometry");
  return {g.n, g.h, g.w, g.c, g.window, g.stride, g.pad, g.p(), g.q()};
}

// T: float or BF16 (kernels/cuda/storage.cuh); values compare and gradients add in float.

// Input coordinates (bh, bw) and value of the first maximum of the window of output (op, oq):
// later elements replace the best only when strictly greater. An all-padding window has none
// (returns false, best = -inf).
template <class T>
__device__ bool window_argmax(const Pool& g, const T* xn, int op, int oq, int c, int& bh, int& bw,
                              float& best) {
  bool found = false;
  best = -INFINITY;
  const int h0 = op * g.stride - g.pad, w0 = oq * g.stride - g.pad;
  for (int r = 0; r < g.window; ++r) {
    const int h = h0 + r;
    if (h < 0 || h >= g.h) continue;
    for (int s = 0; s < g.window; ++s) {
      const int w = w0 + s;
      if (w < 0 || w >= g.w) continue;
      const float v = widen(xn[(int64_t(h) * g.w + w) * g.c + c]);
      if (!found || v > best) {
        best = v;
        bh = h;
        bw = w;
        found = true;
      }
    }
  }
  return found;
}

template <class T>
__global__ void maxpool_forward_kernel(Pool g, const T* x, T* y) {
  const int64_t total = int64_t(g.n) * g.p * g.q * g.c;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % g.c);
    int64_t t = i / g.c;
    const int oq = int(t % g.q);
    t /= g.q;
    const int op = int(t % g.p);
    const int n = int(t / g.p);
    int bh, bw;
    float best;
    window_argmax(g, x + int64_t(n) * g.h * g.w * g.c, op, oq, c, bh, bw, best);
    y[i] = narrow<T>(best);
  }
}

template <class T>
__global__ void maxpool_backward_kernel(Pool g, const T* x, const T* dy, T* dx) {
  const int64_t total = int64_t(g.n) * g.h * g.w * g.c;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % g.c);
    int64_t t = i / g.c;
    const int w = int(t % g.w);
    t /= g.w;
    const int h = int(t % g.h);
    const int n = int(t / g.h);
    // Windows covering row h: op * stride - pad <= h <= op * stride - pad + window - 1.
    const int lo_h = h + g.pad - g.window + 1, lo_w = w + g.pad - g.window + 1;
    const int op0 = lo_h <= 0 ? 0 : (lo_h + g.stride - 1) / g.stride;
    const int oq0 = lo_w <= 0 ? 0 : (lo_w + g.stride - 1) / g.stride;
    const int op1 = min(g.p - 1, (h + g.pad) / g.stride);
    const int oq1 = min(g.q - 1, (w + g.pad) / g.stride);
    const T* xn = x + int64_t(n) * g.h * g.w * g.c;
    const T* dyn = dy + int64_t(n) * g.p * g.q * g.c;
    float sum = 0.f;
    for (int op = op0; op <= op1; ++op)
      for (int oq = oq0; oq <= oq1; ++oq) {
        int bh = -1, bw = -1;
        float best;
        if (window_argmax(g, xn, op, oq, c, bh, bw, best) && bh == h && bw == w)
          sum += widen(dyn[(int64_t(op) * g.q + oq) * g.c + c]);
      }
    dx[i] = narrow<T>(sum);
  }
}

template <class T>
__global__ void global_avgpool_forward_kernel(int n, int hw, int c, const T* x, float* y) {
  const int64_t total = int64_t(n) * c;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / c;
    const T* xp = x + b * hw * c + i % c;
    float sum = 0.f;
    for (int k = 0; k < hw; ++k) sum += widen(xp[int64_t(k) * c]);
    y[i] = sum / float(hw);
  }
}

template <class T>
__global__ void global_avgpool_backward_kernel(int n, int hw, int c, const float* dy, T* dx) {
  const int64_t total = int64_t(n) * hw * c;
  const float inv_hw = 1.f / float(hw);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = narrow<T>(dy[i / (int64_t(hw) * c) * c + i % c] * inv_hw);
}

template <class T>
void launch_maxpool_forward(const PoolGeom& geom, const T* x, T* y, cudaStream_t stream) {
  const Pool g = make_pool(geom);
  if (geom.y_size() == 0) return;
  launch(maxpool_forward_kernel<T>, grid_for(geom.y_size()), kThreads, stream)(g, x, y);
}

template <class T>
void launch_maxpool_backward(const PoolGeom& geom, const T* x, const T* dy, T* dx,
                             cudaStream_t stream) {
  const Pool g = make_pool(geom);
  if (geom.x_size() == 0) return;
  launch(maxpool_backward_kernel<T>, grid_for(geom.x_size()), kThreads, stream)(g, x, dy, dx);
}

template <class T>
void launch_global_avgpool_forward(int n, int hw, int c, const T* x, float* y,
                                   cudaStream_t stream) {
  if (int64_t(n) * c == 0) return;
  if (hw <= 0) throw std::invalid_argument("global_avgpool: hw must be positive");
  launch(global_avgpool_forward_kernel<T>, grid_for(int64_t(n) * c), kThreads, stream)(n, hw, c, x, y);
}

template <class T>
void launch_global_avgpool_backward(int n, int hw, int c, const float* dy, T* dx,
                                    cudaStream_t stream) {
  if (int64_t(n) * hw * c == 0) return;
  launch(global_avgpool_backward_kernel<T>, grid_for(int64_t(n) * hw * c), kThreads, stream)(n, hw, c,
                                                                                          dy, dx);
}

}  // namespace

void maxpool_forward(const PoolGeom& g, const float* x, float* y, cudaStream_t stream) {
  launch_maxpool_forward(g, x, y, stream);
}

void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx,
                      cudaStream_t stream) {
  launch_maxpool_backward(g, x, dy, dx, stream);
}

void global_avgpool_forward(int n, int hw, int c, const float* x, float* y, cudaStream_t stream) {
  launch_global_avgpool_forward(n, hw, c, x, y, stream);
}

void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx,
                             cudaStream_t stream) {
  launch_global_avgpool_backward(n, hw, c, dy, dx, stream);
}

void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y, cudaStream_t stream) {
  launch_maxpool_forward(g, x, y, stream);
}

void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx,
                      cudaStream_t stream) {
  launch_maxpool_backward(g, x, dy, dx, stream);
}

void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y, cudaStream_t stream) {
  launch_global_avgpool_forward(n, hw, c, x, y, stream);
}

void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx, cudaStream_t stream) {
  launch_global_avgpool_backward(n, hw, c, dy, dx, stream);
}

}  // namespace rf::gpu
