// refine_app predict: image files and folders -> the model's top-k classes.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "apps/model_commands.h"
#include "data/bytes.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "models/model_file.h"
#include "train/evaluate.h"
#include "train/host_allocator.h"
#include "train/model_data.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

// Images are decoded and classified this many at a time, so a folder of any size fits memory.
constexpr size_t kChunk = 1024;

// The files to classify: files as given, folders searched recursively for image files (sorted).
// A path that is neither is reported to `err` and counted in `failed`.
std::vector<fs::path> image_files(const std::vector<std::string>& paths, std::ostream& err, int& failed) {
  std::vector<fs::path> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && data::is_image_file(e.path())) found.push_back(e.path());
      if (found.empty()) {
        err << "refine_app: error: " << p << ": no .png/.jpg/.jpeg/.bmp files in this folder\n";
        ++failed;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.emplace_back(p);
    } else {
      err << "refine_app: error: " << p << ": no such file or folder\n";
      ++failed;
    }
  }
  return files;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

struct Prediction {
  std::string file;
  std::vector<std::pair<int, float>> top;  // (class, probability), most probable first
};

std::vector<std::pair<int, float>> top_k(const float* p, int classes, int k) {
  std::vector<int> idx(static_cast<size_t>(classes));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [p](int a, int b) { return p[a] > p[b]; });
  std::vector<std::pair<int, float>> out;
  for (int i = 0; i < std::min(k, classes); ++i) out.emplace_back(idx[size_t(i)], p[idx[size_t(i)]]);
  return out;
}

// Column widths are those of `rows`, one chunk: the header goes with the first.
void print_table(const std::vector<Prediction>& rows, const std::vector<std::string>& names, int k,
                 bool header, std::ostream& out) {
  size_t fw = 5, nw = 5;
  for (const auto& r : rows) fw = std::max(fw, r.file.size());
  for (const auto& n : names) nw = std::max(nw, n.size());
  char cell[512];
  if (header) {
    std::snprintf(cell, sizeof cell, "%-*s", int(fw), "image");
    out << cell;
    for (int i = 1; i <= k; ++i) {
      std::snprintf(cell, sizeof cell, "  %-*s", i < k ? int(nw + 8) : 0, ("top " + std::to_string(i)).c_str());
      out << cell;
    }
    out << '\n';
  }
  for (const auto& r : rows) {
    std::snprintf(cell, sizeof cell, "%-*s", int(fw), r.file.c_str());
    out << cell;
    for (const auto& [c, p] : r.top) {
      std::snprintf(cell, sizeof cell, "  %-*s %6.2f%%", int(nw), names[size_t(c)].c_str(), 100.0 * p);
      out << cell;
    }
    out << '\n';
  }
}

}  // namespace

int run_predict(const ModelCommand& c, Device device, std::ostream& out, std::ostream& err) {
  const train::RecordedStep::Recorder recorder =
      cuda_graphs_for(c, device) ? train::backend_recorder(device) : train::RecordedStep::Recorder();
  const auto model = models::load_described_model(c.model, device, "predict");
  const models::DataDescription& desc = *model->description();
  const int k = std::min(c.top_k, model->classes());
  int failed = 0;
  const std::vector<fs::path> files = image_files(c.paths, err, failed);
  std::ostringstream csv;
  csv << "file,rank,class,probability\n";
  size_t classified = 0;
  bool header = true;
  for (size_t begin = 0; begin < files.size(); begin += kChunk) {
    // This chunk's readable images, at the model's size and channel count; labels unknown (0).
    data::Dataset d;
    d.name = "predict";
    d.height = desc.height;
    d.width = desc.width;
    d.channels = desc.channels;
    d.classes = desc.class_names;
    std::vector<std::string> names;
    for (size_t i = begin; i < std::min(files.size(), begin + kChunk); ++i) {
      const std::string name = files[i].string();
      try {
        const data::DecodedImage img = data::decode_image(data::read_file(files[i]), name, desc.channels);
        const std::vector<std::uint8_t> px =
            data::resize_image(img.pixels.data(), {img.height, img.width}, desc.channels, {desc.height, desc.width});
        d.images.insert(d.images.end(), px.begin(), px.end());
        d.labels.push_back(0);
        names.push_back(name);
      } catch (const std::exception& e) {
        err << "refine_app: error: " << e.what() << '\n';
        ++failed;
      }
    }
    if (d.size() == 0) continue;
    data::LoaderOptions lo;
    lo.batch_size = size_t(c.batch_size);
    lo.shuffle = false;
    lo.normalization = train::normalization_of(desc);
    lo.allocator = train::host_allocator_for(device);
    data::Loader loader(d, lo);
    const data::SoftLabels p =
        train::predict_probabilities(*model, loader, d.size(), float(c.temperature), recorder);
    std::vector<Prediction> rows;
    for (size_t i = 0; i < d.size(); ++i) {
      rows.push_back({names[i], top_k(p.row(i).data(), model->classes(), k)});
      for (size_t r = 0; r < rows.back().top.size(); ++r) {
        const auto [cls, prob] = rows.back().top[r];
        char v[32];
        std::snprintf(v, sizeof v, "%.6g", double(prob));
        csv << csv_field(names[i]) << ',' << r + 1 << ',' << csv_field(desc.class_names[size_t(cls)]) << ',' << v << '\n';
      }
    }
    print_table(rows, desc.class_names, k, header, out);
    header = false;
    classified += d.size();
  }
  if (!c.csv.empty()) {
    write_file_atomic(c.csv, csv.str());
    out << "predictions: " << c.csv << '\n';
  }
  if (failed) err << "refine_app: " << failed << " input(s) failed; " << classified << " image(s) classified\n";
  return failed ? 1 : 0;
}

}  // namespace rf::app
