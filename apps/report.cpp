#include "apps/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "apps/control_report.h"
#include "apps/file_io.h"
#include "apps/image_grid.h"
#include "apps/label_stats.h"
#include "apps/run_dir.h"
#include "apps/svg_plot.h"
#include "engine/atomic_file.h"
#include "train/progress.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

constexpr int kZoom = 3;

std::vector<train::EpochStats> read_history(const fs::path& metrics) {
  std::vector<train::EpochStats> h;
  if (!fs::exists(metrics)) return h;
  std::istringstream in(read_text_file(metrics));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      h.push_back(read_json(metrics.string(), [&] { return train::EpochStats::from_json(parse_json(line, metrics.string())); }));
  return h;
}

std::string test_accuracy_plot(const ChainResults& r, int generations) {
  Series s;
  s.name = "test accuracy";
  for (int g = 1; g <= generations; ++g) {
    const MeanStd m = mean_std(across_seeds(r, g, &GenerationResult::test_accuracy));
    s.x.push_back(g);
    s.y.push_back(100 * m.mean);
    s.error.push_back(100 * m.std);
  }
  Series v;
  v.name = "val accuracy";
  v.color = 2;
  v.dashed = true;
  for (int g = 1; g <= generations; ++g) {
    v.x.push_back(g);
    v.y.push_back(100 * mean_std(across_seeds(r, g, &GenerationResult::val_accuracy)).mean);
  }
  const std::string title = "Accuracy per generation (mean ± std over " + std::to_string(r.size()) + " seed" +
                            (r.size() > 1 ? "s)" : ")");
  return svg_line_plot(title, "generation (R1 = ground truth)", "accuracy %", {s, v});
}

std::string curves_plot(const fs::path& dir, int generations) {
  std::vector<Series> series;
  for (int g = 1; g <= generations; ++g) {
    const auto h = read_history(generation_paths(dir, 0, g).metrics);
    Series train, val;
    // (appending, not operator+ on a literal: GCC 12 warns falsely on that, -Wrestrict)
    const std::string r = std::string("R").append(std::to_string(g));
    train.name = r;
    train.name.append(" train");
    val.name = r;
    val.name.append(" val");
    train.color = val.color = g - 1;
    train.dashed = true;
    for (const auto& e : h) {
      train.x.push_back(e.epoch + 1);
      train.y.push_back(100 * e.train_accuracy);
      val.x.push_back(e.epoch + 1);
      val.y.push_back(100 * e.val_accuracy);
    }
    series.push_back(train);
    series.push_back(val);
  }
  return svg_line_plot("Training curves (seed 0; train dashed, validation solid)", "epoch", "accuracy %", series);
}

std::string top3_text(const data::SoftLabels& s, size_t row, const std::vector<std::string>& classes) {
  std::string out;
  char p[16];
  for (int c : top_k(s.row(row), 3)) {
    std::snprintf(p, sizeof p, " %.2f", double(s.row(row)[size_t(c)]));
    out += (out.empty() ? "" : ", ") + classes[size_t(c)] + p;
  }
  return out;
}

std::string config_lines(const ChainConfig& c, const std::string& device) {
  std::string models;
  for (const auto& m : c.models) models += (models.empty() ? "" : ",") + m;
  char v[64] = "none (--val-fraction 0: every training image trains)";
  if (c.val_fraction > 0)
    std::snprintf(v, sizeof v, "%.0f%% (%s, hard labels)", 100 * c.val_fraction, c.val_split.c_str());
  const std::string validation = v;
  char b[640];
  std::snprintf(b, sizeof b,
                "- dataset: %s, %lld train / %lld test images (0 = all)\n"
                "- refinery: %s, %d generations, temperature %g, alpha %g, %d seed(s) from %llu\n"
                "- recipe: %s; models %s; %d epochs max, batch %d, %s lr %g, weight decay %g, schedule %s%s\n"
                "- augmentation: %s%s; validation %s\n"
                "- device: %s\n",
                c.dataset.c_str(), c.train_limit, c.test_limit, c.refine.c_str(), c.generations, c.temperature,
                c.alpha, c.seeds, static_cast<unsigned long long>(c.seed), c.recipe.c_str(), models.c_str(),
                c.epochs, c.batch_size, c.optimizer.c_str(), c.lr, c.weight_decay, c.schedule.c_str(),
                c.early_stopping ? ", early stopping on val accuracy" : "", c.augment.c_str(),
                c.augment == "none" ? ""
                : c.augment_copies > 0 ? (" (" + std::to_string(c.augment_copies) + " static copies)").c_str()
                                       : " (on the fly)",
                validation.c_str(), device.c_str());
  std::string out = b;
  if (!c.teacher.empty()) out += "- teacher: " + c.teacher + " (generation 0, MD5 " + c.teacher_md5 + ")\n";
  if (c.control) out += "- controls: every refined generation also trained on the ground truth (--control)\n";
  return out;
}

