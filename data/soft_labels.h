#pragma once
// Per-sample soft labels (N x C probabilities) that replace one-hot targets when training a
// refined model. The refinery writes them next to the dataset; this is their file format:
// "RFSOFTLB" magic, u32 version, u64 rows, u32 classes, rows*classes little-endian float32,
// then a CRC-32 of all preceding bytes.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

struct SoftLabels {
  std::size_t rows = 0;
  int classes = 0;
  std::vector<float> values;  // rows * classes, row-major

  std::span<const float> row(std::size_t i) const {
    return {values.data() + i * static_cast<std::size_t>(classes), static_cast<std::size_t>(classes)};
  }
};

SoftLabels one_hot(std::span<const std::int32_t> labels, int classes);

// Throws unless every value is finite and >= 0 and every row sums to 1 (within 1e-3): a file of
// logits or of another dataset's rows must not be trained on silently.
void check_soft_labels(const SoftLabels& s, const std::string& name);

Bytes serialize_soft_labels(const SoftLabels& s);
SoftLabels parse_soft_labels(ByteSpan bytes, const std::string& name);

void save_soft_labels(const std::filesystem::path& file, const SoftLabels& s);
// Loads and checks that the labels fit `d` (one row per sample, one column per class).
SoftLabels load_soft_labels(const std::filesystem::path& file, const Dataset& d);

}  // namespace rf::data
