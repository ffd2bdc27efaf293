#include "apps/chain.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <numeric>
#include <optional>

#include "apps/experiment_data.h"
#include "apps/file_io.h"
#include "apps/label_stats.h"
#include "apps/run_dir.h"
#include "apps/train_settings.h"
#include "data/bytes.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/backend.h"
#include "engine/check.h"
#include "engine/ops.h"
#include "models/factory.h"
#include "models/model_file.h"
#include "train/batch_tensors.h"
#include "train/batchnorm_statistics.h"
#include "train/calibration.h"
#include "train/device_dataset.h"
#include "train/evaluate.h"
#include "train/host_allocator.h"
#include "train/model_data.h"
#include "train/trainer.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

constexpr int kTopK = 3;

// --precision bf16 keeps activations in bf16 (Model::set_activation_dtype); tf32 and bf16 allow
// TF32 for the float32 GEMMs and convolutions.
DType activation_dtype(const ChainConfig& c) { return c.precision == "bf16" ? DType::BF16 : DType::F32; }

// Backend::record when the chain replays CUDA graphs (--cuda-graphs): evaluation and labeling
// passes are recorded as the training steps are.
train::RecordedStep::Recorder inference_recorder(const ChainConfig& c, Device device) {
  return c.cuda_graphs ? train::backend_recorder(device) : train::RecordedStep::Recorder();
}

// --concurrent-backward for the length of one run_experiment: the backend's concurrency as the
// configuration asks, back to what it was when the run ends (or throws), so that a process
// running several chains (a grid, the tests) sets it per run and leaves none on behind it.
class ConcurrencyForRun {
 public:
  ConcurrencyForRun(Backend& backend, bool on) : backend_(backend), before_(backend.concurrency()) {
    backend_.set_concurrency(on);
  }
  ~ConcurrencyForRun() {
    try {
      backend_.set_concurrency(before_);
    } catch (const std::exception& e) {  // a device error while unwinding: reported, not rethrown
      std::fprintf(stderr, "--concurrent-backward: the backend's concurrency could not be restored: %s\n", e.what());
    }
  }
  ConcurrencyForRun(const ConcurrencyForRun&) = delete;
  ConcurrencyForRun& operator=(const ConcurrencyForRun&) = delete;

 private:
  Backend& backend_;
  const bool before_;
};

data::SoftLabels first_rows(const data::SoftLabels& s, size_t n) {
  data::SoftLabels out;
  out.rows = std::min(n, s.rows);
  out.classes = s.classes;
  out.values.assign(s.values.begin(), s.values.begin() + std::ptrdiff_t(out.rows * size_t(s.classes)));
  return out;
}

// Test accuracy and calibration (train/calibration.h) of `model` on the test split, from one
// pass of its probabilities.
void measure_test(GenerationResult& r, models::Model& model, const ChainConfig& c, const ChainData& d, Device device) {
  data::Loader test_loader(d.test, eval_loader_options(c, d.normalization, device));
  const train::Calibration cal =
      train::calibration(train::predict_probabilities(model, test_loader, d.test.size(), 1.f,
                                                      inference_recorder(c, device)),
                         d.test.labels);
  r.test_accuracy = cal.accuracy;
  r.test_ece = cal.ece;
  r.test_nll = cal.nll;
  r.reliability = cal.bins;
}

