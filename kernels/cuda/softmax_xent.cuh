#pragma once
// Fused softmax + soft-label cross-entropy over a row-major [rows, cols] matrix, one pass over
// logits and targets:
//   *loss    = mean over rows of -sum_j t_j log softmax(x)_j       (written to device memory)
//   dlogits  = (softmax(x) * sum_j t_j - t) / rows                 (skipped when null)
// The mean is reduced deterministically (fixed-order per-block partials, then one block), so
// identical inputs give bitwise identical losses.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rf::gpu {

// Device scratch the launcher needs for the per-block partial sums.
size_t softmax_xent_scratch_bytes(int64_t rows, int cols);

void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets, float* loss,
                  float* dlogits, void* scratch, cudaStream_t stream);

}  // namespace rf::gpu
