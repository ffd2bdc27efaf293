#include "train/device_dataset.h"

#include "data/normalize.h"
#include "engine/check.h"

namespace rf::train {

DeviceDataset::DeviceDataset(const data::Dataset& data, const data::LoaderOptions& options,
                             Device device, const data::SoftLabels* soft)
    : name_(data.name), device_(device), soft_(soft != nullptr), labels_(data.labels) {
  data.validate(data.name);
  RF_CHECK(data.size() > 0, name_ << ": cannot make batches from an empty dataset");
  const int classes = data.num_classes();
  RF_CHECK(!soft || (soft->rows == data.size() && soft->classes == classes),
           name_ << ": soft labels are " << soft->rows << " x " << soft->classes
                 << ", dataset has " << data.size() << " samples of " << classes << " classes");
  const data::Normalization norm = options.normalization.mean.empty()
                                       ? data::Normalization::identity(data.channels)
                                       : options.normalization;
  batch_.count = int64_t(data.size());
  batch_.h = data.height;
  batch_.w = data.width;
  batch_.c = data.channels;
  batch_.seed = options.seed;
  batch_.spec = options.augment;
  batch_.norm = data::channel_affine(norm, data.channels, name_);
  check_augment_batch(batch_);

  Backend& backend = backend_for(device);
  images_ = std::make_unique<Storage>(backend, data.images.size());
  backend.copy_from_host(images_->data(), data.images.data(), data.images.size());
  if (soft) {
    targets_ = Tensor::from_host(soft->values, {int64_t(soft->rows), classes}, device);
  } else {
    std::vector<float> identity(size_t(classes) * size_t(classes), 0.f);
    for (int k = 0; k < classes; ++k) identity[size_t(k) * size_t(classes + 1)] = 1.f;
    targets_ = Tensor::from_host(identity, {classes, classes}, device);
  }
}

DeviceBatch DeviceDataset::make_batch(std::span<const std::size_t> indices,
                                      std::uint64_t epoch) const {
  const int64_t n = int64_t(indices.size());
  RF_CHECK(n > 0, name_ << ": an empty batch");
  // [sample indices | target rows]: one upload; the target rows are the samples' own with soft
  // labels, their labels' with one-hot targets.
  std::vector<int64_t> keys(soft_ ? size_t(n) : 2 * size_t(n));
  for (size_t i = 0; i < indices.size(); ++i) {
    RF_CHECK(indices[i] < labels_.size(), name_ << ": sample index " << indices[i]
                                                << " (batch position " << i << ") is outside its "
                                                << labels_.size() << " samples");
    keys[i] = int64_t(indices[i]);
    if (!soft_) keys[size_t(n) + i] = labels_[indices[i]];
  }
  Backend& backend = backend_for(device_);
  const Storage device_keys(backend, keys.size() * sizeof(int64_t));
  backend.copy_from_host(device_keys.data(), keys.data(), keys.size() * sizeof(int64_t));
  const auto* sample_keys = static_cast<const int64_t*>(device_keys.data());

  AugmentBatch a = batch_;
  a.n = n;
  a.epoch = epoch;
  DeviceBatch out{Tensor::empty({n, batch_.h, batch_.w, batch_.c}, device_),
                  Tensor::empty({n, targets_.dim(1)}, device_)};
  const auto* images = static_cast<const std::uint8_t*>(images_->data());
  backend.augment_batch(a, images, sample_keys, out.images.data());
  backend.gather_rows(n, int(targets_.dim(1)), targets_.data(), targets_.dim(0),
                      soft_ ? sample_keys : sample_keys + n, out.targets.data());
  // device_keys is freed here: on CUDA a stream-ordered free, after the kernels that read it.
  return out;
}

}  // namespace rf::train
