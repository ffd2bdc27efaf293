#pragma once
// Helpers of the emulated kernel suites (test_cuda_kernels_emulated): host buffers that stand for
// device memory, random contents, and errors against the double references of tests/reference.h.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/bfloat16.h"
#include "random_values.h"
#include "reference.h"

namespace rf::test {

// n elements (zeroed) of the emulated device's memory, starting `misalign` elements past a
// 256-byte boundary, in an allocation that ends where they end: a kernel that reads or writes
// past the end is reported by AddressSanitizer, and misalign > 0 sends the kernels down their
// scalar (unaligned) paths. The host reads and writes it directly, as only the emulation allows,
// after the device has run everything queued.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n, size_t misalign = 0) : n_(n) {
    void* p = nullptr;
    REQUIRE(cudaMalloc(&p, (misalign + n) * sizeof(T)) == cudaSuccess);
    storage_.reset(static_cast<T*>(p));
    data_ = storage_.get() + misalign;
    std::fill(data_, data_ + n_, T{});
  }
  T* data() { return synchronized(); }
  const T* data() const { return synchronized(); }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return synchronized()[i]; }
  const T& operator[](size_t i) const { return synchronized()[i]; }
  std::vector<T> to_vector() const { return {synchronized(), data_ + n_}; }
  void assign(const std::vector<T>& v) {
    REQUIRE(v.size() == n_);
    std::copy(v.begin(), v.end(), synchronized());
  }

 private:
  // Queued work runs only when the host waits for it (runtime.cpp): every host access waits.
  T* synchronized() const {
    if (cudaDeviceSynchronize() != cudaSuccess) throw std::runtime_error("cudaDeviceSynchronize");
    return data_;
  }
  struct Free {
    void operator()(T* p) const { cudaFree(p); }
  };
  std::unique_ptr<T, Free> storage_;
  T* data_;
  size_t n_;
};

inline ref::Vec to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline std::vector<BF16> to_bf16(const std::vector<float>& v) {
  std::vector<BF16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = float_to_bf16(v[i]);
  return out;
}

inline std::vector<float> widened(const std::vector<BF16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_float(v[i]);
  return out;
}

// max |got - want| / max(1, max |want|): absolute for small values, relative for large ones (the
// op table's normalized_error divides by max |want| alone), and NaN only where NaN is wanted.
inline double error_scaled_to_max_or_one(const std::vector<float>& got, const ref::Vec& want) {
  REQUIRE(got.size() == want.size());
  double err = 0, scale = 1;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) != std::isnan(double(got[i]))) return INFINITY;
    if (std::isnan(want[i])) continue;
    err = std::max(err, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

}  // namespace rf::test
