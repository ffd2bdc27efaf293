#pragma once
// The two storage types of activations, float and BF16 (kernels/bfloat16.h), for kernels
// templated on them: elements are widened to float when loaded, computed on in float, and rounded
// to the nearest even when stored (a no-op for float), so a bf16 kernel is its float twin with
// one rounding per stored element. Four consecutive elements move in one access (a float4, or 8
// bytes of bf16) where the pointer is aligned to four elements.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/bfloat16.h"

namespace rf::gpu {

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(BF16 v) { return bf16_to_float(v); }

template <class T>
__device__ __forceinline__ T narrow(float v);
template <>
__device__ __forceinline__ float narrow<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ BF16 narrow<BF16>(float v) {
  return float_to_bf16(v);
}

__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
}
// Little-endian: the lower element of each pair lies in the low half of its 32-bit word.
__device__ __forceinline__ void load4(const BF16* p, float (&v)[4]) {
  const uint2 a = *reinterpret_cast<const uint2*>(p);
  v[0] = bf16_to_float(BF16{uint16_t(a.x & 0xffffu)});
  v[1] = bf16_to_float(BF16{uint16_t(a.x >> 16)});
  v[2] = bf16_to_float(BF16{uint16_t(a.y & 0xffffu)});
  v[3] = bf16_to_float(BF16{uint16_t(a.y >> 16)});
}

__device__ __forceinline__ void store4(float* p, const float (&v)[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(BF16* p, const float (&v)[4]) {
  const uint32_t b0 = float_to_bf16(v[0]).bits, b1 = float_to_bf16(v[1]).bits;
  const uint32_t b2 = float_to_bf16(v[2]).bits, b3 = float_to_bf16(v[3]).bits;
  *reinterpret_cast<uint2*>(p) = make_uint2(b0 | b1 << 16, b2 | b3 << 16);
}

// Whether load4 and store4 may access p (views of a tensor may start at any element).
template <class T>
inline bool aligned4(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0;
}

}  // namespace rf::gpu
