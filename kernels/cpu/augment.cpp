#include "kernels/cpu/augment.h"

#include "kernels/cpu/augment_image.h"
#include "kernels/cpu/parallel.h"

namespace rf::cpu {

// Threads own whole samples: each is the same call the data loader makes for it, so the result
// does not depend on the thread count.
void augment_batch(const AugmentBatch& a, const std::uint8_t* images, const int64_t* indices,
                   float* out) {
  const int64_t bytes = a.image_bytes();
#pragma omp parallel for schedule(static) if (a.n * bytes > kParallelMin)
  for (int64_t i = 0; i < a.n; ++i)
    augment_image(a.spec, images + indices[i] * bytes, a.h, a.w, a.c,
                  {a.seed, a.epoch, uint64_t(indices[i])}, a.norm, out + i * bytes);
}

}  // namespace rf::cpu
