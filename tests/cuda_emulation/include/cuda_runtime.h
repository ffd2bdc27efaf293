#pragma once
// A stand-in for CUDA's runtime header that lets the kernels of kernels/cuda compile as plain C++
// and run on the host (tests/cuda_emulation/emulator.cpp): every CUDA thread of a block is a
// fiber, __syncthreads and the warp shuffles are barriers between them, blocks run one after
// another. Found before the real header only by the emulated build of the kernels
// (rf_kernels_cuda_emulated); nothing else sees it. It covers what kernels/cuda uses, no more.
//
// What it checks: indexing (under AddressSanitizer every out-of-bounds access of a kernel is
// reported), reductions, block and warp synchronization (a deadlock, or a full-mask shuffle after
// a lane has exited, is an error), launch configurations. What it cannot: timing, memory
// coherence between blocks, anything of cuDNN, cuBLAS, streams or graphs, and the GPU's own
// arithmetic (no fused multiply-adds here; expf and friends are the host's).
#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define RF_CUDA_EMULATION 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Shared memory is static storage in one section, which the emulator fills with 0xff bytes (a
// NaN as float or double, -1 as an integer) before each block: a kernel that reads shared memory
// it did not write gets garbage, as on the GPU, not what the previous block left there. One
// block runs at a time in the whole process.
#define __shared__ __attribute__((section("rf_emulated_shared"))) static

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// CUDA's min and max overloads for the types the kernels compare.
#define RF_EMULATED_MIN_MAX(T)                    \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
RF_EMULATED_MIN_MAX(int)
RF_EMULATED_MIN_MAX(unsigned)
RF_EMULATED_MIN_MAX(long)
RF_EMULATED_MIN_MAX(unsigned long)
RF_EMULATED_MIN_MAX(long long)
RF_EMULATED_MIN_MAX(unsigned long long)
#undef RF_EMULATED_MIN_MAX

struct CUstream_st;
using cudaStream_t = CUstream_st*;

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream);

// The running thread's coordinates, set by the emulator before it resumes a fiber.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

void __syncthreads();

namespace rf::cuda_emulation {
// Runs thread() once per thread of every block of the grid; throws std::runtime_error on a
// deadlock or a shuffle that names an exited lane. A bad configuration sets cudaGetLastError.
void run(dim3 grid, dim3 block, const std::function<void()>& thread);
// The warp exchange behind the shuffles: every lane of `mask` deposits `bits`, and each gets
// what lane `src_lane` deposited.
std::uint64_t exchange(unsigned mask, std::uint64_t bits, int src_lane);
int lane_id();
}  // namespace rf::cuda_emulation

template <class T>
T rf_emulated_shuffle(unsigned mask, T v, int src_lane) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t));
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  bits = rf::cuda_emulation::exchange(mask, bits, src_lane);
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// A source lane in a later group of `width` lanes gives the caller its own value, as on the GPU.
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = rf::cuda_emulation::lane_id();
  const int src = lane ^ lane_mask;
  return rf_emulated_shuffle(mask, v, src >= (lane / width + 1) * width ? lane : src);
}

template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = rf::cuda_emulation::lane_id();
  return rf_emulated_shuffle(mask, v, lane % width + int(delta) < width ? lane + int(delta) : lane);
}

// Fibers never run at the same time, so an atomic is a plain read-modify-write.
template <class T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
