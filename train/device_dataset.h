#pragma once
// A training set that lives on the device: its uint8 images and its targets are uploaded once,
// and a batch is made there from sample indices alone (augmentation, normalization and the
// targets' gather are backend ops), instead of on host worker threads and copied over per batch.
// CIFAR-10's 50,000 training images are 150 MB.
//
// On the CPU backend a batch is bitwise the data::Loader batch of the same indices, epoch and
// options (the same kernel makes both); on CUDA the images agree up to the last bit of sin/cos
// of a Keras rotation (Backend::augment_batch), the targets exactly. A data::Loader in
// indices_only mode supplies the order: make_batch(batch->indices, batch->epoch).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/soft_labels.h"
#include "engine/tensor.h"

namespace rf::train {

struct DeviceBatch {
  Tensor images;   // [n, h, w, c], augmented and normalized
  Tensor targets;  // [n, classes]: the soft labels when given, else one-hot
};

class DeviceDataset {
 public:
  // Uploads `data`'s images, and `soft` (one row per sample) or else the one-hot rows of its
  // classes, to `device`. Of `options` it uses augment, normalization (empty: px / 255) and
  // seed, as the loader does; batching and order stay with the loader.
  DeviceDataset(const data::Dataset& data, const data::LoaderOptions& options, Device device,
                const data::SoftLabels* soft = nullptr);

  // The samples at `indices` (positions in the dataset, in batch order, repeats allowed) as
  // epoch `epoch` augments them. Throws, before any upload, when an index is out of range.
  DeviceBatch make_batch(std::span<const std::size_t> indices, std::uint64_t epoch) const;

  std::size_t size() const { return labels_.size(); }
  Device device() const { return device_; }

 private:
  std::string name_;
  Device device_;
  AugmentBatch batch_;  // everything but n and epoch
  std::unique_ptr<Storage> images_;
  // Soft labels are rows per sample, gathered by sample index. One-hot targets are the rows of
  // a classes x classes identity, gathered by each sample's label: the table stays small for any
  // dataset, and one gather serves both.
  Tensor targets_;
  bool soft_ = false;
  std::vector<std::int32_t> labels_;
};

}  // namespace rf::train
