// libFuzzer target: the safetensors header (engine/safetensors_header.h), our checks on top of
// nlohmann-json. The first two bytes give the number of data bytes after the header, the rest is
// the header text. A header that passes must describe tensors that tile the data exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/json.h"
#include "engine/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint64_t data_bytes = std::uint64_t(data[0]) | std::uint64_t(data[1]) << 8;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    const rf::SafetensorsHeader h = rf::parse_safetensors_header(text, data_bytes, "fuzz");
    std::uint64_t covered = 0;
    for (const auto& t : h.tensors) {
      if (t.begin > t.end || t.end > data_bytes) std::abort();
      std::uint64_t elements = 1;
      for (std::int64_t d : t.shape) elements *= std::uint64_t(d);
      if (t.end - t.begin != elements * 4) std::abort();
      covered += t.end - t.begin;
    }
    if (covered != data_bytes) std::abort();
  } catch (const rf::Error&) {  // every rejection is an rf::Error naming the file
  }
  return 0;
}
