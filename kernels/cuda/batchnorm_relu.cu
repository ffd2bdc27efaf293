#include "kernels/cuda/batchnorm_relu.cuh"

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/storage.cuh"
#include "kernels/cuda/warp_reduce.cuh"

// Design. Every kernel cuts the [rows, c] matrix the same way: a block is tx threads along the
// channels (tx a power of two <= 32, each thread on V consecutive channels: V = 4 through float4,
// or 8 bytes of bf16, when c % 4 == 0 and every activation pointer is aligned to four elements,
// else V = 1) by ty = kThreads / tx along the rows. blockIdx.y picks a tile of tx * V channels,
// blockIdx.x a chunk of consecutive rows. A warp reads 32 / tx row segments of tx * V floats:
// coalesced, and one contiguous 512-byte run when a tile spans every channel (c = 16: 8 rows of 64
// bytes; half that in bf16). Each thread loads kBatch rows before it uses any, so that several
// loads are in flight per thread.
//
// Training forward: 2 launches, 3 for tall inputs.
//   1. statistics: each block sums x and x^2 per channel over its chunk, in double: per thread,
//      then a butterfly within each warp, then the warps in index order; one partial per
//      (channel, chunk).
//   2. merge, only when there are more than kMaxFoldedParts chunks: a warp per channel adds its
//      partials (lanes strided, then a butterfly).
//   3. apply: the prologue of each block turns the totals of its tile into per-channel shift,
//      scale and offset in shared memory (the blocks of chunk 0 also write save_mean,
//      save_invstd and the running statistics); then x (+ residual) is read once and y written
//      once. With few chunks the prologue adds the partials itself (the finalize folded in);
//      with hundreds, which is what keeps 132 SMs busy on (128, 32, 32, 16), every apply block
//      re-reading all of them would cost more L2 traffic than the data, so the merge runs first.
// Eval forward: 1 launch, the apply with a prologue from the running statistics.
// Backward: the same three steps on the sums of g and g * x (g = dy where y > 0, else 0); the
// apply writes dx and dresidual, the blocks of chunk 0 write (or add to) dgamma and dbeta.
//
// Variants. The activations (x, residual, y, dy, dx, dresidual) are float or bf16 (T, see
// kernels/cuda/storage.cuh): loads widen to float, stores round once to the nearest even, and all
// arithmetic above is the same for both. Relu = false is the plain batch norm, y = bn(x) with no
// residual and an unmasked backward (g = dy), for bf16 (float32's plain batch norm is cuDNN's).
//
// Determinism: the chunking depends only on (rows, c, V), and every sum above has a fixed order
// (a butterfly gives partners bitwise equal results, float and double addition being
// commutative). No atomics.
//
// Precision: the statistics and the backward's sums accumulate in double. A float converts to
// double exactly and the product of two floats is exact in double (48 significant bits), so each
// sum carries only double rounding, ~1e-16 relative to the sum of its |terms|, and
// var = E[x^2] - mean^2 loses ~1e-16 * E[x^2] / var: 1e-10 at mean 1000 and std 1, far below a
// float's resolution (in float, x^2 ~ 1e6 has a rounding step of 0.06 against that variance of
// 1). The same holds for dgamma = (sum g x - mean sum g) * invstd. The finalize follows the CPU
// kernel exactly (kernels/cpu/batchnorm.cpp), including y = (x - shift) * a + b with
// shift = float(mean), exact near the mean where x * a - mean * a would cancel. Hopper runs
// double arithmetic at half the float rate, so these kernels stay bound by memory (a consumer
// GPU, at 1/64, would be bound by the statistics' double adds instead).

