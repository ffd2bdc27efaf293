#pragma once
// Shuffled, augmented, normalized mini-batches made ahead of the training step by worker threads.
//
// A batch is handed out as a shared, immutable BatchPtr. The "dynamic" refinery gives the same
// BatchPtr to the frozen labeler and to the student, so both see exactly the same augmented
// images; its buffers go back to the loader's pool when the last holder lets go.
//
// Determinism: the order of epoch e depends only on (seed, e); a sample's augmentation depends
// only on (seed, e, sample index). Neither depends on the worker count or on thread timing, and
// batches are always delivered in order.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/soft_labels.h"

namespace rf::data {

// Where batch buffers live. The engine passes cudaMallocHost / cudaFreeHost so host-to-device
// copies can run asynchronously and overlap compute; the default is 64-byte-aligned new.
struct HostAllocator {
  std::function<void*(std::size_t bytes)> allocate;
  std::function<void(void*)> deallocate;

  static HostAllocator aligned();
};

struct Batch {
  std::size_t size = 0;  // samples in this batch; the last batch of an epoch may be short
  int height = 0;
  int width = 0;
  int channels = 0;
  int classes = 0;
  float* images = nullptr;        // size x height x width x channels, normalized, NHWC
  float* soft_targets = nullptr;  // size x classes: soft labels when given, else one-hot
  // (both null from a loader in indices_only mode)
  std::vector<std::int32_t> labels;  // hard labels
  std::vector<std::size_t> indices;  // each sample's position in the dataset
  std::uint64_t epoch = 0;
  std::size_t number = 0;  // batch number within the epoch

  std::size_t image_floats() const {
    return size * static_cast<std::size_t>(height) * static_cast<std::size_t>(width) *
           static_cast<std::size_t>(channels);
  }
};
using BatchPtr = std::shared_ptr<const Batch>;

struct LoaderOptions {
  std::size_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop the last partial batch instead of delivering it short
  std::uint64_t seed = 0;
  unsigned workers = 2;       // 0: batches are made inside next(), on the caller's thread
  std::size_t prefetch = 4;   // at most this many batches are made ahead of the consumer
  AugmentConfig augment;      // applied on the fly, freshly drawn every epoch
  Normalization normalization;  // empty: identity (px / 255)
  HostAllocator allocator = HostAllocator::aligned();
  // Batches carry only their order (indices, labels, epoch, number): no images or targets, for a
  // consumer that makes those where the data lives (train/device_dataset.h). Such batches cost
  // next to nothing, so workers = 0 suits this mode.
  bool indices_only = false;
};

class Loader {
 public:
  // `data` and `soft` (if given) must outlive the loader. Soft labels, one row per sample of
  // `data`, replace the one-hot targets.
  Loader(const Dataset& data, LoaderOptions options, const SoftLabels* soft = nullptr);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  std::size_t batches_per_epoch() const;
  std::size_t batch_size() const;
  // The sample order of `epoch` (identity when shuffle is off).
  std::vector<std::size_t> epoch_order(std::uint64_t epoch) const;

  // Starts producing `epoch`'s batches; batches of an unfinished previous epoch are discarded.
  void start_epoch(std::uint64_t epoch);
  // The next batch of the current epoch in order, or nullptr when the epoch is exhausted.
  // Rethrows an error raised while a worker made a batch.
  BatchPtr next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rf::data
