#pragma once
#include <string>

namespace rf {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// Element types. Only F32 is computed today; the tag keeps room for bf16/fp16 storage.
enum class DType { F32 };
inline size_t dtype_size(DType) { return 4; }

}  // namespace rf