namespace rf::gpu {
namespace {

constexpr int kWarps = kThreads / 32;
constexpr int kMaxTx = 32;                 // threads along the channels of a tile
constexpr int kMaxTileChannels = kMaxTx * 4;
constexpr int kBatch = 4;                  // rows a thread loads before using any
// Launch shape: rows per thread of a chunk, and the most blocks of a launch (about 4 resident
// blocks per SM on a 132-SM H200 for the reduction; the apply streams, so more).
constexpr int kReduceRowsPerThread = 8;
constexpr int kReduceBlocks = 512;
constexpr int kApplyRowsPerThread = 8;
constexpr int kApplyBlocks = 1024;
// Up to this many partials per channel the apply's prologue adds them itself.
constexpr int kMaxFoldedParts = 16;

// How the kernels cut the matrix (see Design); the same for every kernel of one call.
struct Tiling {
  int64_t rows;
  int c;
  int tx_log2;         // tx = 1 << tx_log2 threads along the channels
  int64_t chunk_rows;  // rows per blockIdx.x, a multiple of ty
};

struct Launch {
  Tiling t;
  dim3 grid;  // (chunks, tiles)
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

Launch plan(int64_t rows, int c, int v, int rows_per_thread, int max_blocks) {
  const int units = c / v;
  int tx_log2 = 0;
  while ((1 << tx_log2) < units && (1 << tx_log2) < kMaxTx) ++tx_log2;
  const int64_t tx = int64_t(1) << tx_log2, ty = kThreads / tx;
  const int64_t tiles = ceil_div(units, tx);
  if (tiles > 65535)
    throw std::invalid_argument("batchnorm_relu: too many channels (" + std::to_string(c) + ")");
  const int64_t want = std::clamp<int64_t>(ceil_div(rows, ty * rows_per_thread), 1,
                                           std::max<int64_t>(1, max_blocks / tiles));
  const int64_t chunk_rows = ceil_div(ceil_div(rows, want), ty) * ty;
  const int64_t chunks = ceil_div(rows, chunk_rows);  // <= want: no empty chunk
  return {{rows, c, tx_log2, chunk_rows}, dim3(unsigned(chunks), unsigned(tiles))};
}

Launch reduce_plan(int64_t rows, int c, int v) {
  return plan(rows, c, v, kReduceRowsPerThread, kReduceBlocks);
}
Launch apply_plan(int64_t rows, int c, int v) {
  return plan(rows, c, v, kApplyRowsPerThread, kApplyBlocks);
}

// The partial sums in the scratch: two [c][parts] arrays, then (when merged) two [c] totals.
size_t partial_doubles(const Launch& r) {
  const size_t c = size_t(r.t.c), parts = r.grid.x;
  return 2 * c * parts + (parts > size_t(kMaxFoldedParts) ? 2 * c : 0);
}

// ---- device helpers ----

// This thread's place in its block: channel unit within the tile, row lane, and the first
// channel of the unit in the matrix (meaningful only when active).
struct Thread {
  int tx, ty, unit_in_tile, row_lane, col;
  bool active;  // the unit lies inside the matrix (the last tile may be partial)
};

template <int V>
__device__ __forceinline__ Thread this_thread(const Tiling& t) {
  Thread th;
  th.tx = 1 << t.tx_log2;
  th.ty = kThreads >> t.tx_log2;
  th.unit_in_tile = threadIdx.x & (th.tx - 1);
  th.row_lane = threadIdx.x >> t.tx_log2;
  const int unit = blockIdx.y * th.tx + th.unit_in_tile;
  th.active = unit < t.c / V;
  th.col = unit * V;
  return th;
}

template <int V, class T>
__device__ __forceinline__ void load(const T* p, float (&v)[V]) {
  if constexpr (V == 4) {
    load4(p, v);
  } else {
    v[0] = widen(*p);
  }
}

// Rows r, r + ty, ..., r + (kBatch - 1) * ty of this thread's V channels of the [rows, c]
// matrix p, all loaded before any is used so that several loads are in flight; rows at or past
// r1 stay as they were (zero-initialized by the callers).
template <int V, class T>
__device__ __forceinline__ void load_rows(const T* p, int64_t r, int64_t r1, const Thread& th,
                                          int c, float (&v)[kBatch][V]) {
#pragma unroll
  for (int k = 0; k < kBatch; ++k) {
    const int64_t row = r + int64_t(k) * th.ty;
    if (row < r1) load<V>(p + row * c + th.col, v[k]);
  }
}

template <int V, class T>
__device__ __forceinline__ void store(T* p, const float (&v)[V]) {
  if constexpr (V == 4) {
    store4(p, v);
  } else {
    *p = narrow<T>(v[0]);
  }
}

// Adds each thread's (s, q) over the row lanes of the block, in a fixed order: a butterfly over
// the lanes of a warp that share a channel unit (lane, lane ^ tx, ...), then the warps in index
// order. Threads 0 .. tx-1 end with the block's totals for units 0 .. tx-1 of the tile and write
// them as partial blockIdx.x of [c][gridDim.x].
template <int V>
__device__ void write_block_partials(const Thread& th, double (&s)[V], double (&q)[V],
                                     double* part_s, double* part_q) {
  __shared__ double sh_s[kWarps][kMaxTx][V], sh_q[kWarps][kMaxTx][V];
  for (int off = 16; off >= th.tx; off /= 2)
#pragma unroll
    for (int i = 0; i < V; ++i) {
      s[i] += __shfl_xor_sync(kFullMask, s[i], off);
      q[i] += __shfl_xor_sync(kFullMask, q[i], off);
    }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane < th.tx)  // lane == unit_in_tile here
#pragma unroll
    for (int i = 0; i < V; ++i) sh_s[warp][lane][i] = s[i], sh_q[warp][lane][i] = q[i];
  __syncthreads();
  if (threadIdx.x < th.tx && th.active) {  // thread threadIdx.x owns unit threadIdx.x
#pragma unroll
    for (int i = 0; i < V; ++i) {
      double ts = sh_s[0][threadIdx.x][i], tq = sh_q[0][threadIdx.x][i];
      for (int w = 1; w < kWarps; ++w) ts += sh_s[w][threadIdx.x][i], tq += sh_q[w][threadIdx.x][i];
      const int64_t at = int64_t(th.col + i) * gridDim.x + blockIdx.x;
      part_s[at] = ts;
      part_q[at] = tq;
    }
  }
}

// The sums of channel j over its `parts` partials, in partial order.
__device__ __forceinline__ void channel_totals(int j, int parts, const double* part_s,
                                               const double* part_q, double& s, double& q) {
  s = 0, q = 0;
  for (int p = 0; p < parts; ++p) {
    s += part_s[int64_t(j) * parts + p];
    q += part_q[int64_t(j) * parts + p];
  }
}

// ---- kernels ----

// Partials of sum x and sum x^2 per channel.
template <class T, int V>
__global__ void __launch_bounds__(kThreads)
    forward_stats_kernel(Tiling t, const T* x, double* part_s, double* part_q) {
  const Thread th = this_thread<V>(t);
  const int64_t r0 = int64_t(blockIdx.x) * t.chunk_rows;
  const int64_t r1 = min(t.rows, r0 + t.chunk_rows);
  double s[V] = {}, q[V] = {};
  if (th.active) {
    for (int64_t r = r0 + th.row_lane; r < r1; r += int64_t(th.ty) * kBatch) {
      float v[kBatch][V] = {};
      load_rows<V>(x, r, r1, th, t.c, v);
#pragma unroll
      for (int k = 0; k < kBatch; ++k)  // rows past r1 hold zeros: adding them changes nothing
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const double d = v[k][i];
          s[i] += d;
          q[i] += d * d;
        }
    }
  }
  write_block_partials<V>(th, s, q, part_s, part_q);
}

// Partials of sum g and sum g * x per channel, g = dy where y > 0, else 0 (g = dy without the
// ReLU, y then unread).
template <class T, int V, bool Relu>
__global__ void __launch_bounds__(kThreads)
    backward_stats_kernel(Tiling t, const T* x, const T* y, const T* dy, double* part_s,
                          double* part_q) {
  const Thread th = this_thread<V>(t);
  const int64_t r0 = int64_t(blockIdx.x) * t.chunk_rows;
  const int64_t r1 = min(t.rows, r0 + t.chunk_rows);
  double s[V] = {}, q[V] = {};
  if (th.active) {
    for (int64_t r = r0 + th.row_lane; r < r1; r += int64_t(th.ty) * kBatch) {
      float xv[kBatch][V] = {}, yv[kBatch][V] = {}, gv[kBatch][V] = {};
      load_rows<V>(x, r, r1, th, t.c, xv);
      if constexpr (Relu) load_rows<V>(y, r, r1, th, t.c, yv);
      load_rows<V>(dy, r, r1, th, t.c, gv);
#pragma unroll
      for (int k = 0; k < kBatch; ++k)  // rows past r1: dy = 0 (and y = 0) add nothing
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const double g = (!Relu || yv[k][i] > 0.f) ? gv[k][i] : 0.f;
          s[i] += g;
          q[i] += g * double(xv[k][i]);
        }
    }
  }
  write_block_partials<V>(th, s, q, part_s, part_q);
}

