#pragma once
// Every CUDA runtime call goes through RF_CUDA_CHECK, and every kernel launch through launch()
// (launch.cuh): a failure throws with the file:line of the call and CUDA's own error string.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace rf {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file,
                                          int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what +
                           " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

}  // namespace rf

#define RF_CUDA_CHECK(call)                                            \
  do {                                                                 \
    cudaError_t rf_err_ = (call);                                      \
    if (rf_err_ != cudaSuccess)                                        \
      ::rf::throw_cuda_error(rf_err_, #call, __FILE__, __LINE__);      \
  } while (0)
