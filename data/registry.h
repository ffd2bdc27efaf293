#pragma once
// Dataset names -> datasets. Names: "cifar10" (the official binary batches or an image-folder
// tree; both are the same dataset to the rest of the program, with the same label order),
// "svhn" (format 2 .mat files), "fashion-mnist" (IDX files), or a path to a directory in any of
// these forms (an image-folder tree ROOT/{train,test}/<class>/ most usefully).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_resize.h"
#include "data/sample_order.h"

namespace rf::data {

// $RF_DATA_DIR (when set), ../shared/data, /usr/share/datasets — in that order.
std::vector<std::filesystem::path> default_search_dirs();

struct LoadOptions {
  std::vector<std::filesystem::path> search_dirs = default_search_dirs();
  // Decoded image-folder datasets are cached here (one file per split); empty disables the
  // cache. The binary formats are not cached: reading them is already a plain copy.
  std::filesystem::path cache_dir;
  unsigned decode_threads = 0;  // 0 = hardware concurrency
  // Image-folder trees: every image resized to this size on load (data/image_resize.h);
  // nullopt: all images must have one size. The binary formats have one size by definition.
  std::optional<ImageSize> image_size;
  // Image-folder trees list their files class by class; both splits are put in the seeded
  // order of sample_order.h. nullopt keeps the files' sorted order (that of runs recorded
  // before the order existed). Sources with a published order (CIFAR-10 binary, SVHN .mat,
  // IDX) always keep theirs.
  std::optional<std::uint64_t> sample_order_seed = kDefaultSampleOrderSeed;
  std::function<void(const std::string&)> log;  // told where data came from and cache events
};

TrainTest load_dataset(const std::string& name_or_path, const LoadOptions& options = {});

}  // namespace rf::data