// Adds the [c][parts] partials into [c] totals: one warp per channel, lanes over the partials in
// a fixed stride, then a butterfly.
__global__ void __launch_bounds__(kThreads)
    merge_kernel(int c, int parts, const double* part_s, const double* part_q, double* total_s,
                 double* total_q) {
  const int j = blockIdx.x * kWarps + threadIdx.x / 32;
  if (j >= c) return;  // a whole warp: the butterfly below has all its lanes
  const int lane = threadIdx.x % 32;
  double s = 0, q = 0;
  for (int p = lane; p < parts; p += 32) {
    s += part_s[int64_t(j) * parts + p];
    q += part_q[int64_t(j) * parts + p];
  }
  for (int off = 16; off > 0; off /= 2) {
    s += __shfl_xor_sync(kFullMask, s, off);
    q += __shfl_xor_sync(kFullMask, q, off);
  }
  if (lane == 0) total_s[j] = s, total_q[j] = q;
}

// y = relu((x - shift) * a + b [+ residual]) over the block's chunk, with the tile's
// coefficients in shared memory (indexed by channel within the tile); without the ReLU
// y = (x - shift) * a + b (residual null).
template <class T, int V, bool Relu>
__device__ void forward_rows(const Tiling& t, const Thread& th, const T* x, const T* residual, T* y,
                             const float* sh_shift, const float* sh_a, const float* sh_b) {
  if (!th.active) return;
  float shift[V], a[V], b[V];
#pragma unroll
  for (int i = 0; i < V; ++i) {
    const int k = th.unit_in_tile * V + i;
    shift[i] = sh_shift[k], a[i] = sh_a[k], b[i] = sh_b[k];
  }
  const int64_t r0 = int64_t(blockIdx.x) * t.chunk_rows;
  const int64_t r1 = min(t.rows, r0 + t.chunk_rows);
  for (int64_t r = r0 + th.row_lane; r < r1; r += int64_t(th.ty) * kBatch) {
    float v[kBatch][V] = {}, res[kBatch][V] = {};
    load_rows<V>(x, r, r1, th, t.c, v);
    if (residual) load_rows<V>(residual, r, r1, th, t.c, res);
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int64_t row = r + int64_t(k) * th.ty;
      if (row < r1) {
        float out[V];
#pragma unroll
        for (int i = 0; i < V; ++i) {
          if constexpr (Relu) {
            const float z = (v[k][i] - shift[i]) * a[i] + b[i] + res[k][i];
            out[i] = z > 0.f ? z : 0.f;
          } else {
            out[i] = (v[k][i] - shift[i]) * a[i] + b[i];
          }
        }
        store<V>(y + row * t.c + th.col, out);
      }
    }
  }
}

