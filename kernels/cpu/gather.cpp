#include "kernels/cpu/gather.h"

#include <cstring>

#include "kernels/cpu/parallel.h"

namespace rf::cpu {

void gather_rows(int64_t n, int cols, const float* table, const int64_t* indices, float* out) {
#pragma omp parallel for schedule(static) if (n * cols > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * cols, table + indices[i] * cols, sizeof(float) * size_t(cols));
}

}  // namespace rf::cpu
