#include "train/optimizer_config.h"

#include "engine/check.h"

namespace rf::train {

const char* optimizer_kind_name(OptimizerConfig::Kind k) {
  switch (k) {
    case OptimizerConfig::Kind::Sgd: return "sgd";
    case OptimizerConfig::Kind::Adam: return "adam";
    case OptimizerConfig::Kind::AdamW: return "adamw";
  }
  return "?";
}

OptimizerConfig::Kind parse_optimizer_kind(const std::string& s) {
  for (auto k : {OptimizerConfig::Kind::Sgd, OptimizerConfig::Kind::Adam, OptimizerConfig::Kind::AdamW})
    if (s == optimizer_kind_name(k)) return k;
  RF_CHECK(false, "unknown optimizer '" << s << "' (expected sgd, adam or adamw)");
  return OptimizerConfig::Kind::Adam;
}

Json OptimizerConfig::to_json() const {
  return Json::object({{"kind", optimizer_kind_name(kind)},
                       {"momentum", momentum},
                       {"nesterov", nesterov},
                       {"beta1", beta1},
                       {"beta2", beta2},
                       {"eps", eps},
                       {"weight_decay", weight_decay}});
}

OptimizerConfig OptimizerConfig::from_json(const Json& j) {
  OptimizerConfig c;
  c.kind = parse_optimizer_kind(j.at("kind").get<std::string>());
  c.momentum = j.at("momentum").get<double>();
  c.nesterov = j.at("nesterov").get<bool>();
  c.beta1 = j.at("beta1").get<double>();
  c.beta2 = j.at("beta2").get<double>();
  c.eps = j.at("eps").get<double>();
  c.weight_decay = j.at("weight_decay").get<double>();
  return c;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c, ParameterSet& params, float lr) {
  RF_CHECK(c.weight_decay >= 0, "weight decay " << c.weight_decay << " is negative");
  if (c.kind == OptimizerConfig::Kind::Sgd) {
    RF_CHECK(c.momentum >= 0 && c.momentum < 1, "SGD momentum " << c.momentum << " not in [0, 1)");
    RF_CHECK(!c.nesterov || c.momentum > 0, "Nesterov SGD needs a momentum");
    return std::make_unique<Sgd>(params, SgdParams{lr, float(c.momentum), float(c.weight_decay), c.nesterov});
  }
  RF_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1 && c.eps > 0,
           "Adam beta1 " << c.beta1 << ", beta2 " << c.beta2 << ", eps " << c.eps);
  AdamParams p;
  p.lr = lr;
  p.beta1 = float(c.beta1);
  p.beta2 = float(c.beta2);
  p.eps = float(c.eps);
  p.weight_decay = float(c.weight_decay);
  p.decoupled = c.kind == OptimizerConfig::Kind::AdamW;
  return std::make_unique<Adam>(params, p);
}

}  // namespace rf::train