// The training forward's apply: finalize (see Design) and normalize.
template <class T, int V, bool Relu>
__global__ void __launch_bounds__(kThreads)
    forward_train_apply_kernel(Tiling t, const T* x, const T* residual, const float* gamma,
                               const float* beta, float eps, float momentum, const double* sum,
                               const double* sumsq, int parts, float* running_mean,
                               float* running_var, float* save_mean, float* save_invstd, T* y) {
  __shared__ float sh_shift[kMaxTileChannels], sh_a[kMaxTileChannels], sh_b[kMaxTileChannels];
  const Thread th = this_thread<V>(t);
  const int tile_channels = th.tx * V;  // <= kMaxTileChannels <= kThreads
  const int j = blockIdx.y * tile_channels + threadIdx.x;
  if (threadIdx.x < tile_channels && j < t.c) {
    double s, q;
    channel_totals(j, parts, sum, sumsq, s, q);
    const double n = double(t.rows);
    const double mean = s / n;
    const double var = fmax(0.0, q / n - mean * mean);
    const double invstd = 1.0 / sqrt(var + double(eps));
    const float shift = float(mean);
    sh_shift[threadIdx.x] = shift;
    sh_a[threadIdx.x] = float(double(gamma[j]) * invstd);
    sh_b[threadIdx.x] = float(double(beta[j]) - (mean - double(shift)) * double(gamma[j]) * invstd);
    if (blockIdx.x == 0) {  // one block per tile writes the per-channel outputs
      save_mean[j] = float(mean);
      save_invstd[j] = float(invstd);
      const double m = double(momentum);
      const double unbiased = t.rows > 1 ? var * n / (n - 1.0) : var;
      running_mean[j] = float((1.0 - m) * double(running_mean[j]) + m * mean);
      running_var[j] = float((1.0 - m) * double(running_var[j]) + m * unbiased);
    }
  }
  __syncthreads();
  forward_rows<T, V, Relu>(t, th, x, residual, y, sh_shift, sh_a, sh_b);
}

