#pragma once
// The refinery chain: R1 on the ground truth, then each generation trains a fresh model on the
// previous generation's soft labels, computed once on the training images (static) or by the
// frozen previous model on every augmented batch (dynamic). K seeds give K independent chains.
// With a teacher (generation 0, a loaded model) R1 already learns from it. With controls, every
// generation that learns from a model gets a twin trained on the ground truth with the same
// architecture, recipe, initialization and batch order (its seed), so refined - control
// isolates the effect of the targets.
// Every generation checkpoints after each epoch and marks itself complete with stats.json, so
// running the same experiment again in the same directory continues where it stopped.
#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "apps/cli.h"
#include "apps/progress_line.h"
#include "apps/results.h"
#include "data/dataset.h"
#include "data/soft_labels.h"
#include "engine/device.h"
#include "models/model.h"

namespace rf::app {

// Ctrl-C / SIGTERM stopped training; the last completed epoch is on disk.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunContext {
  Device device = Device::CPU;
  const std::atomic<bool>* stop = nullptr;
  RunProgress* progress = nullptr;
  // ChainConfig::teacher loaded (apps/teacher.h); the chain never trains it.
  models::Model* teacher = nullptr;
};

struct ExperimentOutcome {
  ChainResults results;
  // Per seed: the controls of the refined generations (--control), and the teacher as
  // generation 0 (--teacher); empty without them.
  ChainResults controls;
  std::vector<GenerationResult> teachers;
  // The first training images of seed 0 and every generation's labels of them (Figure 4);
  // empty when seed 0 is not among those run.
  data::Dataset figure_images;
  std::vector<data::SoftLabels> figure_labels;
};

// Runs the chains of `seed_indices` (each in 0..c.seeds-1): all of them, or a shard's.
ExperimentOutcome run_experiment(const ChainConfig& c, const data::TrainTest& raw,
                                 const std::filesystem::path& dir, const RunContext& ctx,
                                 const std::vector<int>& seed_indices);

}  // namespace rf::app
