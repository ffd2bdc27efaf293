#include "apps/control_report.h"

#include <cmath>
#include <cstdio>

#include "apps/svg_plot.h"

namespace rf::app {

namespace {

std::string points_text(double x, int decimals, bool sign) {
  if (!std::isfinite(x)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, sign ? "%+.*f" : "%.*f", decimals, 100 * x);
  return b;
}

std::vector<double> field_of(const std::vector<GenerationResult>& rs, double GenerationResult::*field) {
  std::vector<double> out;
  for (const auto& r : rs) out.push_back(r.*field);
  return out;
}

// Bins added over every seed's result.
std::vector<train::ReliabilityBin> pooled_bins(const std::vector<const GenerationResult*>& rs) {
  std::vector<train::ReliabilityBin> out;
  for (const GenerationResult* r : rs) {
    if (out.size() < r->reliability.size()) out.resize(r->reliability.size());
    for (size_t b = 0; b < r->reliability.size(); ++b) {
      out[b].count += r->reliability[b].count;
      out[b].confidence_sum += r->reliability[b].confidence_sum;
      out[b].correct += r->reliability[b].correct;
    }
  }
  return out;
}

Series reliability_series(const std::string& name, const std::vector<const GenerationResult*>& rs, int color) {
  const std::vector<train::ReliabilityBin> bins = pooled_bins(rs);
  Series s;
  s.name = name + ", ECE " + points_text(train::expected_calibration_error(bins), 1, false) + "%";
  s.color = color;
  for (const auto& b : bins)
    if (b.count) {
      s.x.push_back(100 * b.mean_confidence());
      s.y.push_back(100 * b.accuracy());
    }
  return s;
}

}  // namespace

const GenerationResult* control_of(const ChainResults& controls, int seed_index, int generation) {
  for (const auto& seed : controls)
    for (const auto& r : seed)
      if (r.seed_index == seed_index && r.generation == generation) return &r;
  return nullptr;
}

PairedValues paired_values(const ChainResults& results, const ChainResults& controls, int generation,
                           double GenerationResult::*field) {
  PairedValues p;
  for (const auto& chain : results) {
    if (int(chain.size()) < generation) continue;
    const GenerationResult& r = chain[size_t(generation - 1)];
    if (const GenerationResult* c = control_of(controls, r.seed_index, generation)) {
      p.refined.push_back(r.*field);
      p.control.push_back(c->*field);
    }
  }
  return p;
}

PairedInterval control_gain(const ChainResults& results, const ChainResults& controls, int generation) {
  const PairedValues p = paired_values(results, controls, generation, &GenerationResult::test_accuracy);
  return paired_interval(p.refined, p.control);
}

std::string gain_text(const PairedInterval& p) {
  if (p.difference.n == 0) return "n/a";
  return points_text(p.difference.mean, 2, true) + (p.difference.n > 1 ? " ± " + points_text(p.difference.std, 2, false) : "");
}

std::string interval_text(const PairedInterval& p) {
  if (p.difference.n == 0) return "n/a";
  if (!p.defined()) return "undefined (1 seed)";
  // (appending, not operator+ on a literal: GCC 12 warns falsely on that, -Wrestrict)
  return std::string("[").append(points_text(p.low, 2, true)).append(", ").append(points_text(p.high, 2, true)).append("]");
}

std::string control_table(const ChainConfig& c, const ExperimentOutcome& o) {
  std::string out =
      "| gen | model | refined test % | control test % | gain pp (mean ± std) | paired 95% CI pp | refined ECE % | "
      "control ECE % | refined NLL | control NLL |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (int g = c.first_refined(); g <= c.generations; ++g) {
    const auto mean_of = [&](double GenerationResult::*field) {
      const PairedValues p = paired_values(o.results, o.controls, g, field);
      return std::pair{mean_std(p.refined), mean_std(p.control)};
    };
    const auto [acc, acc_c] = mean_of(&GenerationResult::test_accuracy);
    const auto [ece, ece_c] = mean_of(&GenerationResult::test_ece);
    const auto [nll, nll_c] = mean_of(&GenerationResult::test_nll);
    const PairedInterval gain = control_gain(o.results, o.controls, g);
    out += "| R" + std::to_string(g) + " | " + c.model_for(g) + " | " + format_percent(acc) + " | " +
           format_percent(acc_c) + " | " + gain_text(gain) + " | " + interval_text(gain) + " | " +
           format_percent(ece) + " | " + format_percent(ece_c) + " | " + format_number(nll, 3) + " | " +
           format_number(nll_c, 3) + " |\n";
  }
  return out;
}

std::string control_notes(const ChainConfig& c) {
  const std::string later = c.generations < 2   ? ""
                            : c.generations == 2 ? " R2 learns from R1."
                                                 : " R2..R" + std::to_string(c.generations) + " each learn from the generation before.";
  std::string s = (c.teacher.empty() ? "R1 learns the ground truth and is its own control."
                                     : "The teacher (" + c.teacher + ") is generation 0 and R1 learns from it.") + later;
  if (c.control)
    s += " Each refined generation has a control: the same architecture trained on the ground truth with the "
         "same seed, so the same validation split, initialization and batch order, epochs and schedule; only the "
         "targets differ. A generation's seed is derived from (chain seed, generation), so a control of R2 or "
         "later does not repeat R1 and is trained, not reused. Gain = refined - control test accuracy per seed; "
         "mean ± sample std over seeds and the paired 95% interval mean ± t(0.975, n-1) sd/sqrt(n) (undefined for "
         "one seed).";
  return s + " ECE: expected calibration error over 15 equal-width confidence bins; NLL: mean negative "
             "log-likelihood of the true class; both on the test split.";
}