template <class T, int V, bool Relu>
__global__ void __launch_bounds__(kThreads)
    forward_eval_kernel(Tiling t, const T* x, const T* residual, const float* gamma,
                        const float* beta, const float* running_mean, const float* running_var,
                        float eps, T* y) {
  __shared__ float sh_shift[kMaxTileChannels], sh_a[kMaxTileChannels], sh_b[kMaxTileChannels];
  const Thread th = this_thread<V>(t);
  const int tile_channels = th.tx * V;
  const int j = blockIdx.y * tile_channels + threadIdx.x;
  if (threadIdx.x < tile_channels && j < t.c) {
    sh_shift[threadIdx.x] = running_mean[j];
    sh_a[threadIdx.x] = float(double(gamma[j]) / sqrt(double(running_var[j]) + double(eps)));
    sh_b[threadIdx.x] = beta[j];
  }
  __syncthreads();
  forward_rows<T, V, Relu>(t, th, x, residual, y, sh_shift, sh_a, sh_b);
}

// dx = g * a + (x - mean) * b + d per channel (the three terms of the backward folded, as in the
// CPU kernel), dresidual = g.
template <class T, int V, bool Relu>
__global__ void __launch_bounds__(kThreads)
    backward_apply_kernel(Tiling t, const T* x, const T* y, const T* dy, const float* gamma,
                          const float* save_mean, const float* save_invstd, const double* sum_g,
                          const double* sum_gx, int parts, T* dx, T* dresidual, float* dgamma,
                          float* dbeta, bool accumulate) {
  __shared__ float sh_mean[kMaxTileChannels], sh_a[kMaxTileChannels], sh_b[kMaxTileChannels],
      sh_d[kMaxTileChannels];
  const Thread th = this_thread<V>(t);
  const int tile_channels = th.tx * V;
  const int j = blockIdx.y * tile_channels + threadIdx.x;
  if (threadIdx.x < tile_channels && j < t.c) {
    double sg, sgx;
    channel_totals(j, parts, sum_g, sum_gx, sg, sgx);
    const double n = double(t.rows);
    const double mean = save_mean[j], invstd = save_invstd[j];
    const double dg = (sgx - mean * sg) * invstd;
    const double k = double(gamma[j]) * invstd;
    sh_mean[threadIdx.x] = save_mean[j];
    sh_a[threadIdx.x] = float(k);
    sh_b[threadIdx.x] = float(-k * dg * invstd / n);
    sh_d[threadIdx.x] = float(-k * sg / n);
    if (blockIdx.x == 0) {  // the only reader and writer of dgamma[j] and dbeta[j]
      // Rounded to float before the add: the bits of a fresh gradient summed into the buffer.
      dbeta[j] = accumulate ? dbeta[j] + float(sg) : float(sg);
      dgamma[j] = accumulate ? dgamma[j] + float(dg) : float(dg);
    }
  }
  __syncthreads();
  if (!th.active) return;
  float mean[V], a[V], b[V], d[V];
#pragma unroll
  for (int i = 0; i < V; ++i) {
    const int k = th.unit_in_tile * V + i;
    mean[i] = sh_mean[k], a[i] = sh_a[k], b[i] = sh_b[k], d[i] = sh_d[k];
  }
  const int64_t r0 = int64_t(blockIdx.x) * t.chunk_rows;
  const int64_t r1 = min(t.rows, r0 + t.chunk_rows);
  for (int64_t r = r0 + th.row_lane; r < r1; r += int64_t(th.ty) * kBatch) {
    float xv[kBatch][V] = {}, yv[kBatch][V] = {}, gv[kBatch][V] = {};
    load_rows<V>(x, r, r1, th, t.c, xv);
    if constexpr (Relu) load_rows<V>(y, r, r1, th, t.c, yv);
    load_rows<V>(dy, r, r1, th, t.c, gv);
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int64_t row = r + int64_t(k) * th.ty;
      if (row < r1) {
        const int64_t at = row * t.c + th.col;
        float g[V], out[V];
#pragma unroll
        for (int i = 0; i < V; ++i) {
          g[i] = (!Relu || yv[k][i] > 0.f) ? gv[k][i] : 0.f;
          out[i] = g[i] * a[i] + (xv[k][i] - mean[i]) * b[i] + d[i];
        }
        store<V>(dx + at, out);
        if (dresidual) store<V>(dresidual + at, g);
      }
    }
  }
}

