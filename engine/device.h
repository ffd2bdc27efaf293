#pragma once
#include <cstddef>
#include <string>

namespace rf {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// Element types of tensors. BF16 (kernels/bfloat16.h) holds activations and their gradients
// under --precision bf16; parameters, optimizer state, batch-norm statistics, logits and losses
// are always F32.
enum class DType { F32, BF16 };
inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
inline const char* dtype_name(DType t) { return t == DType::F32 ? "float32" : "bfloat16"; }

}  // namespace rf
