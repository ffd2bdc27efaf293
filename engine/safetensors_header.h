#pragma once
// The JSON header of a safetensors file (engine/safetensors.h), parsed and checked against the
// number of data bytes that follow it. No tensor is read, so the check runs (and is fuzzed,
// tests/fuzz/fuzz_safetensors.cpp) on its own.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rf {

using TensorMetadata = std::map<std::string, std::string>;

struct SafetensorsHeader {
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;  // byte offsets into the data
  };
  TensorMetadata metadata;
  std::vector<Tensor> tensors;  // in file order
};

// Strict JSON (engine/json.h), an object of string metadata and F32 tensors whose non-negative
// shapes fit their data_offsets, which lie inside the data and cover it without overlap or hole.
// Every error names `where` (the file) and what is wrong.
SafetensorsHeader parse_safetensors_header(std::string_view text, uint64_t data_bytes, const std::string& where);

}  // namespace rf
