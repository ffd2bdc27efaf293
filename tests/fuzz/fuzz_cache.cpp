// libFuzzer target: dataset cache parser. The input is parsed as is, and again with a valid
// CRC-32 appended, so the fuzzer reaches the structural checks behind the checksum.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "data/dataset_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    rf::data::parse_dataset_cache({data, size}, "fuzz");
  } catch (const std::runtime_error&) {
  }
  std::vector<std::uint8_t> sealed(data, data + size);
  const auto crc = static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data, size));
  for (int i = 0; i < 4; ++i) sealed.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  try {
    rf::data::parse_dataset_cache(sealed, "fuzz");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
