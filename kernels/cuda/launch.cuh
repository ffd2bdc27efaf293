#pragma once
// Launch-shape helpers and the one launch call of the kernels of this directory.
#include <cuda_runtime.h>

#include <cstdint>
#include <source_location>
#include <type_traits>

#include "kernels/cuda/check.cuh"

namespace rf::gpu {

constexpr int kThreads = 256;

// Grid-stride kernels need no more blocks than keep every SM full; capping the grid keeps the
// per-thread loop overhead amortized for huge tensors.
inline unsigned grid_for(int64_t work, int threads = kThreads) {
  constexpr int64_t kMaxBlocks = 8192;
  int64_t blocks = (work + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// launch(kernel, grid, block, stream)(args...) is kernel<<<grid, block, 0, stream>>>(args...)
// followed by the launch's error check, which names the caller's file:line. Built against the
// host emulation of tests/cuda_emulation (whose cuda_runtime.h defines RF_CUDA_EMULATION), the
// same call runs the kernel on the host, so every kernel is tested without a GPU too.
template <class... Params>
class KernelLaunch {
 public:
  KernelLaunch(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
         std::source_location caller)
      : kernel_(kernel), grid_(grid), block_(block), stream_(stream), caller_(caller) {}

  void operator()(std::type_identity_t<Params>... args) const {
#ifdef RF_CUDA_EMULATION
    cuda_emulation::launch(stream_, grid_, block_, [kernel = kernel_, args...] { kernel(args...); });
#else
    kernel_<<<grid_, block_, 0, stream_>>>(args...);
#endif
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
      throw_cuda_error(e, "kernel launch", caller_.file_name(), int(caller_.line()));
  }

 private:
  void (*kernel_)(Params...);
  dim3 grid_, block_;
  cudaStream_t stream_;
  std::source_location caller_;
};

template <class... Params>
KernelLaunch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
                         std::source_location caller = std::source_location::current()) {
  return {kernel, grid, block, stream, caller};
}

}  // namespace rf::gpu
