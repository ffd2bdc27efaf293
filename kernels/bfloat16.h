#pragma once
// bfloat16 storage (--precision bf16): the upper half of an IEEE-754 float32 (8 exponent bits, 7
// mantissa bits). Every bf16 op of the engine computes in float32 and rounds what it stores to the
// nearest even bf16, on the CPU and on the GPU alike, so the CPU backend is the GPU's reference.
// A plain struct rather than CUDA's __nv_bfloat16, so that host code, the backend interface and
// the tests share one type; CUDA kernels reinterpret it (same size and bits).
#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace rf {

struct BF16 {
  uint16_t bits;
};

RF_HOST_DEVICE inline float bf16_to_float(BF16 v) {
  const uint32_t u = uint32_t(v.bits) << 16;
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Round to nearest, ties to even; a NaN stays a (quiet) NaN, infinities stay infinite, and a
// finite value too large for bf16 becomes an infinity, as __float2bfloat16_rn does.
RF_HOST_DEVICE inline BF16 float_to_bf16(float f) {
#ifdef __CUDA_ARCH__
  const uint32_t u = __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
#endif
  if ((u & 0x7fffffffu) > 0x7f800000u) return BF16{uint16_t((u >> 16) | 0x0040u)};
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  return BF16{uint16_t(rounded >> 16)};
}

// What storing x in bf16 and reading it back gives.
RF_HOST_DEVICE inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

}  // namespace rf