std::string per_seed_table(const ChainResults& r) {
  std::string out = "| seed |";
  const size_t gens = r.front().size();
  for (size_t g = 1; g <= gens; ++g) out += " R" + std::to_string(g) + " test % |";
  out += "\n|---|";
  for (size_t g = 0; g < gens; ++g) out += "---|";
  out += "\n";
  char b[32];
  for (const auto& chain : r) {
    out += "| " + std::to_string(chain.front().seed_index) + " |";
    for (const auto& g : chain) {
      std::snprintf(b, sizeof b, " %.2f |", 100 * g.test_accuracy);
      out += b;
    }
    out += "\n";
  }
  return out;
}

// Markdown table -> HTML table (the reports share one source of truth for their tables).
std::string markdown_table_to_html(const std::string& md) {
  std::istringstream in(md);
  std::string line, out = "<table>\n";
  int row = 0;
  while (std::getline(in, line)) {
    if (line.rfind("|---", 0) == 0) continue;
    const char* cell = row++ == 0 ? "th" : "td";
    out += "<tr>";
    std::istringstream cells(line.substr(1));
    std::string c;
    while (std::getline(cells, c, '|')) {
      const size_t a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
      out += std::string("<") + cell + ">" + html_escape(a == std::string::npos ? "" : c.substr(a, b - a + 1)) + "</" + cell + ">";
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

// A CSV number; an empty field where there is none (NaN: no validation split, say), which
// spreadsheets, pandas and R all read as missing.
std::string csv_number(double x) {
  if (!std::isfinite(x)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", x);
  return b;
}

// Every seed and model, one row each, for spreadsheets and scripts: run is "chain" (R1..Rn),
// "teacher" (generation 0) or "control". A refined row with a control also carries this seed's
// gain (refined - control test accuracy) and its generation's gain over seeds: mean, sample
// std and the paired 95% interval (empty for one seed).
std::string results_csv(const ExperimentOutcome& o) {
  std::string out = "seed,generation,model,test_accuracy,val_accuracy,label_agreement,label_entropy,train_seconds,images_per_second,epochs_run,stopped_early,train_mode_accuracy,eval_mode_accuracy,"
                    "run,test_ece,test_nll,gain_vs_control,gain_mean,gain_std,gain_ci95_low,gain_ci95_high\n";
  char b[256];
  const auto row = [&](const GenerationResult& g, const char* run) {
    std::snprintf(b, sizeof b, "%d,%d,%s,%.6f,%s,%.6f,%.6f,%.1f,%.1f,%d,%d,%s,%s,", g.seed_index, g.generation,
                  g.model.c_str(), g.test_accuracy, csv_number(g.val_accuracy).c_str(), g.label_agreement,
                  g.label_entropy, g.train_seconds, g.images_per_second, g.epochs_run, g.stopped_early ? 1 : 0,
                  csv_number(g.train_mode_accuracy).c_str(), csv_number(g.eval_mode_accuracy).c_str());
    out += b + std::string(run) + "," + csv_number(g.test_ece) + "," + csv_number(g.test_nll) + ",";
    const GenerationResult* c = g.generation > 0 && !g.control ? control_of(o.controls, g.seed_index, g.generation) : nullptr;
    if (!c) return void(out += ",,,,\n");
    const PairedInterval p = control_gain(o.results, o.controls, g.generation);
    out += csv_number(g.test_accuracy - c->test_accuracy) + "," + csv_number(p.difference.mean) + "," +
           csv_number(p.defined() ? p.difference.std : std::nan("")) + "," + csv_number(p.low) + "," +
           csv_number(p.high) + "\n";
  };
  for (const auto& t : o.teachers) row(t, "teacher");
  for (const auto& chain : o.results)
    for (const auto& g : chain) row(g, "chain");
  for (const auto& seed : o.controls)
    for (const auto& g : seed) row(g, "control");
  return out;
}

}  // namespace

void write_report(const fs::path& dir, const ChainConfig& c, const ExperimentOutcome& o, const std::string& device) {
  const int gens = c.generations;
  const std::string acc_svg = test_accuracy_plot(o.results, gens);
  const std::string curves_svg = curves_plot(dir, gens);
  write_file_atomic(dir / "test_accuracy.svg", acc_svg);
  write_file_atomic(dir / "training_curves.svg", curves_svg);
  // Calibration: one reliability diagram per generation, the teacher's first.
  std::string reliability_md, reliability_html;
  for (int g = o.teachers.empty() ? 1 : 0; g <= gens; ++g) {
    const std::string svg = reliability_svg(o, g), file = reliability_file_name(g);
    write_file_atomic(dir / file, svg);
    reliability_md += "![reliability " + file + "](" + file + ")\n\n";
    reliability_html += svg;
  }
  const std::string teacher = teacher_line(c, o);
  const std::string controls = c.control ? control_table(c, o) : "";
  const std::string notes = control_notes(c);
  const data::Dataset& imgs = o.figure_images;
  const bool figure = imgs.size() > 0 && int(o.figure_labels.size()) == gens;
  if (figure) {
    const auto sheet = png_contact_sheet(imgs, kZoom, int(std::min<size_t>(imgs.size(), 12)));
    write_file_atomic(dir / "figure4.png", std::string_view(reinterpret_cast<const char*>(sheet.data()), sheet.size()));
  }
  const std::string table = summary_table(o.results);
  const std::string seeds = per_seed_table(o.results);
  const std::string config = config_lines(c, device);

  std::string md = "# Label Refinery: " + c.dataset + " (" + c.refine + ")\n\n" + config + "\n" +
                   (teacher.empty() ? "" : teacher + "\n") + "## Per generation\n\n" + table +
                   "\nTest accuracy is reported only; no decision used the test split. Label agreement and entropy "
                   "describe each generation's soft labels of the training images (the targets of the next "
                   "generation). " + notes + "\n" +
                   (controls.empty() ? "" : "\n## Refined vs control (ground truth, same seed)\n\n" + controls) +
                   "\n## Test accuracy per seed\n\n" + seeds +
                   "\nEvery value of every seed: results.csv.\n\n## Plots\n\n![test accuracy](test_accuracy.svg)\n\n![training curves](training_curves.svg)\n\n"
                   "## Calibration (reliability diagrams)\n\n" + reliability_md;
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Label Refinery report</title>\n"
                     "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
                     "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}img{image-rendering:pixelated}</style>"
                     "</head><body>\n<h1>Label Refinery: " + html_escape(c.dataset) + " (" + c.refine + ")</h1>\n<ul>";
  {
    std::istringstream in(config);
    std::string line;
    while (std::getline(in, line)) html += "<li>" + html_escape(line.substr(2)) + "</li>";
  }
  html += "</ul>\n" + (teacher.empty() ? "" : "<p>" + html_escape(teacher) + "</p>\n") + "<h2>Per generation</h2>\n" +
          markdown_table_to_html(table) + "<p>Test accuracy is reported only; no decision used the test split. " +
          html_escape(notes) + "</p>\n" +
          (controls.empty() ? "" : "<h2>Refined vs control (ground truth, same seed)</h2>\n" + markdown_table_to_html(controls)) +
          "<h2>Test accuracy per seed</h2>\n" + markdown_table_to_html(seeds) + "<h2>Plots</h2>\n" + acc_svg + curves_svg +
          "<h2>Calibration (reliability diagrams)</h2>\n" + reliability_html;

  if (figure) {
    std::string grid = "| image | ground truth |";
    for (int g = 1; g <= gens; ++g) grid += " R" + std::to_string(g) + " top-3 |";
    grid += "\n|---|---|";
    for (int g = 1; g <= gens; ++g) grid += "---|";
    grid += "\n";
    std::string rows_html;
    for (size_t i = 0; i < imgs.size(); ++i) {
      const std::string truth = imgs.classes[size_t(imgs.labels[i])];
      grid += "| " + std::to_string(i) + " | " + truth + " |";
      rows_html += "<tr><td><img src=\"data:image/png;base64," + base64(png_of_image(imgs, i, kZoom)) +
                   "\"></td><td>" + html_escape(truth) + "</td>";
      for (int g = 0; g < gens; ++g) {
        const std::string t = top3_text(o.figure_labels[size_t(g)], i, imgs.classes);
        grid += " " + t + " |";
        rows_html += "<td>" + html_escape(t) + "</td>";
      }
      grid += "\n";
      rows_html += "</tr>\n";
    }
    md += "\n## Training images and their soft labels (cf. the paper's Figure 4)\n\n"
          "![training images, in the order of the rows below](figure4.png)\n\n" + grid;
    html += "<h2>Training images and their soft labels (cf. the paper's Figure 4)</h2>\n<table><tr><th>image</th><th>ground truth</th>";
    for (int g = 1; g <= gens; ++g) html += "<th>R" + std::to_string(g) + " top-3</th>";
    html += "</tr>\n" + rows_html + "</table>\n";
  }
  html += "</body></html>\n";
  write_file_atomic(dir / "results.csv", results_csv(o));
  write_file_atomic(dir / "report.md", md);
  write_file_atomic(dir / "report.html", html);
}

}  // namespace rf::app
