#include "kernels/cuda/metrics.cuh"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/metric_totals.h"

namespace rf::gpu {
namespace {

// One block: a thread scans whole rows exactly as the CPU twin does (same first-maximum and NaN
// behaviour), the block sums the integer counts (order-free, so deterministic) and thread 0 alone
// updates the doubles, batch after batch in stream order, as the host loop used to. A batch's
// rows x classes are a few thousand floats: one block is plenty.
__global__ void accumulate_metrics_kernel(int64_t rows, int cols, const float* logits,
                                          const int32_t* labels, const float* loss, double* totals, unsigned long long* confusion) {
  __shared__ unsigned long long warp_counts[kThreads / 32];
  unsigned long long correct = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const float* v = logits + r * cols;
    int best = 0;
    for (int j = 1; j < cols; ++j)
      if (v[j] > v[best]) best = j;
    const int label = labels[r];
    correct += best == label;
    if (confusion != nullptr) atomicAdd(confusion + int64_t(label) * cols + best, 1ull);
  }
  for (int off = 16; off > 0; off /= 2) correct += __shfl_down_sync(0xffffffffu, correct, off);
  if (threadIdx.x % 32 == 0) warp_counts[threadIdx.x / 32] = correct;
  __syncthreads();
  if (threadIdx.x != 0) return;
  unsigned long long total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += warp_counts[w];
  totals[kCorrect] += double(total);
  totals[kSeen] += double(rows);
  totals[kBatches] += 1;
  if (loss == nullptr) return;
  const float l = *loss;
  totals[kLossSum] += double(l) * double(rows);
  if (!isfinite(l) && totals[kFirstBadBatch] < 0) {
    totals[kFirstBadBatch] = totals[kBatches];
    totals[kFirstBadLoss] = double(l);
  }
}

}  // namespace

void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                        const float* loss, double* totals, int64_t* confusion,
                        cudaStream_t stream) {
  static_assert(sizeof(int64_t) == sizeof(unsigned long long), "confusion counts as 64-bit atomics");
  launch(accumulate_metrics_kernel, 1, kThreads, stream)(
      rows, cols, logits, labels, loss, totals, reinterpret_cast<unsigned long long*>(confusion));
}

}  // namespace rf::gpu
