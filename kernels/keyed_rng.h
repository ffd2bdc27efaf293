#pragma once
// Deterministic random numbers for shuffles, splits and augmentation, on the host and the GPU.
//
// A generator is keyed by (seed, a, b), e.g. (seed, epoch, sample index), so every sample's
// random stream is fixed regardless of which worker thread (or GPU thread) handles it or in what
// order. It is splitmix64 over a counter. std::*_distribution and std::shuffle are avoided on
// purpose: their output differs between standard libraries, which would make "same seed, same
// run" false across machines.
#include <cstdint>

#include "kernels/host_device.h"

namespace rf {

class KeyedRng {
 public:
  RF_HOST_DEVICE explicit KeyedRng(std::uint64_t seed, std::uint64_t a = 0, std::uint64_t b = 0)
      : state_(mix(mix(mix(seed) + a) + b)) {}

  RF_HOST_DEVICE std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return mix(state_);
  }
  // Uniform in [0, 1) with 24 bits, exact in float.
  RF_HOST_DEVICE float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  RF_HOST_DEVICE float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  RF_HOST_DEVICE bool coin() { return (next() >> 63) != 0; }
  // Uniform in [0, n), unbiased (Lemire's multiply-shift with rejection).
  RF_HOST_DEVICE std::uint64_t below(std::uint64_t n) {
    for (;;) {
      const std::uint64_t x = next();
      const std::uint64_t low = x * n;
      if (low >= n || low >= (0 - n) % n) return mul_high(x, n);
    }
  }

 private:
  RF_HOST_DEVICE static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // The high 64 bits of the 128-bit product.
  RF_HOST_DEVICE static std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
#ifdef __CUDA_ARCH__
    return __umul64hi(a, b);
#else
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
  }
  std::uint64_t state_;
};

}  // namespace rf
