#include "models/factory.h"

#include "engine/check.h"

namespace rf::models {

std::vector<std::string> model_names() {
  return {"resnet50", "resnet50-cifar", "resnet18", "resnet18-cifar", "resnet34",
          "resnet34-cifar", "resnet8", "resnet20", "resnet56"};
}

namespace {

std::string known_names() {
  std::string s;
  for (const std::string& n : model_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Keras applications.ResNet50: bias on every conv, BN epsilon 1.001e-5 and momentum 0.99,
// glorot_uniform kernels, stride on the first 1x1 of a stage.
ResNetConfig keras_resnet50() {
  ResNetConfig c;
  c.block = ResNetConfig::Block::Bottleneck;
  c.stem = ResNetConfig::Stem::ImageNet;
  c.stem_width = 64;
  c.blocks = {3, 4, 6, 3};
  c.widths = {64, 128, 256, 512};
  c.conv_bias = true;
  c.stride_on_first_1x1 = true;
  c.bn_eps = 1.001e-5f;
  c.bn_momentum = 0.01f;
  c.init = InitStyle::Keras;
  return c;
}

ResNetConfig torchvision_basic(std::vector<int> blocks) {
  ResNetConfig c;
  c.block = ResNetConfig::Block::Basic;
  c.stem = ResNetConfig::Stem::ImageNet;
  c.stem_width = 64;
  c.blocks = std::move(blocks);
  c.widths = {64, 128, 256, 512};
  return c;
}

ResNetConfig cifar_resnet(int n) {
  ResNetConfig c;
  c.block = ResNetConfig::Block::Basic;
  c.stem = ResNetConfig::Stem::Cifar;
  c.stem_width = 16;
  c.blocks = {n, n, n};
  c.widths = {16, 32, 64};
  return c;
}

}  // namespace

ResNetConfig resnet_config(const std::string& name, int classes, int in_channels) {
  const std::string suffix = "-cifar";
  const bool cifar_stem = name.size() > suffix.size() && name.ends_with(suffix);
  const std::string base = cifar_stem ? name.substr(0, name.size() - suffix.size()) : name;
  ResNetConfig c;
  if (base == "resnet50") c = keras_resnet50();
  else if (base == "resnet18") c = torchvision_basic({2, 2, 2, 2});
  else if (base == "resnet34") c = torchvision_basic({3, 4, 6, 3});
  else if (base == "resnet8" && !cifar_stem) c = cifar_resnet(1);
  else if (base == "resnet20" && !cifar_stem) c = cifar_resnet(3);
  else if (base == "resnet56" && !cifar_stem) c = cifar_resnet(9);
  else RF_CHECK(false, "unknown model '" << name << "' (known: " << known_names() << ")");
  if (cifar_stem) c.stem = ResNetConfig::Stem::Cifar;
  c.classes = classes;
  c.in_channels = in_channels;
  return c;
}

std::unique_ptr<Model> make_model(const std::string& name, const ModelOptions& o) {
  const ResNetConfig c = resnet_config(name, o.classes, o.in_channels);
  return std::make_unique<Model>(name, o.classes, o.in_channels,
                                 std::make_unique<ResNet>(c, o.seed), o.device);
}

}  // namespace rf::models
