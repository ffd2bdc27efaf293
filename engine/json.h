#pragma once
// JSON is nlohmann-json (Debian nlohmann-json3-dev), objects keeping their insertion order so that
// config.json, stats.json and metrics.jsonl read in the order they are written. Numbers: integers
// stay integers; doubles are written with the shortest digits that read back bit-exactly, which
// exact resume depends on.
#include <nlohmann/json.hpp>

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "engine/check.h"

namespace rf {

using Json = nlohmann::ordered_json;

// Exactly one JSON value (RFC 8259; surrounding whitespace allowed), rejecting what nlohmann
// accepts but a file of ours never holds: duplicate keys and nesting deeper than 64. Throws
// rf::Error("<where>: invalid JSON at byte N: <what>").
Json parse_json(std::string_view text, const std::string& where);

// An integer (a count, an epoch, a seed) as T. nlohmann's get<T>() would cast a floating-point
// value, undefined behaviour out of range (fuzz_run_json found it), so only a JSON integer that
// fits T is taken; anything else throws rf::Error.
template <std::integral T = int64_t>
T json_integer(const Json& v) {
  if (v.is_number_unsigned()) {
    if (const auto u = v.get<std::uint64_t>(); std::in_range<T>(u)) return T(u);
  } else if (v.is_number_integer()) {
    if (const auto i = v.get<std::int64_t>(); std::in_range<T>(i)) return T(i);
  }
  throw Error("JSON: expected an integer that fits " + std::to_string(std::numeric_limits<T>::digits) +
              " bits, found " + v.dump());
}

// Runs `read` (code that takes values out of a parsed Json); nlohmann's errors from it (a missing
// key, a wrong type) become an rf::Error naming `where`, the file the JSON came from.
template <class Read>
decltype(auto) read_json(const std::string& where, Read&& read) {
  try {
    return read();
  } catch (const Json::exception& e) {
    throw Error(where + ": " + e.what());
  }
}

}  // namespace rf