// ---- host side ----

void check_shape(int64_t rows, int c, const char* what) {
  if (rows <= 0 || c <= 0)
    throw std::invalid_argument(std::string(what) + ": empty input (" + std::to_string(rows) +
                                " x " + std::to_string(c) + ")");
}

template <class T>
bool vectorizable(int c, std::initializer_list<const T*> pointers) {
  if (c % 4 != 0) return false;
  for (const T* p : pointers)
    if (p != nullptr && !aligned4(p)) return false;
  return true;
}

// Where the partials of a reduction launch `r` live, and the totals the apply reads.
struct Sums {
  double *part_s, *part_q;  // [c][parts]
  const double *s, *q;      // what the apply adds up: the partials, or the merged totals
  int parts;                // per channel in s and q
};

Sums sums_in(void* scratch, const Launch& r) {
  double* base = static_cast<double*>(scratch);
  const int64_t n = int64_t(r.t.c) * r.grid.x;
  return {base, base + n, base, base + n, int(r.grid.x)};
}

// Runs the merge when the partials are too many to fold into the apply.
void merge_if_many(Sums& s, int c, cudaStream_t stream) {
  if (s.parts <= kMaxFoldedParts) return;
  double* total_s = s.part_q + int64_t(c) * s.parts;
  double* total_q = total_s + c;
  launch(merge_kernel, unsigned(ceil_div(c, kWarps)), kThreads, stream)(c, s.parts, s.part_s,
                                                                        s.part_q, total_s, total_q);
  s = {s.part_s, s.part_q, total_s, total_q, 1};
}

template <bool Relu, int V, class T>
void forward_train(int64_t rows, int c, const T* x, const T* residual, const float* gamma,
                   const float* beta, float eps, float momentum, float* running_mean,
                   float* running_var, T* y, float* save_mean, float* save_invstd, void* scratch,
                   cudaStream_t stream) {
  const Launch r = reduce_plan(rows, c, V);
  Sums s = sums_in(scratch, r);
  launch(forward_stats_kernel<T, V>, r.grid, kThreads, stream)(r.t, x, s.part_s, s.part_q);
  merge_if_many(s, c, stream);
  const Launch a = apply_plan(rows, c, V);
  launch(forward_train_apply_kernel<T, V, Relu>, a.grid, kThreads, stream)(
      a.t, x, residual, gamma, beta, eps, momentum, s.s, s.q, s.parts, running_mean, running_var,
      save_mean, save_invstd, y);
}

