#include "kernels/cuda/linear_bias.cuh"

#include <stdexcept>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/storage.cuh"

namespace rf::gpu {
namespace {

// Column sums: a block of 32 x 8 threads covers 32 columns of a chunk of kChunkRows rows; each
// warp reads 32 consecutive floats of a row (coalesced). The 8 row lanes are combined in shared
// memory, and the chunks, when more than one, by a second kernel.
constexpr int kTileCols = 32;
constexpr int kTileRows = 8;
constexpr int kChunkRows = 256;

int64_t chunks_for(int64_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

// T: float or BF16 (kernels/cuda/storage.cuh).
template <class T>
__global__ void bias_add_kernel(int64_t rows, int cols, const float* b, T* y) {
  const int64_t total = rows * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = narrow<T>(b[i % cols] + widen(y[i]));
}

// out[j] = (accumulate ? out[j] : 0) + sum: the final write of a column's sum.
__device__ __forceinline__ void put_sum(float* out, int j, float sum, bool accumulate) {
  out[j] = accumulate ? out[j] + sum : sum;
}

// grid = (chunks, column tiles); out gets chunk sums at [chunk * cols + j]. With one chunk out is
// the result, and `accumulate` applies to it.
template <class T>
__global__ void column_chunk_sums_kernel(int64_t rows, int cols, const T* x, float* out,
                                         bool accumulate) {
  __shared__ float part[kTileRows][kTileCols + 1];
  const int j = blockIdx.y * kTileCols + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.x) * kChunkRows;
  const int64_t r1 = min(rows, r0 + kChunkRows);
  float acc = 0.f;
  if (j < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kTileRows) acc += widen(x[r * cols + j]);
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < kTileRows; ++k) sum += part[k][threadIdx.x];
    put_sum(out + int64_t(blockIdx.x) * cols, j, sum, accumulate);
  }
}

__global__ void column_merge_kernel(int64_t chunks, int cols, const float* partial, float* out,
                                    bool accumulate) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float sum = 0.f;
  for (int64_t k = 0; k < chunks; ++k) sum += partial[k * cols + j];
  put_sum(out, j, sum, accumulate);
}

template <class T>
void launch_bias_add(int64_t rows, int cols, const float* b, T* y, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  launch(bias_add_kernel<T>, grid_for(rows * cols), kThreads, stream)(rows, cols, b, y);
}

template <class T>
void launch_column_sums(int64_t rows, int cols, const T* x, float* out, bool accumulate,
                        void* scratch, cudaStream_t stream) {
  if (cols <= 0) return;
  if (rows <= 0) {  // an empty sum: zero, or nothing to add
    if (!accumulate) RF_CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(cols) * sizeof(float), stream));
    return;
  }
  const int64_t chunks = chunks_for(rows);
  const int tiles = (cols + kTileCols - 1) / kTileCols;
  if (chunks > INT32_MAX || tiles > 65535)
    throw std::invalid_argument("column_sums: matrix too large");
  float* partial = chunks > 1 ? static_cast<float*>(scratch) : out;
  launch(column_chunk_sums_kernel<T>, dim3(unsigned(chunks), unsigned(tiles)),
         dim3(kTileCols, kTileRows), stream)(rows, cols, x, partial, accumulate && chunks == 1);
  if (chunks > 1) {
    launch(column_merge_kernel, (cols + kThreads - 1) / kThreads, kThreads, stream)(
        chunks, cols, partial, out, accumulate);
  }
}

}  // namespace

void bias_add(int64_t rows, int cols, const float* b, float* y, cudaStream_t stream) {
  launch_bias_add(rows, cols, b, y, stream);
}

void bias_add(int64_t rows, int cols, const float* b, BF16* y, cudaStream_t stream) {
  launch_bias_add(rows, cols, b, y, stream);
}

size_t column_sums_scratch_bytes(int64_t rows, int cols) {
  const int64_t chunks = chunks_for(rows);
  return chunks > 1 ? size_t(chunks) * size_t(cols) * sizeof(float) : 0;
}

void column_sums(int64_t rows, int cols, const float* x, float* out, bool accumulate,
                 void* scratch, cudaStream_t stream) {
  launch_column_sums(rows, cols, x, out, accumulate, scratch, stream);
}

void column_sums(int64_t rows, int cols, const BF16* x, float* out, bool accumulate,
                 void* scratch, cudaStream_t stream) {
  launch_column_sums(rows, cols, x, out, accumulate, scratch, stream);
}

}  // namespace rf::gpu
