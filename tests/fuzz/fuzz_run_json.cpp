// libFuzzer target: the JSON a run directory holds (stats.json, metrics.jsonl lines, the
// trainer's schedule and early-stopping state in checkpoints), read through nlohmann-json:
// parse_json's strictness, then each reader on the parsed value. A document that parses must
// write back to text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "apps/results.h"
#include "engine/json.h"
#include "train/early_stopping.h"
#include "train/progress.h"
#include "train/schedule.h"

namespace {

template <class Read>
void attempt(const rf::Json& j, Read read) {
  try {
    rf::read_json("fuzz", [&] { read(j); });
  } catch (const rf::Error&) {  // what read_json turns nlohmann's errors into, and our own checks
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  rf::Json j;
  try {
    j = rf::parse_json(text, "fuzz");
  } catch (const rf::Error&) {
    return 0;
  }
  std::string dumped;
  try {
    dumped = j.dump();
  } catch (const rf::Json::type_error&) {  // strings that are not UTF-8 are refused on writing
    return 0;
  }
  if (rf::parse_json(dumped, "fuzz (written back)") != j) std::abort();
  attempt(j, [](const rf::Json& v) { (void)rf::app::GenerationResult::from_json(v); });
  attempt(j, [](const rf::Json& v) { (void)rf::train::EpochStats::from_json(v); });
  attempt(j, [](const rf::Json& v) { (void)rf::train::ScheduleConfig::from_json(v); });
  attempt(j, [](const rf::Json& v) { (void)rf::train::EarlyStoppingConfig::from_json(v); });
  attempt(j, [](const rf::Json& v) {
    rf::train::EarlyStopping e(rf::train::EarlyStoppingConfig{});
    e.load_state(v);
  });
  attempt(j, [](const rf::Json& v) {
    rf::train::ScheduleConfig c;
    c.kind = rf::train::ScheduleConfig::Kind::Plateau;
    rf::train::make_schedule(c, 10, 5)->load_state(v);
  });
  return 0;
}
