#include "train/batch_tensors.h"

namespace rf::train {

namespace {
Tensor from_buffer(const float* src, const Shape& shape, Device device) {
  Tensor t = Tensor::empty(shape, device);
  if (t.numel()) t.backend().copy_from_host(t.data(), src, size_t(t.numel()) * sizeof(float));
  return t;
}
}  // namespace

Tensor batch_images(const data::Batch& b, Device device) {
  return from_buffer(b.images, {int64_t(b.size), b.height, b.width, b.channels}, device);
}

Tensor batch_targets(const data::Batch& b, Device device) {
  return from_buffer(b.soft_targets, {int64_t(b.size), b.classes}, device);
}

}  // namespace rf::train
