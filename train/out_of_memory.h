#pragma once
// A device out-of-memory error restated for the person who runs training. The backend knows
// only how many bytes it could not get; the trainer knows the batch size that asked for them,
// which is what a person can change.
#include <cstddef>

#include "engine/check.h"

namespace rf::train {

// `e` with a message that says how much memory was asked for at what batch size and what to
// try ("GPU out of memory: asked for 768.0 MiB at batch size 250; try --batch-size 125 ..."),
// followed by the backend's own text.
OutOfMemory explain_out_of_memory(const OutOfMemory& e, std::size_t batch_size);

}  // namespace rf::train
