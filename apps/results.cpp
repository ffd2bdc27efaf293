#include "apps/results.h"

#include <cmath>
#include <cstdio>

namespace rf::app {

namespace {

Json finite_or_null(double x) { return std::isfinite(x) ? Json(x) : Json(); }

Json reliability_json(const std::vector<train::ReliabilityBin>& bins) {
  Json out = Json::array();
  for (const auto& b : bins)
    out.push_back(Json::object({{"count", b.count}, {"confidence_sum", b.confidence_sum}, {"correct", b.correct}}));
  return out;
}

}  // namespace

Json GenerationResult::to_json() const {
  return Json::object({{"seed_index", seed_index},
                       {"generation", generation},
                       {"control", control},
                       {"model", model},
                       {"test_accuracy", test_accuracy},
                       {"test_ece", finite_or_null(test_ece)},
                       {"test_nll", finite_or_null(test_nll)},
                       {"reliability", reliability_json(reliability)},
                       {"val_accuracy", std::isfinite(val_accuracy) ? Json(val_accuracy) : Json()},  // null: no validation split
                       {"label_agreement", label_agreement},
                       {"label_entropy", label_entropy},
                       {"train_mode_accuracy", finite_or_null(train_mode_accuracy)},
                       {"eval_mode_accuracy", finite_or_null(eval_mode_accuracy)},
                       {"train_seconds", train_seconds},
                       {"images_per_second", images_per_second},
                       {"epochs_run", epochs_run},
                       {"stopped_early", stopped_early}});
}

GenerationResult GenerationResult::from_json(const Json& j) {
  GenerationResult r;
  r.seed_index = json_integer<int>(j.at("seed_index"));
  r.generation = json_integer<int>(j.at("generation"));
  r.control = j.contains("control") && j.at("control").get<bool>();
  r.model = j.at("model").get<std::string>();
  r.test_accuracy = j.at("test_accuracy").get<double>();
  r.val_accuracy = j.at("val_accuracy").is_null() ? std::nan("") : j.at("val_accuracy").get<double>();
  r.label_agreement = j.at("label_agreement").get<double>();
  r.label_entropy = j.at("label_entropy").get<double>();
  const auto optional_number = [&](const char* key) {
    return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<double>() : std::nan("");
  };
  r.test_ece = optional_number("test_ece");
  r.test_nll = optional_number("test_nll");
  if (j.contains("reliability"))
    for (const Json& b : j.at("reliability"))
      r.reliability.push_back({json_integer<int64_t>(b.at("count")), b.at("confidence_sum").get<double>(),
                               json_integer<int64_t>(b.at("correct"))});
  r.train_mode_accuracy = optional_number("train_mode_accuracy");
  r.eval_mode_accuracy = optional_number("eval_mode_accuracy");
  r.train_seconds = j.at("train_seconds").get<double>();
  r.images_per_second = j.at("images_per_second").get<double>();
  r.epochs_run = json_integer<int>(j.at("epochs_run"));
  r.stopped_early = j.at("stopped_early").get<bool>();
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

std::string percent_text(double x, int decimals) {
  if (!std::isfinite(x)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, 100 * x);
  return buf;
}

std::string format_percent(const MeanStd& m) {
  if (m.n > 1 && std::isfinite(m.mean)) return percent_text(m.mean, 1) + " ± " + percent_text(m.std, 1);
  return percent_text(m.mean, 1);
}

std::string format_number(const MeanStd& m, int decimals) {
  if (!std::isfinite(m.mean)) return "n/a";
  char buf[64];
  if (m.n > 1) std::snprintf(buf, sizeof buf, "%.*f ± %.*f", decimals, m.mean, decimals, m.std);
  else std::snprintf(buf, sizeof buf, "%.*f", decimals, m.mean);
  return buf;
}

std::string summary_table(const ChainResults& r) {
  size_t generations = 0;
  for (const auto& chain : r) generations = std::max(generations, chain.size());
  std::string out =
      "| gen | model | test acc % | test ECE % | test NLL | val acc % | label agreement % | label entropy | train time s | images/s |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (int g = 1; g <= int(generations); ++g) {
    const std::string model = r.front().size() >= size_t(g) ? r.front()[size_t(g - 1)].model : "";
    const MeanStd entropy = mean_std(across_seeds(r, g, &GenerationResult::label_entropy));
    const MeanStd seconds = mean_std(across_seeds(r, g, &GenerationResult::train_seconds));
    const MeanStd ips = mean_std(across_seeds(r, g, &GenerationResult::images_per_second));
    char tail[160];
    std::snprintf(tail, sizeof tail, "| %.3f | %.0f | %.0f |", entropy.mean, seconds.mean, ips.mean);
    out += "| R" + std::to_string(g) + " | " + model + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::test_accuracy))) + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::test_ece))) + " | " +
           format_number(mean_std(across_seeds(r, g, &GenerationResult::test_nll)), 3) + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::val_accuracy))) + " | " +
           format_percent(mean_std(across_seeds(r, g, &GenerationResult::label_agreement))) + " " +
           tail + "\n";
  }
  return out;
}

}  // namespace rf::app
