#pragma once
// report.md and a self-contained report.html for one experiment directory: the configuration,
// the per-generation table, plots of test accuracy per generation (mean +- std over seeds) and
// of the training curves, and a Figure-4-like grid of training images with their ground truth
// and the top-3 soft labels of every generation; with --teacher and --control the teacher and
// refined vs control (apps/control_report.h), and a reliability diagram per generation. The SVG
// plots and figure4.png are also written as files next to the reports, and every seed's numbers
// as results.csv.
#include <filesystem>
#include <string>

#include "apps/chain.h"
#include "apps/cli.h"

namespace rf::app {

void write_report(const std::filesystem::path& dir, const ChainConfig& c, const ExperimentOutcome& o,
                  const std::string& device);

}  // namespace rf::app
