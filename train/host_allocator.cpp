#include "train/host_allocator.h"

#ifdef RF_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace rf::train {

data::HostAllocator host_allocator_for(Device device) {
#ifdef RF_WITH_CUDA
  if (device == Device::CUDA) return {cuda_pinned_alloc, cuda_pinned_free};
#endif
  (void)device;
  return data::HostAllocator::aligned();
}

}  // namespace rf::train
