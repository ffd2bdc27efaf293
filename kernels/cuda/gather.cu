#include "kernels/cuda/gather.cuh"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"

namespace rf::gpu {
namespace {

// One thread per output element: consecutive threads read consecutive floats of a row.
__global__ void gather_rows_kernel(int64_t n, int cols, const float* table, int64_t rows,
                                   const int64_t* indices, float* out) {
  const int64_t total = n * cols;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t i = e / cols;
    const int64_t index = indices[i];
    out[e] = index >= 0 && index < rows ? table[index * cols + (e - i * cols)] : NAN;
  }
}

}  // namespace

void gather_rows(int64_t n, int cols, const float* table, int64_t rows, const int64_t* indices,
                 float* out, cudaStream_t stream) {
  if (n <= 0 || cols <= 0) return;
  launch(gather_rows_kernel, grid_for(n * cols), kThreads, stream)(n, cols, table, rows, indices,
                                                                   out);
}

}  // namespace rf::gpu
