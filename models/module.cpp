#include "models/module.h"

#include "engine/check.h"

namespace rf::models {

namespace {
// An empty name groups children without adding a level to their names.
std::string join(const std::string& prefix, const std::string& name) {
  if (name.empty()) return prefix;
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

void Module::set_training(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->set_training(training);
}

void Module::visit_parameters(const ParameterVisitor& fn, const std::string& prefix) {
  for (auto& [name, p] : parameters_) fn(join(prefix, name), *p);
  for (auto& [name, child] : children_) child->visit_parameters(fn, join(prefix, name));
}

void Module::visit_buffers(const BufferVisitor& fn, const std::string& prefix) {
  for (auto& [name, b] : buffers_) fn(join(prefix, name), *b);
  for (auto& [name, child] : children_) child->visit_buffers(fn, join(prefix, name));
}

void Module::visit_modules(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [name, child] : children_) child->visit_modules(fn);
}

void Module::register_parameter(std::string name, Variable* parameter) {
  RF_CHECK(parameter && parameter->defined(), "parameter '" << name << "' registered undefined");
  parameters_.emplace_back(std::move(name), parameter);
}

void Module::register_buffer(std::string name, Tensor* buffer) {
  RF_CHECK(buffer && buffer->defined(), "buffer '" << name << "' registered undefined");
  buffers_.emplace_back(std::move(name), buffer);
}

}  // namespace rf::models