template <bool Relu, int V, class T>
void forward_eval(int64_t rows, int c, const T* x, const T* residual, const float* gamma,
                  const float* beta, const float* running_mean, const float* running_var, float eps,
                  T* y, cudaStream_t stream) {
  const Launch a = apply_plan(rows, c, V);
  launch(forward_eval_kernel<T, V, Relu>, a.grid, kThreads, stream)(
      a.t, x, residual, gamma, beta, running_mean, running_var, eps, y);
}

template <bool Relu, int V, class T>
void backward(int64_t rows, int c, const T* x, const T* y, const T* dy, const float* gamma,
              const float* save_mean, const float* save_invstd, T* dx, T* dresidual, float* dgamma,
              float* dbeta, bool accumulate, void* scratch, cudaStream_t stream) {
  const Launch r = reduce_plan(rows, c, V);
  Sums s = sums_in(scratch, r);
  launch(backward_stats_kernel<T, V, Relu>, r.grid, kThreads, stream)(r.t, x, y, dy, s.part_s,
                                                                      s.part_q);
  merge_if_many(s, c, stream);
  const Launch a = apply_plan(rows, c, V);
  launch(backward_apply_kernel<T, V, Relu>, a.grid, kThreads, stream)(
      a.t, x, y, dy, gamma, save_mean, save_invstd, s.s, s.q, s.parts, dx, dresidual, dgamma, dbeta,
      accumulate);
}

// The entry points: check the shape, then run the widest access the shape and the activations'
// alignment allow. Without the ReLU there is no residual, and y and dresidual are null.
template <bool Relu, class T>
void forward_train_any(const char* what, int64_t rows, int c, const T* x, const T* residual,
                       const float* gamma, const float* beta, float eps, float momentum,
                       float* running_mean, float* running_var, T* y, float* save_mean,
                       float* save_invstd, void* scratch, cudaStream_t stream) {
  check_shape(rows, c, what);
  if (vectorizable<T>(c, {x, residual, y}))
    forward_train<Relu, 4>(rows, c, x, residual, gamma, beta, eps, momentum, running_mean,
                           running_var, y, save_mean, save_invstd, scratch, stream);
  else
    forward_train<Relu, 1>(rows, c, x, residual, gamma, beta, eps, momentum, running_mean,
                           running_var, y, save_mean, save_invstd, scratch, stream);
}

template <bool Relu, class T>
void forward_eval_any(const char* what, int64_t rows, int c, const T* x, const T* residual,
                      const float* gamma, const float* beta, const float* running_mean,
                      const float* running_var, float eps, T* y, cudaStream_t stream) {
  check_shape(rows, c, what);
  if (vectorizable<T>(c, {x, residual, y}))
    forward_eval<Relu, 4>(rows, c, x, residual, gamma, beta, running_mean, running_var, eps, y,
                          stream);
  else
    forward_eval<Relu, 1>(rows, c, x, residual, gamma, beta, running_mean, running_var, eps, y,
                          stream);
}

template <bool Relu, class T>
void backward_any(const char* what, int64_t rows, int c, const T* x, const T* y, const T* dy,
                  const float* gamma, const float* save_mean, const float* save_invstd, T* dx,
                  T* dresidual, float* dgamma, float* dbeta, bool accumulate, void* scratch,
                  cudaStream_t stream) {
  check_shape(rows, c, what);
  if (vectorizable<T>(c, {x, y, dy, dx, dresidual}))
    backward<Relu, 4>(rows, c, x, y, dy, gamma, save_mean, save_invstd, dx, dresidual, dgamma,
                      dbeta, accumulate, scratch, stream);
  else
    backward<Relu, 1>(rows, c, x, y, dy, gamma, save_mean, save_invstd, dx, dresidual, dgamma,
                      dbeta, accumulate, scratch, stream);
}

}  // namespace

