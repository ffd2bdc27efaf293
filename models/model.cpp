#include "models/model.h"

#include <set>

#include "engine/check.h"

namespace rf::models {

Model::Model(std::string arch, int classes, int in_channels, std::unique_ptr<Module> net,
             Device device)
    : arch_(std::move(arch)), classes_(classes), in_channels_(in_channels), net_(std::move(net)),
      device_(device) {
  RF_CHECK(net_, "Model '" << arch_ << "' without a network");
  net_->visit_parameters([&](const std::string& name, Variable& p) { p = params_.add(name, p.value()); });
  std::set<std::string> names;
  for (const auto& [name, p] : params_.named()) names.insert(name);
  net_->visit_buffers([&](const std::string& name, Tensor& b) {
    RF_CHECK(names.insert(name).second, "Model '" << arch_ << "': duplicate name '" << name << "'");
    buffers_.emplace_back(name, &b);
  });
  to(device);
}

void Model::to(Device device) {
  params_.pack(device);
  for (auto& [name, b] : buffers_) *b = b->to(device);
  device_ = device;
}

NamedTensors Model::state() const {
  NamedTensors out;
  for (const auto& [name, p] : params_.named()) out.emplace_back(name, p.value());
  for (const auto& [name, b] : buffers_) out.emplace_back(name, *b);
  return out;
}

void Model::load_state(const NamedTensors& state) {
  const NamedTensors mine = this->state();
  RF_CHECK(state.size() == mine.size(), "Model '" << arch_ << "': state of " << state.size()
                                                  << " tensors, the model has " << mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    RF_CHECK(state[i].first == mine[i].first && state[i].second.shape() == mine[i].second.shape(),
             "Model '" << arch_ << "': state tensor " << i << " is '" << state[i].first << "' "
                       << shape_str(state[i].second.shape()) << ", expected '" << mine[i].first
                       << "' " << shape_str(mine[i].second.shape()));
    mine[i].second.copy_from(state[i].second);
  }
}

NamedTensors Model::snapshot() const {
  NamedTensors out;
  for (const auto& [name, t] : state()) out.emplace_back(name, t.clone());
  return out;
}

void Model::set_description(DataDescription d) {
  const std::string where = "model '" + arch_ + "'";
  d.validate(where);
  RF_CHECK(d.channels == in_channels_, where << ": data of " << d.channels << " channels for a model of "
                                             << in_channels_ << " input channels");
  RF_CHECK(int(d.class_names.size()) == classes_, where << ": " << d.class_names.size()
                                                        << " class names for a model of " << classes_ << " classes");
  description_ = std::move(d);
}

int64_t Model::num_buffer_values() const {
  int64_t n = 0;
  for (const auto& [name, b] : buffers_) n += b->numel();
  return n;
}

}  // namespace rf::models
