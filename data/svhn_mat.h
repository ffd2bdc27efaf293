#pragma once
// MATLAB level-5 MAT-files (the format SVHN "format 2" ships in: train_32x32.mat, test_32x32.mat)
// and the SVHN reader built on them. Both plain and miCOMPRESSED (zlib) variables are read.
// Only little-endian files are accepted (every MATLAB/scipy writer on x86 and ARM produces them);
// v7.3 files are HDF5 and get a clear error instead.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

// MATLAB array classes (mxCLASS) that matter here.
enum class MatClass : std::uint8_t {
  Cell = 1, Struct = 2, Object = 3, Char = 4, Sparse = 5, Double = 6, Single = 7,
  Int8 = 8, Uint8 = 9, Int16 = 10, Uint16 = 11, Int32 = 12, Uint32 = 13, Int64 = 14, Uint64 = 15,
};

// One top-level variable. Numeric arrays carry their real part; MATLAB may store it in a
// narrower type than the class (e.g. a double array as miUINT8), so read values through
// value_at() unless storage_type is known.
struct MatVariable {
  std::string name;
  MatClass mx_class = MatClass::Double;
  bool numeric = false;
  bool complex = false;
  std::vector<std::size_t> dims;  // MATLAB order, column-major
  std::uint32_t storage_type = 0;  // miINT8=1 ... miUINT64=13
  ByteSpan real;                   // points into `storage`
  std::shared_ptr<const Bytes> storage;

  std::size_t count() const;
  double value_at(std::size_t i) const;
};

std::vector<MatVariable> parse_mat(ByteSpan bytes, const std::string& name);

// SVHN format 2: X is H x W x 3 x N uint8 (column-major), y is N x 1 with labels 1..10 where 10
// is the digit 0. Returns NHWC images and labels 0..9.
Dataset parse_svhn_mat(ByteSpan bytes, const std::string& name);

bool is_svhn_dir(const std::filesystem::path& dir);
// `dir` holds train_32x32.mat and test_32x32.mat.
TrainTest read_svhn(const std::filesystem::path& dir);

}  // namespace rf::data
