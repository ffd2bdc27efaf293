// refine_app export: a model file in PyTorch's layouts and names (models/pytorch_export.h).
#include "apps/model_commands.h"
#include "engine/safetensors.h"
#include "models/data_description.h"
#include "models/model_file.h"
#include "models/pytorch_export.h"

namespace rf::app {

int run_export(const ModelCommand& c, std::ostream& out) {
  const auto model = models::load_described_model(c.model, Device::CPU, "export");
  TensorMetadata meta = models::description_metadata(*model->description());
  meta["format"] = "pytorch-state-dict";
  meta["arch"] = model->arch();
  meta["classes"] = std::to_string(model->classes());
  meta["module"] = "tools/refinery_resnet.py: refinery_resnet(arch, classes, in_channels)";
  meta["layout"] = "conv weights OIHW [out, in, kh, kw]; linear [out, in]";
  meta["input_layout"] = "NCHW float32, (px / 255 - normalization_mean[c]) / normalization_std[c]";
  meta["source"] = c.model;
  const models::NamedTensors state = models::pytorch_state(*model);
  write_safetensors(c.out, state, meta);
  out << "exported " << c.model << " (" << model->arch() << ", " << state.size() << " tensors) to " << c.out
      << " for PyTorch: tools/refinery_resnet.py loads it\n";
  return 0;
}

}  // namespace rf::app