std::string teacher_line(const ChainConfig& c, const ExperimentOutcome& o) {
  if (o.teachers.empty()) return "";
  const auto stat = [&](double GenerationResult::*field) { return mean_std(field_of(o.teachers, field)); };
  return "Teacher (generation 0): " + o.teachers.front().model + " from " + c.teacher + " (MD5 " + c.teacher_md5 +
         "), on this run's test split: test accuracy " + format_percent(stat(&GenerationResult::test_accuracy)) +
         "%, ECE " + format_percent(stat(&GenerationResult::test_ece)) + "%, NLL " +
         format_number(stat(&GenerationResult::test_nll), 3) + "; its labels agree with the ground truth on " +
         format_percent(stat(&GenerationResult::label_agreement)) + "% of the training images.\n";
}

std::string reliability_file_name(int generation) {
  return generation == 0 ? "reliability_T0.svg" : "reliability_R" + std::to_string(generation) + ".svg";
}

std::string reliability_svg(const ExperimentOutcome& o, int generation) {
  std::vector<const GenerationResult*> refined, controls;
  if (generation == 0) {
    for (const auto& t : o.teachers) refined.push_back(&t);
  } else {
    for (const auto& chain : o.results)
      if (int(chain.size()) >= generation) {
        refined.push_back(&chain[size_t(generation - 1)]);
        if (const GenerationResult* c = control_of(o.controls, chain.front().seed_index, generation))
          controls.push_back(c);
      }
  }
  const std::string name = generation == 0 ? "T0" : "R" + std::to_string(generation);
  Series ideal;
  ideal.name = "calibrated";
  ideal.x = {0, 100};
  ideal.y = {0, 100};
  ideal.dashed = true;
  ideal.color = 5;
  std::vector<Series> series = {ideal, reliability_series(name, refined, 0)};
  if (!controls.empty()) series.push_back(reliability_series("control", controls, 1));
  const size_t seeds = refined.size();
  return svg_line_plot("Reliability of " + name + " on the test split (" + std::to_string(train::kCalibrationBins) +
                           " bins, " + std::to_string(seeds) + " seed" + (seeds == 1 ? "" : "s") + " pooled)",
                       "mean confidence in bin %", "accuracy in bin %", series);
}

std::string table1_control_header() { return "gain pp [95% CI]; ECE % / NLL (refined, control)"; }

std::string table1_control_note() {
  return "Beside each cell: refined - control test accuracy (mean ± std over seeds) with its paired 95% interval, "
         "and the test ECE % and NLL of the refined generation, then of its control (R1 without a teacher learns "
         "the ground truth: its own control).";
}

std::string table1_control_cell(const ChainResults& results, const ChainResults& controls, int generation) {
  const auto calibration_of = [&](double GenerationResult::*field, int decimals, bool percent) {
    const PairedValues p = paired_values(results, controls, generation, field);
    const auto text = [&](const std::vector<double>& v) {
      return percent ? format_percent(mean_std(v)) : format_number(mean_std(v), decimals);
    };
    if (p.refined.empty()) return text(across_seeds(results, generation, field));
    return text(p.refined) + " / " + text(p.control);
  };
  const PairedInterval gain = control_gain(results, controls, generation);
  const std::string head = gain.difference.n ? gain_text(gain) + " " + interval_text(gain) : "own control";
  return head + "; ECE " + calibration_of(&GenerationResult::test_ece, 1, true) + "; NLL " +
         calibration_of(&GenerationResult::test_nll, 3, false);
}

std::string table1_control_csv_header() {
  return "control_mean,control_std,gain_mean,gain_std,gain_ci95_low,gain_ci95_high,ece_mean,control_ece_mean,"
         "nll_mean,control_nll_mean";
}

std::string table1_control_csv(const ChainResults& results, const ChainResults& controls, int generation) {
  const auto number = [](double x, double scale) {
    if (!std::isfinite(x)) return std::string();
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", scale * x);
    return std::string(b);
  };
  const PairedInterval gain = control_gain(results, controls, generation);
  const PairedValues acc = paired_values(results, controls, generation, &GenerationResult::test_accuracy);
  const PairedValues ece = paired_values(results, controls, generation, &GenerationResult::test_ece);
  const PairedValues nll = paired_values(results, controls, generation, &GenerationResult::test_nll);
  const bool paired = gain.difference.n > 0;
  const double none = std::nan("");
  const MeanStd control = mean_std(acc.control);
  return number(paired ? control.mean : none, 100) + "," + number(paired && control.n > 1 ? control.std : none, 100) + "," +
         number(paired ? gain.difference.mean : none, 100) + "," +
         number(gain.defined() ? gain.difference.std : none, 100) + "," + number(gain.low, 100) + "," +
         number(gain.high, 100) + "," +
         number(mean_std(across_seeds(results, generation, &GenerationResult::test_ece)).mean, 100) + "," +
         number(paired ? mean_std(ece.control).mean : none, 100) + "," +
         number(mean_std(across_seeds(results, generation, &GenerationResult::test_nll)).mean, 1) + "," +
         number(paired ? mean_std(nll.control).mean : none, 1);
}

}  // namespace rf::app
