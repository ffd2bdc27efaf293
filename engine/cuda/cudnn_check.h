#pragma once
// RF_CUDNN_CHECK(call): a failing cuDNN call throws rf::Error with the file:line of the call,
// cuDNN's status string and cuDNN's own description of the last error.
#include <cudnn.h>

#include <string>

#include "engine/check.h"

namespace rf {

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t s, const char* what, const char* file,
                                           int line) {
  char detail[1024] = {};
  cudnnGetLastErrorString(detail, sizeof detail);
  std::string msg = std::string(file) + ":" + std::to_string(line) + ": " + what +
                    " failed: " + cudnnGetErrorString(s);
  if (detail[0] != '\0') msg += std::string(" (") + detail + ")";
  throw Error(msg);
}

}  // namespace rf

#define RF_CUDNN_CHECK(call)                                           \
  do {                                                                 \
    cudnnStatus_t rf_st_ = (call);                                     \
    if (rf_st_ != CUDNN_STATUS_SUCCESS)                                \
      ::rf::throw_cudnn_error(rf_st_, #call, __FILE__, __LINE__);      \
  } while (0)
