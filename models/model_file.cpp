#include "models/model_file.h"

#include <set>

#include "engine/check.h"
#include "models/factory.h"

namespace rf::models {

TensorMetadata model_metadata(const Model& model) {
  return {{"format", "rf-model"},
          {"arch", model.arch()},
          {"classes", std::to_string(model.classes())},
          {"in_channels", std::to_string(model.in_channels())},
          {"layout", "conv weights KRSC [out, kh, kw, in]; linear [out, in]; activations NHWC"}};
}

void save_model(const Model& model, const std::filesystem::path& file,
                const TensorMetadata& extra_metadata, const NamedTensors& extra_tensors) {
  TensorMetadata meta = model_metadata(model);
  for (const auto& [k, v] : extra_metadata) meta[k] = v;
  NamedTensors tensors = model.state();
  tensors.insert(tensors.end(), extra_tensors.begin(), extra_tensors.end());
  write_safetensors(file, tensors, meta);
}

void load_model_state(Model& model, const SafetensorsFile& f) {
  const std::string where = f.path().string();
  RF_CHECK(f.meta("arch") == model.arch(), where << ": a '" << f.meta("arch")
                                                 << "' checkpoint cannot be loaded into a '"
                                                 << model.arch() << "' model");
  RF_CHECK(f.meta("classes") == std::to_string(model.classes()),
           where << ": checkpoint for " << f.meta("classes") << " classes, the model has "
                 << model.classes());
  RF_CHECK(f.meta("in_channels") == std::to_string(model.in_channels()),
           where << ": checkpoint for " << f.meta("in_channels")
                 << " input channels, the model has " << model.in_channels());
  const NamedTensors state = model.state();
  std::set<std::string> expected;
  for (const auto& [name, t] : state) {
    RF_CHECK(f.has(name), where << ": tensor '" << name << "' of the model is missing");
    RF_CHECK(f.shape(name) == t.shape(), where << ": tensor '" << name << "' has shape "
                                               << shape_str(f.shape(name)) << ", the model expects "
                                               << shape_str(t.shape()));
    expected.insert(name);
  }
  for (const std::string& name : f.names())
    RF_CHECK(expected.count(name) || name.starts_with("train."),
             where << ": unexpected tensor '" << name << "' (not part of a " << model.arch() << ")");
  for (const auto& [name, t] : state) f.copy_into(name, t);
}

std::unique_ptr<Model> load_model(const std::filesystem::path& file, Device device) {
  const SafetensorsFile f = SafetensorsFile::read(file);
  int classes = 0, in_channels = 0;
  try {
    classes = std::stoi(f.meta("classes"));
    in_channels = std::stoi(f.meta("in_channels"));
  } catch (const std::logic_error&) {
    RF_CHECK(false, file.string() << ": metadata 'classes' = '" << f.meta("classes")
                                  << "', 'in_channels' = '" << f.meta("in_channels")
                                  << "' are not integers");
  }
  ModelOptions o;
  o.classes = classes;
  o.in_channels = in_channels;
  o.device = device;
  auto model = make_model(f.meta("arch"), o);
  load_model_state(*model, f);
  return model;
}

}  // namespace rf::models
