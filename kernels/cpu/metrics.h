#pragma once
// One batch added to a loop's running totals (see kernels/metric_totals.h and
// Backend::accumulate_metrics).
#include <cstdint>

namespace rf::cpu {

void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                        const float* loss, double* totals, int64_t* confusion);

}  // namespace rf::cpu
