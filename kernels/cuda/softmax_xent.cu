#include "kernels/cuda/softmax_xent.cuh"

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/warp_reduce.cuh"

// Design. A group of G lanes (G a power of two <= 32) owns one row and holds all of it in
// registers: lane g keeps the elements (or float4 chunks) g, g + G, g + 2G, ... so each load
// instruction of a warp reads contiguous memory. With the row in registers the max, the sum of
// exponentials and the loss need no second trip to memory: logits and targets are read exactly
// once and dlogits written once, which is what bounds the kernel (3 x rows x cols x 4 bytes).
// G is chosen so that each lane holds about 8 values: tiny rows (10 classes) pack 16 rows per
// warp, 1000-class rows take a full warp with 8 float4 per lane. Rows longer than the register
// path allows (> 1024) use a warp-per-row kernel that reads the row twice.
//
// Every block writes the sum of its rows' losses to partials[blockIdx.x]; one more block adds
// those in a fixed order, so the loss is deterministic with no atomics.

namespace rf::gpu {
namespace {

constexpr int kMaxRegisterCols = 1024;
constexpr int kFinalThreads = 256;

// Sums the row losses of a block (one value per thread, zero for threads that own no loss) and
// writes the block's total.
__device__ __forceinline__ void block_partial(float v, float* partials) {
  __shared__ float warp_sums[kThreads / 32];
  v = group_sum(v);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    float w = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
    w = group_sum(w);
    if (threadIdx.x == 0) partials[blockIdx.x] = w;
  }
}

// G lanes per row, K loads per lane of V floats each (V = 4 when rows are float4 aligned).
template <int G, int K, int V>
__global__ void __launch_bounds__(kThreads)
    xent_register_kernel(int64_t rows, int cols, const float* x, const float* t, float* dx,
                         float inv_rows, float* partials) {
  const int g = threadIdx.x % G;
  const int64_t row = int64_t(blockIdx.x) * (kThreads / G) + threadIdx.x / G;
  const bool active = row < rows;
  const int64_t base = active ? row * cols : 0;

  float xv[K][V], tv[K][V];
#pragma unroll
  for (int i = 0; i < K; ++i) {
    const int j = (g + G * i) * V;
    if (active && j < cols) {
      if constexpr (V == 4) {
        const float4 a = *reinterpret_cast<const float4*>(x + base + j);
        const float4 b = *reinterpret_cast<const float4*>(t + base + j);
        xv[i][0] = a.x, xv[i][1] = a.y, xv[i][2] = a.z, xv[i][3] = a.w;
        tv[i][0] = b.x, tv[i][1] = b.y, tv[i][2] = b.z, tv[i][3] = b.w;
      } else {
        xv[i][0] = x[base + j];
        tv[i][0] = t[base + j];
      }
    } else {
#pragma unroll
      for (int v = 0; v < V; ++v) xv[i][v] = -INFINITY, tv[i][v] = 0.f;
    }
  }

  float m = -INFINITY;
#pragma unroll
  for (int i = 0; i < K; ++i)
#pragma unroll
    for (int v = 0; v < V; ++v) m = fmaxf(m, xv[i][v]);
  m = group_max<G>(m);

  float s = 0.f, tsum = 0.f;
#pragma unroll
  for (int i = 0; i < K; ++i)
#pragma unroll
    for (int v = 0; v < V; ++v) {
      s += expf(xv[i][v] - m);  // padding: exp(-inf) = 0
      tsum += tv[i][v];
    }
  s = group_sum<G>(s);
  tsum = group_sum<G>(tsum);

  // -sum t_j log softmax_j = sum t_j (log s - (x_j - m)); padding is skipped explicitly because
  // 0 * inf would be NaN.
  const float log_s = logf(s);
  float row_loss = 0.f;
#pragma unroll
  for (int i = 0; i < K; ++i)
    if ((g + G * i) * V < cols)
#pragma unroll
      for (int v = 0; v < V; ++v) row_loss += tv[i][v] * (log_s - (xv[i][v] - m));
  row_loss = group_sum<G>(row_loss);

  if (dx != nullptr && active) {
#pragma unroll
    for (int i = 0; i < K; ++i) {
      const int j = (g + G * i) * V;
      if (j < cols) {
        float d[V];
#pragma unroll
        for (int v = 0; v < V; ++v)
          d[v] = (expf(xv[i][v] - m - log_s) * tsum - tv[i][v]) * inv_rows;
        if constexpr (V == 4) {
          *reinterpret_cast<float4*>(dx + base + j) = make_float4(d[0], d[1], d[2], d[3]);
        } else {
          dx[base + j] = d[0];
        }
      }
    }
  }
  block_partial(active && g == 0 ? row_loss : 0.f, partials);
}

// Rows too long for registers: one warp per row, an online (max, sum) pass, then a second pass
// for the loss and dlogits.
__global__ void __launch_bounds__(kThreads)
    xent_long_row_kernel(int64_t rows, int cols, const float* x, const float* t, float* dx,
                         float inv_rows, float* partials) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  float row_loss = 0.f;
  if (row < rows) {  // warp-uniform
    const float* xr = x + row * cols;
    const float* tr = t + row * cols;
    float m = -INFINITY, s = 0.f, tsum = 0.f;
    for (int j = lane; j < cols; j += 32) {
      online_max_sumexp(xr[j], m, s);
      tsum += tr[j];
    }
    group_merge_max_sumexp(m, s);
    tsum = group_sum(tsum);
    const float log_s = logf(s);
    for (int j = lane; j < cols; j += 32) {
      const float xj = xr[j], tj = tr[j];
      row_loss += tj * (log_s - (xj - m));
      if (dx != nullptr) dx[row * cols + j] = (expf(xj - m - log_s) * tsum - tj) * inv_rows;
    }
    row_loss = group_sum(row_loss);
  }
  block_partial(lane == 0 ? row_loss : 0.f, partials);
}

