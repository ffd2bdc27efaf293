#include "engine/safetensors_header.h"

#include <algorithm>

#include "engine/check.h"
#include "engine/json.h"

namespace rf {

namespace {

// A non-negative integer: the header's dimensions and offsets.
uint64_t count(const Json& v, const char* what) {
  RF_CHECK(v.is_number_integer(), what << " " << v.dump() << " is not an integer");
  RF_CHECK(v.is_number_unsigned(), "negative " << what << " " << v.dump());
  return v.get<uint64_t>();
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view text, uint64_t data_bytes, const std::string& where) {
  SafetensorsHeader h;
  const Json header = parse_json(text, where + ": safetensors header");
  RF_CHECK(header.is_object(), where << ": safetensors header is a JSON " << header.type_name()
                                     << ", not an object");
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      RF_CHECK(v.is_object(), where << ": __metadata__ is not a JSON object");
      for (const auto& [k, s] : v.items()) {
        RF_CHECK(s.is_string(), where << ": __metadata__ value of '" << k << "' is not a string");
        h.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string what = where + ": tensor '" + name + "'";
    RF_CHECK(v.is_object(), what << ": entry is not a JSON object");
    SafetensorsHeader::Tensor t;
    t.name = name;
    try {
      const std::string dtype = v.at("dtype").get<std::string>();
      RF_CHECK(dtype == "F32", "dtype " << dtype << ", only F32 is supported");
      const Json& shape = v.at("shape");
      RF_CHECK(shape.is_array(), "shape " << shape.dump() << " is not an array");
      // The element count, bounded (by the product of the nonzero dimensions) so it cannot overflow.
      uint64_t elements = 1, nonzero = 1;
      for (const Json& d : shape) {
        const uint64_t n = count(d, "dimension");
        if (n) {
          RF_CHECK(nonzero <= (uint64_t(1) << 60) / n, "shape " << shape.dump() << " is too large");
          nonzero *= n;
        }
        elements *= n;
        t.shape.push_back(int64_t(n));
      }
      const Json& off = v.at("data_offsets");
      RF_CHECK(off.is_array() && off.size() == 2, "data_offsets " << off.dump() << " is not an array of 2 values");
      const uint64_t b = count(off[0], "data offset"), e = count(off[1], "data offset");
      RF_CHECK(b <= e && e <= data_bytes,
               "data_offsets [" << b << ", " << e << "] outside the " << data_bytes
                                << " data bytes (file truncated?)");
      RF_CHECK(e - b == elements * sizeof(float), "data_offsets span " << e - b << " bytes but shape "
                                                                        << shape.dump() << " needs " << elements * 4);
      t.begin = size_t(b);
      t.end = size_t(e);
    } catch (const Error& err) {
      RF_CHECK(false, what << ": " << err.what());
    } catch (const Json::exception& err) {  // a missing key or a wrong type
      RF_CHECK(false, what << ": " << err.what());
    }
    h.tensors.push_back(std::move(t));
  }
  std::vector<const SafetensorsHeader::Tensor*> spans;
  for (const auto& t : h.tensors) spans.push_back(&t);
  std::sort(spans.begin(), spans.end(), [](const auto* a, const auto* b) { return a->begin < b->begin; });
  size_t covered = 0;
  for (const auto* s : spans) {
    RF_CHECK(s->begin == covered, where << ": tensor '" << s->name << "' starts at byte " << s->begin
                                        << " but the previous tensor ends at " << covered
                                        << " (overlap or hole in the data)");
    covered = s->end;
  }
  RF_CHECK(covered == data_bytes, where << ": the tensors cover " << covered << " of the "
                                        << data_bytes << " data bytes (trailing garbage)");
  return h;
}

}  // namespace rf
