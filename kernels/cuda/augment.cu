#include "kernels/cuda/augment.cuh"

#include <stdexcept>
#include <string>

#include "kernels/augment_math.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"

// Design. One block per sample; its threads stride over the output pixels, each writing all
// channels of a pixel so that the pixel's bilinear tap is computed once. Every thread draws the
// sample's parameters itself from the key (a handful of splitmix steps and one sinf/cosf): that
// costs less than a shared-memory handoff with its barrier, and keeps each thread independent.
// The arithmetic is kernels/augment_math.h, the CPU's own, compiled with --fmad=false
// (kernels/cuda/CMakeLists.txt) so that every operation rounds as it does on the CPU.

namespace rf::gpu {
namespace {

__global__ void __launch_bounds__(kThreads)
    augment_kernel(AugmentBatch a, const std::uint8_t* images, const int64_t* indices,
                   float* out) {
  const int pixels = a.h * a.w;
  const int64_t index = indices[blockIdx.x];
  float* dst = out + int64_t(blockIdx.x) * a.image_bytes();
  // No image to read: NaN makes the loss show it (callers check indices on the host).
  if (index < 0 || index >= a.count) {  // uniform over the block
    for (int e = threadIdx.x; e < pixels * a.c; e += blockDim.x) dst[e] = NAN;
    return;
  }
  const std::uint8_t* src = images + index * a.image_bytes();
  KeyedRng rng(a.seed, a.epoch, std::uint64_t(index));

  switch (a.spec.kind) {  // uniform over the block
    case AugmentKind::None:
      for (int p = threadIdx.x; p < pixels; p += blockDim.x)
        for (int k = 0; k < a.c; ++k)
          dst[p * a.c + k] = augment::normalize(float(src[p * a.c + k]), a.norm, k);
      return;
    case AugmentKind::Keras: {
      const augment::WarpMap m =
          augment::warp_map(augment::draw_keras_params(a.spec.keras, a.h, a.w, rng), a.h, a.w);
      for (int p = threadIdx.x; p < pixels; p += blockDim.x) {
        const augment::BilinearTap t = augment::warp_tap(m, p / a.w, p % a.w);
        for (int k = 0; k < a.c; ++k)
          dst[p * a.c + k] = augment::normalize(augment::bilinear(t, src, a.c, k), a.norm, k);
      }
      return;
    }
    case AugmentKind::CropFlip: {
      const CropParams cp = augment::draw_crop_params(a.spec.crop, rng);
      for (int p = threadIdx.x; p < pixels; p += blockDim.x) {
        const int s = augment::crop_source(cp, a.spec.crop.pad, a.h, a.w, p / a.w, p % a.w);
        for (int k = 0; k < a.c; ++k)
          dst[p * a.c + k] =
              augment::normalize(s >= 0 ? float(src[s * a.c + k]) : 0.0f, a.norm, k);
      }
      return;
    }
  }
}

}  // namespace

void augment_batch(const AugmentBatch& a, const std::uint8_t* images, const int64_t* indices,
                   float* out, cudaStream_t stream) {
  if (a.n < 0 || a.n > INT32_MAX)
    throw std::invalid_argument("augment_batch: " + std::to_string(a.n) + " samples");
  if (a.n == 0) return;
  launch(augment_kernel, unsigned(a.n), kThreads, stream)(a, images, indices, out);
}

}  // namespace rf::gpu
