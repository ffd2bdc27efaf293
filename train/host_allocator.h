#pragma once
// Where the data loader puts its batches: page-locked memory when batches go to a GPU (the
// driver copies from it by DMA, without staging through a bounce buffer), ordinary aligned memory
// otherwise.
#include "data/loader.h"
#include "engine/device.h"

namespace rf::train {

data::HostAllocator host_allocator_for(Device device);

}  // namespace rf::train
