// libFuzzer target: CIFAR-10 batch parser. Any input must parse or throw std::runtime_error.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "data/cifar_binary.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    rf::data::parse_cifar10_batch({data, size}, "fuzz");
  } catch (const std::runtime_error&) {
  }
  try {
    rf::data::parse_cifar10_meta({reinterpret_cast<const char*>(data), size}, "fuzz");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
