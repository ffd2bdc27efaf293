#pragma once
// IDX files (MNIST, Fashion-MNIST): big-endian magic 0x0000TTDD (TT = element type, DD = number
// of dimensions), DD big-endian uint32 sizes, then the elements. Only unsigned-byte elements
// (TT = 0x08) are accepted: every image/label file of these datasets uses them.
// gzip-compressed files are recognised by their magic and inflated transparently.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

struct IdxArray {
  std::vector<std::uint32_t> dims;
  Bytes data;  // product(dims) bytes, row-major
};

IdxArray parse_idx(ByteSpan bytes, const std::string& name);

// Images (N x H x W) and labels (N) -> 1-channel dataset; labels must be < classes.size().
Dataset idx_dataset(const IdxArray& images, const IdxArray& labels, const std::string& images_name,
                    const std::string& labels_name, std::vector<std::string> classes);

const std::vector<std::string>& fashion_mnist_class_names();

// `dir` holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each optionally with ".gz".
TrainTest read_fashion_mnist(const std::filesystem::path& dir);
bool is_fashion_mnist_dir(const std::filesystem::path& dir);

}  // namespace rf::data
