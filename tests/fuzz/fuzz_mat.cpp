// libFuzzer target: MATLAB v5 parser (plain and miCOMPRESSED variables) and the SVHN reader.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "data/svhn_mat.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    for (const auto& v : rf::data::parse_mat({data, size}, "fuzz"))
      if (v.numeric && v.count() > 0) (void)v.value_at(v.count() - 1);
  } catch (const std::runtime_error&) {
  }
  try {
    rf::data::parse_svhn_mat({data, size}, "fuzz");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
