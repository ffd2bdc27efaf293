// refine_app evaluate: a model file on a dataset's split.
#include <cstdio>

#include "apps/confusion_report.h"
#include "apps/model_commands.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/safetensors.h"
#include "models/model_file.h"
#include "train/evaluate.h"
#include "train/host_allocator.h"
#include "train/model_data.h"

namespace rf::app {

namespace {

// The logits with the labels and the pixels they came from, for a comparison with another
// framework (bench/compare_export.py) that applies the model file's normalization itself.
void write_logits(const std::string& file, models::Model& model, data::Loader& loader, const data::Dataset& d,
                  const ModelCommand& c, const train::RecordedStep::Recorder& recorder) {
  const data::SoftLabels logits = train::predict_logits(model, loader, d.size(), recorder);
  const std::vector<float> labels(d.labels.begin(), d.labels.end());
  const std::vector<float> pixels(d.images.begin(), d.images.end());
  const int64_t n = int64_t(d.size());
  write_safetensors(file,
                    {{"logits", Tensor::from_host(logits.values, {n, int64_t(logits.classes)})},
                     {"labels", Tensor::from_host(labels, {n})},
                     {"pixels", Tensor::from_host(pixels, {n, d.height, d.width, d.channels})}},
                    {{"format", "rf-logits"}, {"model", c.model}, {"dataset", c.data}, {"split", c.split}});
}

}  // namespace

int run_evaluate(const ModelCommand& c, Device device, const DataLocation& where, std::ostream& out) {
  const train::RecordedStep::Recorder recorder =
      cuda_graphs_for(c, device) ? train::backend_recorder(device) : train::RecordedStep::Recorder();
  auto model = models::load_described_model(c.model, device, "evaluate");
  const models::DataDescription& desc = *model->description();
  // Loaded as a training run loads it (sharing its decoded-image cache), then fitted to the model.
  ChainConfig cc;
  cc.dataset = c.data;
  cc.image_size = c.image_size;
  (c.split == "test" ? cc.test_limit : cc.train_limit) = c.limit;
  const data::TrainTest raw = load_experiment_data(cc, where);
  auto log = [&out](const std::string& msg) { out << "data: " << msg << '\n'; };
  const data::Dataset d = train::fit_to_model(c.split == "test" ? raw.test : raw.train, desc, c.model, log);

  data::LoaderOptions lo;
  lo.batch_size = size_t(c.batch_size);
  lo.shuffle = false;
  lo.normalization = train::normalization_of(desc);
  lo.allocator = train::host_allocator_for(device);
  data::Loader loader(d, lo);
  const train::Evaluation e = train::evaluate(*model, loader, recorder);
  const train::ConfusionMatrix& m = e.confusion;
  long long correct = 0;
  for (int k = 0; k < m.classes(); ++k) correct += m.at(k, k);
  char line[512];
  std::snprintf(line, sizeof line, "%s on %s (%s split, %zu images): accuracy %.2f%% (%lld correct), mean loss %.4f\n\n",
                c.model.c_str(), c.data.c_str(), c.split.c_str(), d.size(), 100 * m.accuracy(), correct, e.loss);
  out << line << per_class_table(m, desc.class_names) << "\nconfusion matrix (rows: true class, columns: predicted class)\n"
      << confusion_table(m, desc.class_names);
  if (!c.svg.empty()) {
    write_file_atomic(c.svg, confusion_svg(m, desc.class_names, c.model + " on " + c.data + " (" + c.split + ")"));
    out << "confusion matrix: " << c.svg << '\n';
  }
  if (!c.logits.empty()) {
    write_logits(c.logits, *model, loader, d, c, recorder);
    out << "logits: " << c.logits << '\n';
  }
  return 0;
}

}  // namespace rf::app
