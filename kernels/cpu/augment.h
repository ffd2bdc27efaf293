#pragma once
// A batch of augmented, normalized images (see AugmentBatch in kernels/augment_spec.h and
// Backend::augment_batch). Every index must be < a.count: the caller checks.
#include <cstdint>

#include "kernels/augment_spec.h"

namespace rf::cpu {

void augment_batch(const AugmentBatch& a, const std::uint8_t* images, const int64_t* indices,
                   float* out);

}  // namespace rf::cpu