// One block: the mean of the partials, accumulated in double in a fixed order.
__global__ void __launch_bounds__(kFinalThreads)
    xent_finalize_kernel(int blocks, const float* partials, double rows, float* loss) {
  __shared__ double sums[kFinalThreads];
  double acc = 0.0;
  for (int i = threadIdx.x; i < blocks; i += kFinalThreads) acc += partials[i];
  sums[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kFinalThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) sums[threadIdx.x] += sums[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss = float(sums[0] / rows);
}

int next_pow2(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

struct XentArgs {
  int64_t rows;
  int cols;
  const float* x;
  const float* t;
  float* dx;
  float inv_rows;
  float* partials;
  cudaStream_t stream;
};

template <int G, int K, int V>
int launch_register(const XentArgs& a) {
  const int64_t blocks = (a.rows + kThreads / G - 1) / (kThreads / G);
  launch(xent_register_kernel<G, K, V>, unsigned(blocks), kThreads, a.stream)(
      a.rows, a.cols, a.x, a.t, a.dx, a.inv_rows, a.partials);
  return int(blocks);
}

// Picks G and K for about 8 floats per lane; rows too long for 16 lanes at 8 floats take a full
// warp with 8, 16 or 32 floats per lane. Returns the number of blocks launched.
template <int V>
int dispatch_register(const XentArgs& a) {
  constexpr int kSmallK = 8 / V;  // loads per lane
  const int units = a.cols / V;   // elements or float4 chunks per row
  switch (next_pow2(ceil_div(units, kSmallK))) {
    case 1: return launch_register<1, kSmallK, V>(a);
    case 2: return launch_register<2, kSmallK, V>(a);
    case 4: return launch_register<4, kSmallK, V>(a);
    case 8: return launch_register<8, kSmallK, V>(a);
    case 16: return launch_register<16, kSmallK, V>(a);
    default: break;
  }
  // units <= 1024 / V, so ceil(units / 32) <= 4 * kSmallK.
  const int k = next_pow2(ceil_div(units, 32));
  if (k <= kSmallK) return launch_register<32, kSmallK, V>(a);
  if (k <= 2 * kSmallK) return launch_register<32, 2 * kSmallK, V>(a);
  return launch_register<32, 4 * kSmallK, V>(a);
}

}  // namespace

size_t softmax_xent_scratch_bytes(int64_t rows, int /*cols*/) {
  // Every path puts at least kThreads / 32 rows in a block.
  return size_t((rows + kThreads / 32 - 1) / (kThreads / 32)) * sizeof(float);
}

void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets, float* loss,
                  float* dlogits, void* scratch, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument("softmax_xent: empty input (" + std::to_string(rows) + " x " +
                                std::to_string(cols) + ")");
  if ((rows + kThreads / 32 - 1) / (kThreads / 32) > int64_t(INT32_MAX))
    throw std::invalid_argument("softmax_xent: too many rows");
  const XentArgs a{rows,    cols, logits, targets, dlogits, 1.f / float(rows),
                   static_cast<float*>(scratch), stream};
  int blocks;
  if (cols > kMaxRegisterCols) {
    blocks = int((rows + kThreads / 32 - 1) / (kThreads / 32));
    launch(xent_long_row_kernel, unsigned(blocks), kThreads, stream)(a.rows, a.cols, a.x, a.t, a.dx,
                                                                     a.inv_rows, a.partials);
  } else if (cols % 4 == 0 && aligned16(logits) && aligned16(targets) &&
             (dlogits == nullptr || aligned16(dlogits))) {
    blocks = dispatch_register<4>(a);
  } else {
    blocks = dispatch_register<1>(a);
  }
  launch(xent_finalize_kernel, 1, kFinalThreads, stream)(blocks, a.partials, double(rows), loss);
}

}  // namespace rf::gpu
