#pragma once
// The safetensors file format (https://github.com/huggingface/safetensors), float32 only:
// an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [...],
//    "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the raw little-endian tensor bytes, offsets
// relative to the end of the header. PyTorch, JAX and the safetensors tools read these files.
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors_header.h"
#include "engine/tensor.h"

namespace rf {

// A file's contents in host memory: the tensors are copied off their devices when it is made,
// so the file can be written later, from another thread, while the tensors change.
struct SafetensorsContents {
  std::string header;                      // the JSON, padded; its length is written before it
  std::vector<std::vector<float>> values;  // each tensor's, in the header's order
};

// The contents of a file holding `tensors` (on any device) and `metadata`; errors (an invalid or
// duplicate name) name `file`.
SafetensorsContents safetensors_contents(const std::filesystem::path& file,
                                         const std::vector<std::pair<std::string, Tensor>>& tensors,
                                         const TensorMetadata& metadata = {});

// Writes `contents` as `file`, atomically (engine/atomic_file.h: a crash leaves the old file or
// the new one, never a torn one). Touches no tensor: safe on any thread.
void write_safetensors(const std::filesystem::path& file, const SafetensorsContents& contents);

// Both of the above at once.
void write_safetensors(const std::filesystem::path& file,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const TensorMetadata& metadata = {});

// A whole file read into memory and validated: header length within the file, strict JSON,
// dtype F32, shapes non-negative, offsets inside the data, sized as the shape says, and the
// tensors covering the data without overlap. Every error names the file and what is wrong.
class SafetensorsFile {
 public:
  static SafetensorsFile read(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return path_; }
  const TensorMetadata& metadata() const { return metadata_; }
  // The metadata value under `key` (throws naming the file and key when missing).
  const std::string& meta(const std::string& key) const;
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;  // in file order
  const Shape& shape(const std::string& name) const;
  // A CPU tensor with the values of `name`.
  Tensor tensor(const std::string& name) const;
  // Copies `name` into `dst` (any device), which must have the same shape.
  void copy_into(const std::string& name, const Tensor& dst) const;

 private:
  struct Entry {
    Shape shape;
    size_t begin = 0, end = 0;  // byte offsets into data_
  };
  const Entry& entry(const std::string& name) const;
  std::filesystem::path path_;
  TensorMetadata metadata_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
  std::vector<char> data_;
};

}  // namespace rf