// This generation's refined labels: its softmax on the (unaugmented) training images, written
// as labels.bin and the readable top-k CSV.
data::SoftLabels write_labels(models::Model& model, const ChainConfig& c, const ChainData& d,
                              const GenerationPaths& paths, Device device) {
  data::Loader label_loader(d.train, eval_loader_options(c, d.normalization, device));
  data::SoftLabels labels = train::predict_probabilities(model, label_loader, d.train.size(), float(c.temperature),
                                                         inference_recorder(c, device));
  data::check_soft_labels(labels, paths.labels.string());
  const data::Bytes bytes = data::serialize_soft_labels(labels);
  write_file_atomic(paths.labels, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  write_file_atomic(paths.labels_csv, top_k_csv(labels, d.train.labels, d.train.classes, kTopK));
  return labels;
}

// What a completed generation (or teacher, or control) measured.
GenerationResult read_stats(const GenerationPaths& paths) {
  const std::string where = paths.stats.string();
  return read_json(where, [&] { return GenerationResult::from_json(parse_json(read_text_file(paths.stats), where)); });
}

// Generation 0: the --teacher, measured like a trained generation (no training, so no epochs,
// times or batch-norm mode check) and its labels of the training images written for R1.
GenerationResult teacher_generation(const ChainConfig& c, const ChainData& d, int seed_index, models::Model& teacher,
                                    const GenerationPaths& paths, Device device, data::SoftLabels& labels_out) {
  RF_CHECK(teacher.classes() == d.train.num_classes() && teacher.in_channels() == d.train.channels,
           "--teacher " << c.teacher << ": a model of " << teacher.classes() << " classes and "
                        << teacher.in_channels() << " input channels cannot label " << c.dataset << " ("
                        << d.train.num_classes() << " classes, " << d.train.channels << " channels)");
  fs::create_directories(paths.dir);
  GenerationResult r;
  r.seed_index = seed_index;
  r.generation = 0;
  r.model = teacher.arch();
  measure_test(r, teacher, c, d, device);
  if (d.val.size()) {
    data::Loader val_loader(d.val, eval_loader_options(c, d.normalization, device));
    r.val_accuracy = train::evaluate(teacher, val_loader, inference_recorder(c, device)).accuracy();
  } else {
    r.val_accuracy = std::nan("");
  }
  labels_out = write_labels(teacher, c, d, paths, device);
  r.label_agreement = label_agreement(labels_out, d.train.labels);
  r.label_entropy = mean_entropy(labels_out);
  r.train_mode_accuracy = r.eval_mode_accuracy = std::nan("");
  write_file_atomic(paths.stats, r.to_json().dump() + "\n");
  return r;
}

// Trains generation `g` of one chain (or finishes it after an interruption) and writes its
// model, labels and stats. `prev_labels` (static) or `labeler` (dynamic) is the previous
// generation's output; both are empty for a generation that learns the ground truth (R1 without
// a teacher, a control). The seed of initialization and batch order depends on (seed, g) only,
// so a control trains exactly as its refined generation but for the targets.
GenerationResult run_generation(const ChainConfig& c, const ChainData& d, std::uint64_t seed,
                                int seed_index, int g, bool control, const GenerationPaths& paths,
                                const data::SoftLabels* prev_labels, models::Model* labeler,
                                const RunContext& ctx, data::SoftLabels& labels_out,
                                std::unique_ptr<models::Model>& model_out) {
  fs::create_directories(paths.dir);
  // A run killed while writing left temporaries here (a checkpoint's is as large as it); this
  // process is the directory's only writer.
  remove_stale_temporaries(paths.dir);
  models::ModelOptions mo;
  mo.classes = d.train.num_classes();
  mo.in_channels = d.train.channels;
  mo.seed = seed * 1000 + std::uint64_t(g);
  mo.device = ctx.device;
  auto model = models::make_model(c.model_for(g), mo);
  model->set_activation_dtype(activation_dtype(c));
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
  // --data-on-device: the dataset and its targets are uploaded once; the loader only orders
  // indices, and each batch is made on the device from them.
  std::optional<train::DeviceDataset> device_data;
  if (c.data_on_device) {
    device_data.emplace(d.train, lo, ctx.device, prev_labels ? &targets : nullptr);
    lo.indices_only = true;
    lo.workers = 0;
  }
  data::Loader train_loader(d.train, lo, prev_labels && !device_data ? &targets : nullptr);
  // --val-fraction 0 holds out nothing: no validation loader then (a loader refuses no images).
  std::optional<data::Loader> val_loader;
  if (d.val.size()) val_loader.emplace(d.val, eval_loader_options(c, d.normalization, ctx.device));

  const data::LoaderOptions so = statistics_loader_options(c, d.normalization, ctx.device, lo.seed, d.train.size());
  data::Loader statistics_loader(d.train, so);
  train::TrainConfig tc = train_config(c, paths.metrics, paths.checkpoint);
  tc.stop = ctx.stop;
  tc.precise_bn_batches = c.precise_bn;
  tc.statistics_loader = &statistics_loader;
  train::Trainer trainer(*model, tc, int64_t(train_loader.batches_per_epoch()));
  if (device_data) trainer.set_device_data(&*device_data);
  if (labeler) {
    labeler->set_training(false);
    const float inv_t = float(1.0 / c.temperature);
    const float alpha = float(c.alpha);
    trainer.set_target_provider([labeler, inv_t, alpha](const Tensor& images, const Tensor& truth) {
      Variable logits = labeler->forward(Variable(images));
      if (inv_t != 1.f) logits = scale(logits, inv_t);
      const Variable p = softmax(logits);
      if (alpha == 1.f) return p.value();
      return add(scale(p, alpha), scale(Variable(truth), 1.f - alpha)).value();
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
  r.control = control;
  r.model = c.model_for(g);
  measure_test(r, *model, c, d, ctx.device);
  r.val_accuracy =
      val_loader ? train::evaluate(*model, *val_loader, inference_recorder(c, ctx.device)).accuracy() : std::nan("");
  labels_out = write_labels(*model, c, d, paths, ctx.device);
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
                                 const fs::path& dir, const RunContext& ctx,
                                 const std::vector<int>& seed_indices) {
  ExperimentOutcome out;
  backend_for(ctx.device).set_deterministic(c.deterministic);
  backend_for(ctx.device).set_allow_tf32(c.precision != "fp32");
  const ConcurrencyForRun concurrency(backend_for(ctx.device), c.concurrent_backward);
  if (ctx.teacher) ctx.teacher->set_activation_dtype(activation_dtype(c));
  RF_CHECK(c.teacher.empty() == (ctx.teacher == nullptr),
           "run_experiment: the configuration's teacher '" << c.teacher << "' and the loaded one disagree");
  const bool dynamic = c.refine == "dynamic";
  for (const int k : seed_indices) {
    const std::uint64_t seed = c.seed + std::uint64_t(k);
    const ChainData d = prepare_chain_data(c, raw, seed);
    if (k == 0) {
      std::vector<size_t> idx(std::min(size_t(c.figure_images), d.train.size()));
      std::iota(idx.begin(), idx.end(), size_t(0));
      out.figure_images = data::subset(d.train, idx);
    }
    // Trains one model of the chain, or reuses it when a run completed it before an
    // interruption; `labels` gets its labels of the training images, `model` (when asked) the model.
    const auto train_or_reuse = [&](const GenerationPaths& paths, int g, bool control, const data::SoftLabels* prev,
                                    models::Model* prev_model, data::SoftLabels* labels,
                                    std::unique_ptr<models::Model>* model) {
      char label[128];
      std::snprintf(label, sizeof label, "%sR%d/%d %s%s",
                    c.seeds > 1 ? ("seed " + std::to_string(k + 1) + "/" + std::to_string(c.seeds) + " ").c_str() : "",
                    g, c.generations, c.model_for(g).c_str(), control ? " control (ground truth)" : "");
      GenerationResult r;
      if (fs::exists(paths.stats)) {
        r = read_stats(paths);
        if (labels) *labels = data::load_soft_labels(paths.labels, d.train);
        if (model) {
          *model = models::load_model(paths.model, ctx.device);
          (*model)->set_activation_dtype(activation_dtype(c));
        }
        if (ctx.progress) ctx.progress->skip_generation();
        return r;
      }
      if (ctx.progress) ctx.progress->start_generation(label);
      data::SoftLabels next_labels;
      std::unique_ptr<models::Model> trained;
      r = run_generation(c, d, seed, k, g, control, paths, prev, prev_model, ctx, next_labels, trained);
      if (labels) *labels = std::move(next_labels);
      if (model) *model = std::move(trained);
      if (ctx.progress) ctx.progress->finish_generation();
      const std::string val = percent_text(r.val_accuracy, 2) + (std::isfinite(r.val_accuracy) ? "%" : "");
      std::printf("%s: test acc %.2f%%  ECE %.2f%%  NLL %.3f  val acc %s  label agreement %.2f%%  entropy %.3f  "
                  "train images eval/train mode %.1f/%.1f%%  (%s)\n",
                  label, 100 * r.test_accuracy, 100 * r.test_ece, r.test_nll, val.c_str(), 100 * r.label_agreement,
                  r.label_entropy, 100 * r.eval_mode_accuracy, 100 * r.train_mode_accuracy, paths.dir.string().c_str());
      return r;
    };

    std::vector<GenerationResult> chain, controls;
    data::SoftLabels labels;                   // of the previous generation (or the teacher)
    std::unique_ptr<models::Model> previous;   // the previous generation (dynamic refinery)
    models::Model* labeler = nullptr;          // previous, or the teacher for R1
    if (ctx.teacher) {
      const GenerationPaths paths = generation_paths(dir, k, 0);
      if (fs::exists(paths.stats)) {
        out.teachers.push_back(read_stats(paths));
        labels = data::load_soft_labels(paths.labels, d.train);
      } else {
        out.teachers.push_back(teacher_generation(c, d, k, *ctx.teacher, paths, ctx.device, labels));
        const GenerationResult& t = out.teachers.back();
        std::printf("teacher %s (generation 0): test acc %.2f%%  ECE %.2f%%  NLL %.3f  label agreement %.2f%%\n",
                    t.model.c_str(), 100 * t.test_accuracy, 100 * t.test_ece, t.test_nll, 100 * t.label_agreement);
      }
      labeler = ctx.teacher;
    }
    for (int g = 1; g <= c.generations; ++g) {
      const bool learns = g >= c.first_refined();
      const bool keep_model = dynamic && g < c.generations;
      data::SoftLabels next_labels;
      std::unique_ptr<models::Model> next_model;
      chain.push_back(train_or_reuse(generation_paths(dir, k, g), g, false, learns && !dynamic ? &labels : nullptr,
                                     learns && dynamic ? labeler : nullptr, &next_labels,
                                     keep_model ? &next_model : nullptr));
      if (c.control && learns)
        controls.push_back(train_or_reuse(control_paths(dir, k, g), g, true, nullptr, nullptr, nullptr, nullptr));
      labels = std::move(next_labels);
      previous = std::move(next_model);
      labeler = previous.get();
      if (k == 0) out.figure_labels.push_back(first_rows(labels, out.figure_images.size()));
    }
    out.results.push_back(std::move(chain));
    if (c.control) out.controls.push_back(std::move(controls));
  }
  return out;
}

}  // namespace rf::app
