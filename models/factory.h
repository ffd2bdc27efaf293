#pragma once
// Models by name:
//   resnet50        the blog's Keras ResNet50 (ImageNet stem) + Dense(classes)
//   resnet50-cifar  the same with the CIFAR stem (3x3/1 conv, no max pool)
//   resnet18, resnet34 (and -cifar variants)  torchvision's basic-block ResNets
//   resnet8, resnet20, resnet56  CIFAR ResNets (3 stages of n basic blocks, widths 16/32/64,
//                                projection shortcuts, "option B")
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/resnet.h"

namespace rf::models {

struct ModelOptions {
  int classes = 10;
  int in_channels = 3;
  uint64_t seed = 0;  // initialization
  Device device = Device::CPU;
};

std::vector<std::string> model_names();
// The configuration behind a name (throws listing the known names for an unknown one).
ResNetConfig resnet_config(const std::string& name, int classes, int in_channels);
std::unique_ptr<Model> make_model(const std::string& name, const ModelOptions& options = {});

}  // namespace rf::models
