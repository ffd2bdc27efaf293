#pragma once
// Launch-shape helpers shared by the kernels of this directory.
#include <cuda_runtime.h>

#include <cstdint>

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

}  // namespace rf::gpu
