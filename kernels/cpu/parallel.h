#pragma once
// When a CPU loop is worth splitting across threads. Below this many elements of work a parallel
// region costs more than it saves, and on a busy machine it can stall for a whole scheduler slice
// waiting for a descheduled thread.
#include <cstdint>

namespace rf::cpu {

constexpr int64_t kParallelMin = int64_t(1) << 15;

}  // namespace rf::cpu
