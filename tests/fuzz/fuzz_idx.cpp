// libFuzzer target: IDX parser (raw and gzip) and the image/label pairing on top of it.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const rf::data::IdxArray a = rf::data::parse_idx({data, size}, "fuzz");
    // Pair the array with itself as both images and labels: exercises the shape and label checks.
    rf::data::idx_dataset(a, a, "fuzz", "fuzz", rf::data::fashion_mnist_class_names());
  } catch (const std::runtime_error&) {
  }
  return 0;
}
