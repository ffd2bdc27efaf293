#pragma once
// TF32, as the fakes of cuDNN and cuBLAS (fake_cudnn_conv.cpp, fake_cublas.cpp) apply it to the
// float32 operands of their products where the real libraries may use TF32 tensor cores on the
// emulated device (compute capability 9.0). A tensor core reads only 10 of a float32 operand's 23
// explicit mantissa bits, multiplies exactly and accumulates in float32, so a product of TF32
// values summed in float32 is what the fakes compute; the summation order stays OpenBLAS's.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/bfloat16.h"

namespace rf::cuda_emulation {

// x rounded to TF32 (float32's exponent, 10 explicit mantissa bits), as a float: to nearest, ties
// away from zero, on the bit pattern, as PTX's float32-to-TF32 conversion cvt.rna.tf32.f32 does.
// That is the rounding a kernel applies when it converts its operands; one that hands raw float32
// bits to a TF32 MMA truncates instead, an error up to twice as large (2^-10 relative, not 2^-11).
// Adding half a TF32 ulp to the magnitude bits, then clearing the 13 dropped ones, rounds ties
// away and carries into the exponent when the mantissa overflows (the largest floats become
// infinity, as rounding to nearest does). NaN is returned as it is (the addition could carry its
// payload into the sign, or clear it to infinity's pattern); so is infinity.
inline float round_to_tf32(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) return x;
  return std::bit_cast<float>((bits + 0x1000u) & ~uint32_t{0x1fff});
}

// NVIDIA_TF32_OVERRIDE=0 turns TF32 off in cuDNN and cuBLAS whatever the math mode (NVIDIA's
// documented switch, which tools/gpu_acceptance.sh uses to compare a run with and without TF32).
// Read at each call, as the libraries' own reading at initialization would need a new process.
inline bool tf32_overridden_off() {
  const char* v = std::getenv("NVIDIA_TF32_OVERRIDE");
  return v != nullptr && std::strcmp(v, "0") == 0;
}

// A product operand of `count` elements as the fakes' products see it: bfloat16 widened into
// `copy` (exact in TF32), float32 rounded to TF32 into `copy` when `tf32` (the caller's memory is
// never written), or float32 read in place.
inline const float* operand_as_float(bool bf16, const void* p, int64_t count, bool tf32,
                                     std::vector<float>& copy) {
  if (!bf16 && !tf32) return static_cast<const float*>(p);
  copy.resize(size_t(count));
  if (bf16) {
    const BF16* v = static_cast<const BF16*>(p);
    for (int64_t i = 0; i < count; ++i) copy[size_t(i)] = bf16_to_float(v[i]);
  } else {
    const float* v = static_cast<const float*>(p);
    std::transform(v, v + count, copy.begin(), round_to_tf32);
  }
  return copy.data();
}

}  // namespace rf::cuda_emulation
