#include "apps/chain.h"

#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>

#include "apps/file_io.h"
#include "apps/experiment_data.h"
#include "apps/label_stats.h"
#include "apps/run_dir.h"
#include "apps/train_settings.h"
#include "data/bytes.h"
#include "data/loader.h"
#include "engine/backend.h"
#include "engine/check.h"
#include "engine/ops.h"
#include "models/factory.h"
#include "models/model_file.h"
#include "train/batch_tensors.h"
#include "train/batchnorm_statistics.h"
#include "train/host_allocator.h"
#include "train/evaluate.h"
#include "train/model_data.h"
#include "train/trainer.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

constexpr int kTopK = 3;

data::LoaderOptions eval_loader_options(const ChainConfig& c, const data::Normalization& norm,
                                        Device device) {
  data::LoaderOptions o;
  o.batch_size = size_t(c.batch_size);
  o.allocator = train::host_allocator_for(device);
  o.shuffle = false;
  o.normalization = norm;
  return o;
}

data::SoftLabels first_rows(const data::SoftLabels& s, size_t n) {
  data::SoftLabels out;
  out.rows = std::min(n, s.rows);
  out.classes = s.classes;
  out.values.assign(s.values.begin(), s.values.begin() + std::ptrdiff_t(out.rows * size_t(s.classes)));
  return out;
}

// Trains generation `g` of one chain (or finishes it after an interruption) and writes its
// model, labels and stats. `prev_labels` (static) or `labeler` (dynamic) is the previous
// generation's output; both are empty for R1.
GenerationResult run_generation(const ChainConfig& c, const ChainData& d, std::uint64_t seed,
                                int seed_index, int g, const GenerationPaths& paths,
                                const data::SoftLabels* prev_labels, models::Model* labeler,
                                const RunContext& ctx, data::SoftLabels& labels_out,
                                std::unique_ptr<models::Model>& model_out) {
  fs::create_directories(paths.dir);
  models::ModelOptions mo;
  mo.classes = d.train.num_classes();
  mo.in_channels = d.train.channels;
  mo.seed = seed * 1000 + std::uint64_t(g);
  mo.device = ctx.device;
  auto model = models::make_model(c.model_for(g), mo);
  model->set_description(train::describe_data(d.train, d.normalization));

  // Static refinery: the previous generation's labels (mixed with the truth by alpha) replace
  // the one-hot targets; the dynamic refinery computes targets per batch below.
  data::SoftLabels targets;
  if (prev_labels) targets = mix_with_truth(*prev_labels, d.train.labels, c.alpha);
  data::LoaderOptions lo;
  lo.batch_size = size_t(c.batch_size);
  lo.seed = seed * 1000 + std::uint64_t(g);
  lo.augment = d.on_the_fly;
  lo.normalization = d.normalization;
  lo.allocator = train::host_allocator_for(ctx.device);
  data::Loader train_loader(d.train, lo, prev_labels ? &targets : nullptr);
  // --val-fraction 0 holds out nothing: no validation loader then (a loader refuses no images).
  std::optional<data::Loader> val_loader;
  if (d.val.size()) val_loader.emplace(d.val, eval_loader_options(c, d.normalization, ctx.device));

  // Precise batch-norm statistics come from unaugmented training images, the distribution that
  // evaluation and static labeling see; full batches only, so every batch weighs the same.
  data::LoaderOptions so = eval_loader_options(c, d.normalization, ctx.device);
  so.shuffle = true;
  so.seed = lo.seed;
  so.drop_last = d.train.size() >= so.batch_size;
  data::Loader statistics_loader(d.train, so);
  train::TrainConfig tc = train_config(c, paths.metrics, paths.checkpoint);
  tc.stop = ctx.stop;
  tc.precise_bn_batches = c.precise_bn;
  tc.statistics_loader = &statistics_loader;
  train::Trainer trainer(*model, tc, int64_t(train_loader.batches_per_epoch()));
  if (labeler) {
    labeler->set_training(false);
    const float inv_t = float(1.0 / c.temperature);
    const float alpha = float(c.alpha);
    trainer.set_target_provider([labeler, inv_t, alpha](const data::Batch& b, const Tensor& images) {
      Variable logits = labeler->forward(Variable(images));
      if (inv_t != 1.f) logits = scale(logits, inv_t);
      const Variable p = softmax(logits);
      if (alpha == 1.f) return p.value();
      const Variable truth(train::batch_targets(b, images.device()));
      return add(scale(p, alpha), scale(truth, 1.f - alpha)).value();
    });
  }
  if (ctx.progress) {
    trainer.on_batch([&](const train::BatchProgress& p) { ctx.progress->batch(p); });
    trainer.on_epoch([&](const train::EpochStats& s) { ctx.progress->epoch(s); });
  }
  if (fs::exists(paths.checkpoint)) {
    trainer.resume(paths.checkpoint);
    std::printf("resumed %s after epoch %d\n", paths.checkpoint.string().c_str(), trainer.next_epoch());
  }
  const train::FitResult fit = trainer.fit(train_loader, val_loader ? &*val_loader : nullptr);
  if (fit.interrupted) throw Interrupted("interrupted during " + paths.dir.string());
  models::save_model(*model, paths.model);

  GenerationResult r;
  r.seed_index = seed_index;
  r.generation = g;
  r.model = c.model_for(g);
  {
    data::Loader test_loader(d.test, eval_loader_options(c, d.normalization, ctx.device));
    r.test_accuracy = train::evaluate(*model, test_loader).accuracy();
  }
  r.val_accuracy = val_loader ? train::evaluate(*model, *val_loader).accuracy() : std::nan("");
  // This generation's refined labels: its softmax on the (unaugmented) training images.
  data::Loader label_loader(d.train, eval_loader_options(c, d.normalization, ctx.device));
  labels_out = train::predict_probabilities(*model, label_loader, d.train.size(), float(c.temperature));
  data::check_soft_labels(labels_out, paths.labels.string());
  const data::Bytes bytes = data::serialize_soft_labels(labels_out);
  write_file_atomic(paths.labels, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  write_file_atomic(paths.labels_csv, top_k_csv(labels_out, d.train.labels, d.train.classes, kTopK));
  {
    // Running statistics that do not fit the weights show as eval mode falling behind training
    // mode on the same images; it is what ruined refined labels before precise statistics.
    constexpr size_t kModeCheckImages = 2000;
    const int batches = int((std::min(kModeCheckImages, d.train.size()) + so.batch_size - 1) / so.batch_size);
    const train::ModeAccuracy m = train::compare_batchnorm_modes(*model, statistics_loader, batches);
    r.train_mode_accuracy = m.train_mode;
    r.eval_mode_accuracy = m.eval_mode;
    if (m.parted())
      std::printf("warning: %s: on %zu training images eval mode reaches %.1f%% but training mode %.1f%%: "
                  "the batch-norm statistics do not fit the weights, so evaluation and refined labels "
                  "are off (--precise-bn %d)\n",
                  paths.dir.string().c_str(), m.images, 100 * m.eval_mode, 100 * m.train_mode,
                  c.precise_bn);
  }
  r.label_agreement = label_agreement(labels_out, d.train.labels);
  r.label_entropy = mean_entropy(labels_out);
  const auto& h = fit.history;
  r.epochs_run = int(h.size());
  r.stopped_early = fit.stopped_early;
  r.train_seconds = h.empty() ? 0 : h.back().elapsed_seconds;
  for (const auto& e : h) r.images_per_second += e.images_per_second / double(h.size());
  write_file_atomic(paths.stats, r.to_json().dump() + "\n");
  model_out = std::move(model);
  return r;
}

}  // namespace

