#pragma once
// CIFAR-10 binary version (cifar-10-batches-bin): each record is 1 label byte followed by
// 3072 pixel bytes, planar R, G, B of a 32x32 row-major image.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

// CIFAR-10's official label order; used when batches.meta.txt is absent.
const std::vector<std::string>& cifar10_class_names();

// One batch file's bytes -> 32x32x3 NHWC images with labels; `name` labels error messages.
Dataset parse_cifar10_batch(ByteSpan bytes, const std::string& name,
                            const std::vector<std::string>& classes = cifar10_class_names());
// batches.meta.txt: one class name per line, blank lines ignored; exactly 10 names required.
std::vector<std::string> parse_cifar10_meta(std::string_view text, const std::string& name);

// True when `dir` holds data_batch_1.bin (the directory a user points at after extracting).
bool is_cifar10_binary_dir(const std::filesystem::path& dir);
// data_batch_1..5.bin -> train, test_batch.bin -> test; all six must exist.
TrainTest read_cifar10_binary(const std::filesystem::path& dir);

}  // namespace rf::data
