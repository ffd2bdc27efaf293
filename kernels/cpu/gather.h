#pragma once
// out[i, :] = table[indices[i], :] for i < n, rows of `cols` floats (soft-label targets picked by
// sample index). Every index must be within the table: the caller checks.
#include <cstdint>

namespace rf::cpu {

void gather_rows(int64_t n, int cols, const float* table, const int64_t* indices, float* out);

}  // namespace rf::cpu