ExperimentOutcome run_experiment(const ChainConfig& c, const data::TrainTest& raw,
                                 const fs::path& dir, const RunContext& ctx) {
  ExperimentOutcome out;
  backend_for(ctx.device).set_deterministic(c.deterministic);
  for (int k = 0; k < c.seeds; ++k) {
    const std::uint64_t seed = c.seed + std::uint64_t(k);
    const ChainData d = prepare_chain_data(c, raw, seed);
    if (k == 0) {
      std::vector<size_t> idx(std::min(size_t(c.figure_images), d.train.size()));
      std::iota(idx.begin(), idx.end(), size_t(0));
      out.figure_images = data::subset(d.train, idx);
    }
    std::vector<GenerationResult> chain;
    data::SoftLabels labels;                // of the previous generation
    std::unique_ptr<models::Model> labeler;  // the previous generation (dynamic refinery)
    for (int g = 1; g <= c.generations; ++g) {
      const GenerationPaths paths = generation_paths(dir, k, g);
      const bool dynamic = c.refine == "dynamic";
      GenerationResult r;
      if (fs::exists(paths.stats)) {
        // Completed before an interruption: reuse its outputs.
        const std::string where = paths.stats.string();
        r = read_json(where, [&] { return GenerationResult::from_json(parse_json(read_text_file(paths.stats), where)); });
        labels = data::load_soft_labels(paths.labels, d.train);
        if (dynamic && g < c.generations) labeler = models::load_model(paths.model, ctx.device);
        if (ctx.progress) ctx.progress->skip_generation();
      } else {
        char label[96];
        std::snprintf(label, sizeof label, "%sR%d/%d %s", c.seeds > 1 ? ("seed " + std::to_string(k + 1) + "/" + std::to_string(c.seeds) + " ").c_str() : "",
                      g, c.generations, c.model_for(g).c_str());
        if (ctx.progress) ctx.progress->start_generation(label);
        const data::SoftLabels* prev = (g > 1 && !dynamic) ? &labels : nullptr;
        models::Model* prev_model = (g > 1 && dynamic) ? labeler.get() : nullptr;
        data::SoftLabels next_labels;
        std::unique_ptr<models::Model> trained;
        r = run_generation(c, d, seed, k, g, paths, prev, prev_model, ctx, next_labels, trained);
        labels = std::move(next_labels);
        labeler = std::move(trained);
        if (ctx.progress) ctx.progress->finish_generation();
        const std::string val = percent_text(r.val_accuracy, 2) + (std::isfinite(r.val_accuracy) ? "%" : "");
        std::printf("%s: test acc %.2f%%  val acc %s  label agreement %.2f%%  entropy %.3f  "
                    "train images eval/train mode %.1f/%.1f%%  (%s)\n",
                    label, 100 * r.test_accuracy, val.c_str(), 100 * r.label_agreement,
                    r.label_entropy, 100 * r.eval_mode_accuracy, 100 * r.train_mode_accuracy,
                    paths.dir.string().c_str());
      }
      if (k == 0) out.figure_labels.push_back(first_rows(labels, out.figure_images.size()));
      chain.push_back(r);
    }
    out.results.push_back(std::move(chain));
  }
  return out;
}

}  // namespace rf::app
