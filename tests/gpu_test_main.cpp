// Entry point of the GPU suites. Without a usable GPU the suite does not run at all: it prints why
// and exits with the code CTest reports as "Skipped" (never as passed).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/backend.h"

constexpr int kSkipped = 77;  // SKIP_RETURN_CODE in tests/CMakeLists.txt

int main(int argc, char** argv) {
  if (!rf::cuda_available()) {
    std::printf("SKIPPED: GPU suite not run: no usable CUDA device in this process\n");
    return kSkipped;
  }
#ifdef RF_CUDA_EMULATION
  std::printf("NOTE: this GPU suite runs on the host emulation of a CUDA device "
              "(tests/cuda_emulation): it checks the CUDA code's logic, not a GPU\n");
#endif
  doctest::Context context(argc, argv);
  return context.run();
}
