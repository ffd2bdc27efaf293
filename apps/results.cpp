#include "apps/results.h"

#include <cmath>
#include <cstdio>

namespace rf::app {

Json GenerationResult::to_json() const {
  return Json::object({{"seed_index", seed_index},
                       {"generation", generation},
                       {"model", model},
                       {"test_accuracy", test_accuracy},
                       {"val_accuracy", std::isfinite(val_accuracy) ? Json(val_accuracy) : Json()},  // null: no validation split
                       {"label_agreement", label_agreement},
                       {"label_entropy", label_entropy},
                       {"train_seconds", train_seconds},
                       {"images_per_second", images_per_second},
                       {"epochs_run", epochs_run},
                       {"stopped_early", stopped_early}});
}

GenerationResult GenerationResult::from_json(const Json& j) {
  GenerationResult r;
  r.seed_index = int(j.at("seed_index").as_int());
  r.generation = int(j.at("generation").as_int());
  r.model = j.at("model").as_string();
  r.test_accuracy = j.at("test_accuracy").as_number();
  r.val_accuracy = j.at("val_accuracy").is_null() ? std::nan("") : j.at("val_accuracy").as_number();
  r.label_agreement = j.at("label_agreement").as_number();
  r.label_entropy = j.at("label_entropy").as_number();
  r.train_seconds = j.at("train_seconds").as_number();
  r.images_per_second = j.at("images_per_second").as_number();
  r.epochs_run = int(j.at("epochs_run").as_int());
  r.stopped_early = j.at("stopped_early").as_bool();
  return r;
}

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd m;
  m.n = int(v.size());
  if (v.empty()) return m;
  for (double x : v) m.mean += x;
  m.mean /= double(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - m.mean) * (x - m.mean);
    m.std = std::sqrt(ss / double(v.size() - 1));
  }
  return m;
}

std::vector<double> across_seeds(const ChainResults& r, int generation,
                                 double GenerationResult::*field) {
  std::vector<double> out;
  for (const auto& chain : r)
    if (int(chain.size()) >= generation) out.push_back(chain[size_t(generation - 1)].*field);
  return out;
}

std::string format_percent(const MeanStd& m) {
  char buf[64];
  if (m.n > 1)
    std::snprintf(buf, sizeof buf, "%.1f ± %.1f", 100 * m.mean, 100 * m.std);
  else
    std::snprintf(buf, sizeof buf, "%.1f", 100 * m.mean);
  return buf;
}

std::string summary_table(const ChainResults& r) {
  size_t generations = 0;
  for (const auto& chain : r) generations = std::max(generations, chain.size());
  std::string out =
      "| gen | model | test acc % | val acc % | label agreement % | label entropy | train time s | images/s |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (int g = 1; g <= int(generations); ++g) {
    const std::string model = r.front().size() >= size_t(g) ? r.front()[size_t(g - 1)].model : "";
    const MeanStd entropy = mean_std(across_seeds(r, g, &GenerationResult::label_entropy));
    const MeanStd seconds = mean_std(across_seeds(r, g, &GenerationResult::train_seconds));
    const MeanStd ips = mean_std(across_seeds(r, g, &GenerationResult::images_per_second));
    char tail[160];
    std::snprintf(tail, sizeof tail, "| %.3f | %.0f | %.0f |", entropy.mean, seconds.mean, ips.mean);
    out += "| R" + std::to_string(g) + " | " + model + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::test_accuracy))) + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::val_accuracy))) + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::label_agreement))) + " " +
           tail + "\n";
  }
  return out;
}

}  // namespace rf::app
