#pragma once
// Which optimizer a trainer builds, as plain settings that go into checkpoints. The learning
// rate itself comes from the schedule.
#include <memory>
#include <string>

#include "engine/json.h"
#include "engine/optimizer.h"

namespace rf::train {

struct OptimizerConfig {
  enum class Kind { Sgd, Adam, AdamW };
  Kind kind = Kind::Adam;
  double momentum = 0.9;  // SGD
  bool nesterov = false;  // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-7;  // Adam; Keras' epsilon
  double weight_decay = 0;  // SGD and Adam: added to the gradient; AdamW: decoupled

  Json to_json() const;
  static OptimizerConfig from_json(const Json& j);
};
const char* optimizer_kind_name(OptimizerConfig::Kind k);
OptimizerConfig::Kind parse_optimizer_kind(const std::string& s);  // sgd | adam | adamw

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c, ParameterSet& params, float lr);

}  // namespace rf::train
