#pragma once
// out[i, :] = table[indices[i], :] for i < n, rows of `cols` floats from a table of `rows` rows
// (Backend::gather_rows). An index outside the table gives a row of NaN.
#include <cuda_runtime.h>

#include <cstdint>

namespace rf::gpu {

void gather_rows(int64_t n, int cols, const float* table, int64_t rows, const int64_t* indices,
                 float* out, cudaStream_t stream);

}  // namespace rf::gpu
