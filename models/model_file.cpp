#include "models/model_file.h"

#include <set>

#include "engine/check.h"
#include "models/factory.h"

namespace rf::models {

TensorMetadata model_metadata(const Model& model) {
  TensorMetadata meta{{"format", kModelFileFormat},
                      {"arch", model.arch()},
                      {"classes", std::to_string(model.classes())},
                      {"in_channels", std::to_string(model.in_channels())},
                      {"layout", "conv weights KRSC [out, kh, kw, in]; linear [out, in]; activations NHWC"}};
  if (model.description()) meta.merge(description_metadata(*model.description()));
  return meta;
}

SafetensorsContents model_file_contents(const Model& model, const std::filesystem::path& file,
                                        const TensorMetadata& extra_metadata,
                                        const NamedTensors& extra_tensors) {
  TensorMetadata meta = model_metadata(model);
  for (const auto& [k, v] : extra_metadata) meta[k] = v;
  NamedTensors tensors = model.state();
  tensors.insert(tensors.end(), extra_tensors.begin(), extra_tensors.end());
  return safetensors_contents(file, tensors, meta);
}

void save_model(const Model& model, const std::filesystem::path& file,
                const TensorMetadata& extra_metadata, const NamedTensors& extra_tensors) {
  write_safetensors(file, model_file_contents(model, file, extra_metadata, extra_tensors));
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
  return load_model(SafetensorsFile::read(file), device);
}

std::unique_ptr<Model> load_model(const SafetensorsFile& f, Device device) {
  const std::string where = f.path().string();
  const std::string format = f.metadata().count("format") ? f.meta("format") : "";
  RF_CHECK(format == kModelFileFormat || format == kCheckpointFileFormat,
           where << ": not a refinery model file (metadata 'format' is '" << format << "', expected '"
                 << kModelFileFormat << "' or '" << kCheckpointFileFormat << "')");
  int classes = 0, in_channels = 0;
  try {
    classes = std::stoi(f.meta("classes"));
    in_channels = std::stoi(f.meta("in_channels"));
  } catch (const std::logic_error&) {
    RF_CHECK(false, where << ": metadata 'classes' = '" << f.meta("classes")
                          << "', 'in_channels' = '" << f.meta("in_channels")
                          << "' are not integers");
  }
  ModelOptions o;
  o.classes = classes;
  o.in_channels = in_channels;
  o.device = device;
  auto model = make_model(f.meta("arch"), o);
  load_model_state(*model, f);
  if (missing_description_keys(f.metadata()).empty())
    model->set_description(parse_description(f.metadata(), where));
  return model;
}

std::unique_ptr<Model> load_described_model(const std::filesystem::path& file, Device device,
                                            const std::string& purpose) {
  const SafetensorsFile f = SafetensorsFile::read(file);
  const std::vector<std::string> missing = missing_description_keys(f.metadata());
  std::string keys;
  for (const std::string& k : missing) keys += (keys.empty() ? "" : ", ") + k;
  RF_CHECK(missing.empty(), file.string() << ": " << purpose << " needs the model's input size, normalization and class names, "
                                          << "but the file lacks the metadata " << keys
                                          << " (written before model files described their data; "
                                             "retrain, or train a new run, to get a self-describing file)");
  return load_model(f, device);
}

}  // namespace rf::models
