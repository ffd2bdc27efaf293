#pragma once
// Where a run's files go: one fresh directory per invocation, never an earlier run's.
//
// Layout: RUN/config.json, RUN/report.{md,html}, RUN/figure4.png, RUN/results.csv, and per chain
// and generation RUN/seed<k>/gen<g>/{metrics.jsonl, checkpoint.safetensors, model.safetensors,
// labels.bin, labels_top3.csv, stats.json}. With --teacher: RUN/teacher.safetensors and
// RUN/seed<k>/gen0/{labels.bin, labels_top3.csv, stats.json}; with --control:
// RUN/seed<k>/control<g>/ (the files of a generation) beside gen<g>/. stats.json is written
// last: it marks the generation complete. A Table-1 run holds one such tree per dataset x
// augmentation under RUN/<dataset>-aug<0|1>/. A --gpus run also holds its shards' run
// directories, RUN/shard-K-of-N/ (apps/multi_gpu.h), whose cells are linked into RUN.
#include <filesystem>
#include <string>

namespace rf::app {

// Creates OUT/<YYYYmmdd-HHMMSS>-<dataset>-<refine>, with -2, -3, ... appended when that exists
// (created with mkdir, so two processes never share one).
std::filesystem::path create_run_dir(const std::filesystem::path& out, const std::string& dataset,
                                     const std::string& refine);

struct GenerationPaths {
  std::filesystem::path dir, metrics, checkpoint, model, labels, labels_csv, stats;
};
std::filesystem::path seed_dir(const std::filesystem::path& experiment, int seed_index);
GenerationPaths generation_paths(const std::filesystem::path& experiment, int seed_index, int generation);
// --control: the ground-truth twin of generation `generation`, RUN/seed<k>/control<g>/ (same files).
GenerationPaths control_paths(const std::filesystem::path& experiment, int seed_index, int generation);

// A name fit for a directory: the last component of a path, other characters replaced by '_'.
std::string safe_name(const std::string& s);

}  // namespace rf::app
