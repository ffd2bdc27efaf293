#include "engine/json.h"

#include <unordered_set>
#include <vector>

namespace rf {

namespace {

constexpr int kMaxDepth = 64;

[[noreturn]] void invalid(const std::string& where, const std::string& what) {
  throw Error(where + ": invalid JSON" + what);
}

}  // namespace

Json parse_json(std::string_view text, const std::string& where) {
  // The keys seen so far in each open object, by nesting depth.
  std::vector<std::unordered_set<std::string>> keys;
  const Json::parser_callback_t strict = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= kMaxDepth) invalid(where, ": nesting deeper than " + std::to_string(kMaxDepth));
        keys.resize(size_t(depth) + 1);
        keys[size_t(depth)].clear();
        break;
      case Json::parse_event_t::key: {  // depth is the object's plus one
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!keys.at(size_t(depth) - 1).insert(key).second) invalid(where, ": duplicate key \"" + key + "\"");
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return Json::parse(text, strict);
  } catch (const Json::parse_error& e) {
    // nlohmann's text after its "[json.exception.parse_error.N] " tag says what is wrong.
    std::string what = e.what();
    if (const size_t tag = what.find("] "); tag != std::string::npos) what.erase(0, tag + 2);
    invalid(where, " at byte " + std::to_string(e.byte) + ": " + what);
  } catch (const Json::exception& e) {  // e.g. a number out of range
    invalid(where, ": " + std::string(e.what()));
  }
}

}  // namespace rf
