#include "engine/backend.h"

#include <cstdio>
#include <string>

#include "engine/check.h"
#ifdef RF_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace rf {

bool cuda_available() {
#ifdef RF_WITH_CUDA
  static const bool usable = [] {
    std::string why;
    const bool ok = cuda_probe(&why);
    if (!ok) std::fprintf(stderr, "notice: no usable GPU (%s); using the CPU backend\n", why.c_str());
    return ok;
  }();
  return usable;
#else
  return false;
#endif
}

Backend& cuda_backend() {
#ifdef RF_WITH_CUDA
  RF_CHECK(cuda_available(), "the CUDA backend was requested but no usable GPU was found");
  return cuda_backend_instance();
#else
  RF_CHECK(false, "the CUDA backend was requested but this binary was built without CUDA");
#endif
}

Backend& backend_for(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

Device default_device() { return cuda_available() ? Device::CUDA : Device::CPU; }

}  // namespace rf
