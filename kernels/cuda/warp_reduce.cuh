#pragma once
// Butterfly reductions over aligned groups of `width` lanes (a power of two dividing 32). Every
// lane of the group ends with the same, bitwise identical, result: float addition and fmaxf are
// commutative, so partners compute identical values.
#include <cuda_runtime.h>

namespace rf::gpu {

constexpr unsigned kFullMask = 0xffffffffu;

template <int width = 32>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int off = width / 2; off > 0; off /= 2) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}

template <int width = 32>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int off = width / 2; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, off));
  return v;
}

// Merges running (max, sum of exp(x - max)) pairs of the group. A lane that saw only -inf (or
// nothing) holds (-inf, 0) and contributes nothing.
template <int width = 32>
__device__ __forceinline__ void group_merge_max_sumexp(float& m, float& s) {
#pragma unroll
  for (int off = width / 2; off > 0; off /= 2) {
    const float m2 = __shfl_xor_sync(kFullMask, m, off);
    const float s2 = __shfl_xor_sync(kFullMask, s, off);
    const float mn = fmaxf(m, m2);
    const float a = m == -INFINITY ? 0.f : s * expf(m - mn);
    const float b = m2 == -INFINITY ? 0.f : s2 * expf(m2 - mn);
    s = a + b;
    m = mn;
  }
}

// Adds a running (max, sum) pair with one more value x.
__device__ __forceinline__ void online_max_sumexp(float x, float& m, float& s) {
  if (x > m) {
    s = s * expf(m - x) + 1.f;  // m == -inf gives s * 0 + 1
    m = x;
  } else if (m != -INFINITY) {
    s += expf(x - m);
  }
}

}  // namespace rf::gpu
