// Entry point of the emulated kernel suites: the emulated device exists in this process (see
// runtime.cpp), whatever the environment says, so the suite runs the same under CTest or alone.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  setenv("RF_CUDA_EMULATION_DEVICE", "1", 1);
  doctest::Context context(argc, argv);
  return context.run();
}
