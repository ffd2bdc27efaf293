#pragma once
// A loader batch's host buffers as engine tensors on a device.
#include "data/loader.h"
#include "engine/tensor.h"

namespace rf::train {

Tensor batch_images(const data::Batch& b, Device device);   // [n, h, w, c]
Tensor batch_targets(const data::Batch& b, Device device);  // [n, classes]

}  // namespace rf::train
