#include "apps/run_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

std::string safe_name(const std::string& s) {
  std::string base = fs::path(s).filename().string();
  if (base.empty()) base = fs::path(s).parent_path().filename().string();
  for (char& c : base)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return base.empty() ? "data" : base;
}

fs::path create_run_dir(const fs::path& out, const std::string& dataset, const std::string& refine) {
  std::error_code ec;
  fs::create_directories(out, ec);
  RF_CHECK(!ec, out.string() << ": cannot create the output directory: " << ec.message());
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string base = std::string(stamp) + "-" + safe_name(dataset) + "-" + refine;
  for (int k = 1;; ++k) {
    const fs::path dir = out / (k == 1 ? base : base + "-" + std::to_string(k));
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    RF_CHECK(errno == EEXIST, dir.string() << ": cannot create the run directory: " << std::strerror(errno));
  }
}

fs::path seed_dir(const fs::path& experiment, int seed_index) {
  return experiment / ("seed" + std::to_string(seed_index));
}

namespace {

GenerationPaths paths_in(const fs::path& dir) {
  GenerationPaths p;
  p.dir = dir;
  p.metrics = p.dir / "metrics.jsonl";
  p.checkpoint = p.dir / "checkpoint.safetensors";
  p.model = p.dir / "model.safetensors";
  p.labels = p.dir / "labels.bin";
  p.labels_csv = p.dir / "labels_top3.csv";
  p.stats = p.dir / "stats.json";
  return p;
}

}  // namespace

GenerationPaths generation_paths(const fs::path& experiment, int seed_index, int generation) {
  return paths_in(seed_dir(experiment, seed_index) / ("gen" + std::to_string(generation)));
}

GenerationPaths control_paths(const fs::path& experiment, int seed_index, int generation) {
  return paths_in(seed_dir(experiment, seed_index) / ("control" + std::to_string(generation)));
}

}  // namespace rf::app
