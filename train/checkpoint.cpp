// Trainer checkpoints: a safetensors file with the model's tensors (loadable alone by
// models::load_model), the optimizer state and best weights under "train.", and the epoch,
// history, schedule and early-stopping state in the metadata.
#include "engine/check.h"
#include "engine/safetensors.h"
#include "models/model_file.h"
#include "train/trainer.h"

namespace rf::train {

namespace {

constexpr const char* kFormat = models::kCheckpointFileFormat;

std::string optimizer_tensor_name(size_t i) { return "train.optimizer." + std::to_string(i); }
std::string best_tensor_name(const std::string& name) { return "train.best." + name; }

}  // namespace

SafetensorsContents Trainer::checkpoint_contents(const std::filesystem::path& file) const {
  models::NamedTensors extra;
  const std::vector<Tensor> opt = optimizer_->state();
  for (size_t i = 0; i < opt.size(); ++i) extra.emplace_back(optimizer_tensor_name(i), opt[i]);
  for (const auto& [name, t] : best_) extra.emplace_back(best_tensor_name(name), t);
  Json history = Json::array();
  for (const EpochStats& s : history_) history.push_back(s.to_json());
  const auto* adam = dynamic_cast<const Adam*>(optimizer_.get());
  const TensorMetadata meta{
      {"format", kFormat},
      {"trainer_config", config_json().dump()},
      {"epochs_done", std::to_string(history_.size())},
      {"optimizer_steps", std::to_string(adam ? adam->steps_taken() : 0)},
      {"schedule_state", schedule_->state().dump()},
      {"early_stopping_state", early_stopping_ ? early_stopping_->state().dump() : "null"},
      {"stopped_early", stopped_early_ ? "true" : "false"},
      {"history", history.dump()}};
  return models::model_file_contents(model_, file, meta, extra);
}

void Trainer::resume(const std::filesystem::path& file) {
  const SafetensorsFile f = SafetensorsFile::read(file);
  const std::string where = file.string();
  // A key missing from, or of the wrong type in, the JSON metadata: an error naming the file.
  read_json(where, [&] {
  RF_CHECK(f.metadata().count("format") && f.meta("format") == kFormat,
           where << ": not a training checkpoint (format '"
                 << (f.metadata().count("format") ? f.meta("format") : "") << "')");
  auto parse = [&](const std::string& key) { return parse_json(f.meta(key), where + ": metadata '" + key + "'"); };
  // Compared as values: the same numbers match whatever digits wrote them.
  const Json saved_config = parse("trainer_config");
  RF_CHECK(saved_config == config_json(),
           where << ": written by a different training configuration; resume needs the same one.\n  checkpoint: "
                 << saved_config.dump() << "\n  now:        " << config_json().dump());

  // Everything is parsed and checked before anything is written, so a bad file changes nothing.
  std::vector<EpochStats> history;
  const Json saved_history = parse("history");
  for (const Json& j : saved_history) history.push_back(EpochStats::from_json(j));
  RF_CHECK(std::to_string(history.size()) == f.meta("epochs_done"),
           where << ": history of " << history.size() << " epochs, metadata says " << f.meta("epochs_done"));
  const Json schedule_state = parse("schedule_state");
  const Json stopping_state = parse("early_stopping_state");
  RF_CHECK(stopping_state.is_null() != bool(early_stopping_), where << ": early-stopping state does not fit the configuration");
  const int64_t optimizer_steps = json_integer(parse_json(f.meta("optimizer_steps"), where));
  const std::vector<Tensor> opt = optimizer_->state();
  for (size_t i = 0; i < opt.size(); ++i) {
    const std::string name = optimizer_tensor_name(i);
    RF_CHECK(f.has(name) && f.shape(name) == opt[i].shape(),
             where << ": optimizer state '" << name << "' missing or of the wrong shape");
  }
  const bool has_best = f.has(best_tensor_name(model_.state().front().first));

  models::load_model_state(model_, f);
  for (size_t i = 0; i < opt.size(); ++i) f.copy_into(optimizer_tensor_name(i), opt[i]);
  if (auto* adam = dynamic_cast<Adam*>(optimizer_.get())) adam->set_steps_taken(int(optimizer_steps));
  schedule_->load_state(schedule_state);
  if (early_stopping_) early_stopping_->load_state(stopping_state);
  best_.clear();
  if (has_best)
    for (const auto& [name, t] : model_.state()) {
      Tensor copy = Tensor::empty(t.shape(), t.device());
      f.copy_into(best_tensor_name(name), copy);
      best_.emplace_back(name, copy);
    }
  history_ = std::move(history);
  stopped_early_ = parse("stopped_early").get<bool>();
  });
}

}  // namespace rf::train
