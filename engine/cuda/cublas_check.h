#pragma once
// RF_CUBLAS_CHECK(call): a failing cuBLAS call throws rf::Error with the file:line of the call and
// cuBLAS's status name and description.
#include <cublas_v2.h>

#include <string>

#include "engine/check.h"

namespace rf {

[[noreturn]] inline void throw_cublas_error(cublasStatus_t s, const char* what, const char* file,
                                            int line) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + what + " failed: " +
              cublasGetStatusName(s) + ": " + cublasGetStatusString(s));
}

}  // namespace rf

#define RF_CUBLAS_CHECK(call)                                          \
  do {                                                                 \
    cublasStatus_t rf_st_ = (call);                                    \
    if (rf_st_ != CUBLAS_STATUS_SUCCESS)                               \
      ::rf::throw_cublas_error(rf_st_, #call, __FILE__, __LINE__);     \
  } while (0)