size_t batchnorm_relu_scratch_bytes(int64_t rows, int c) {
  if (rows <= 0 || c <= 0) return 0;
  size_t doubles = partial_doubles(reduce_plan(rows, c, 1));
  if (c % 4 == 0) doubles = std::max(doubles, partial_doubles(reduce_plan(rows, c, 4)));
  return doubles * sizeof(double);
}

void batchnorm_relu_forward_train(int64_t rows, int c, const float* x, const float* residual,
                                  const float* gamma, const float* beta, float eps,
                                  float momentum, float* running_mean, float* running_var,
                                  float* y, float* save_mean, float* save_invstd, void* scratch,
                                  cudaStream_t stream) {
  forward_train_any<true>("batchnorm_relu_forward_train", rows, c, x, residual, gamma, beta, eps,
                          momentum, running_mean, running_var, y, save_mean, save_invstd, scratch,
                          stream);
}

void batchnorm_relu_forward_eval(int64_t rows, int c, const float* x, const float* residual,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float eps, float* y,
                                 cudaStream_t stream) {
  forward_eval_any<true>("batchnorm_relu_forward_eval", rows, c, x, residual, gamma, beta,
                         running_mean, running_var, eps, y, stream);
}

void batchnorm_relu_backward(int64_t rows, int c, const float* x, const float* y, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dresidual, float* dgamma, float* dbeta,
                             bool accumulate, void* scratch, cudaStream_t stream) {
  backward_any<true>("batchnorm_relu_backward", rows, c, x, y, dy, gamma, save_mean, save_invstd,
                     dx, dresidual, dgamma, dbeta, accumulate, scratch, stream);
}

void batchnorm_relu_forward_train(int64_t rows, int c, const BF16* x, const BF16* residual,
                                  const float* gamma, const float* beta, float eps, float momentum,
                                  float* running_mean, float* running_var, BF16* y,
                                  float* save_mean, float* save_invstd, void* scratch,
                                  cudaStream_t stream) {
  forward_train_any<true>("batchnorm_relu_forward_train", rows, c, x, residual, gamma, beta, eps,
                          momentum, running_mean, running_var, y, save_mean, save_invstd, scratch,
                          stream);
}

void batchnorm_relu_forward_eval(int64_t rows, int c, const BF16* x, const BF16* residual,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float eps, BF16* y,
                                 cudaStream_t stream) {
  forward_eval_any<true>("batchnorm_relu_forward_eval", rows, c, x, residual, gamma, beta,
                         running_mean, running_var, eps, y, stream);
}

void batchnorm_relu_backward(int64_t rows, int c, const BF16* x, const BF16* y, const BF16* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             BF16* dx, BF16* dresidual, float* dgamma, float* dbeta,
                             bool accumulate, void* scratch, cudaStream_t stream) {
  backward_any<true>("batchnorm_relu_backward", rows, c, x, y, dy, gamma, save_mean, save_invstd,
                     dx, dresidual, dgamma, dbeta, accumulate, scratch, stream);
}

void batchnorm_forward_train(int64_t rows, int c, const BF16* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, BF16* y, float* save_mean, float* save_invstd,
                             void* scratch, cudaStream_t stream) {
  forward_train_any<false, BF16>("batchnorm_forward_train", rows, c, x, nullptr, gamma, beta, eps,
                                 momentum, running_mean, running_var, y, save_mean, save_invstd,
                                 scratch, stream);
}

void batchnorm_forward_eval(int64_t rows, int c, const BF16* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, BF16* y, cudaStream_t stream) {
  forward_eval_any<false, BF16>("batchnorm_forward_eval", rows, c, x, nullptr, gamma, beta,
                                running_mean, running_var, eps, y, stream);
}

void batchnorm_backward(int64_t rows, int c, const BF16* x, const BF16* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, BF16* dx, float* dgamma,
                        float* dbeta, bool accumulate, void* scratch, cudaStream_t stream) {
  backward_any<false, BF16>("batchnorm_backward", rows, c, x, nullptr, dy, gamma, save_mean,
                            save_invstd, dx, nullptr, dgamma, dbeta, accumulate, scratch, stream);
}

}  // namespace rf::gpu
