// The ResNet family: the blog's ResNet50 has exactly Keras' parameter count, every model maps a
// tiny batch to [n, classes] logits in both modes, and initialization is seeded.
#include <doctest/doctest.h>

#include "engine/ops.h"
#include "models/factory.h"

using namespace rf;
using namespace rf::models;

namespace {

Variable images(int n, int h, int w, int c) {
  std::vector<float> v(size_t(n) * h * w * c);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 7919) % 255) / 255.f - 0.5f;
  return Variable(Tensor::from_host(v, {n, h, w, c}));
}

}  // namespace

TEST_CASE("resnet50 has Keras' 23,555,082 trainable values and 53,120 BN statistics (10 classes)") {
  auto m = make_model("resnet50");
  CHECK(m->num_parameters() == 23'555'082);
  CHECK(m->num_buffer_values() == 53'120);
  CHECK(m->num_parameters() + m->num_buffer_values() == 23'608'202);
}

TEST_CASE("parameter names are dotted paths through the network") {
  auto m = make_model("resnet50");
  std::vector<std::string> names;
  for (const auto& [name, t] : m->state()) names.push_back(name);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  CHECK(has("stem.conv.weight"));
  CHECK(has("stem.conv.bias"));
  CHECK(has("stem.bn.running_mean"));
  CHECK(has("stage2.block0.conv1.weight"));
  CHECK(has("stage2.block0.shortcut.conv.weight"));
  CHECK(has("stage4.block2.bn3.running_var"));
  CHECK(has("fc.weight"));
  CHECK(m->state().front().first == "stem.conv.weight");
  // Keras v1: the stage's stride sits on the first 1x1 conv, which is therefore [128, 1, 1, 256].
  for (const auto& [name, t] : m->state())
    if (name == "stage2.block0.conv1.weight") CHECK(t.shape() == Shape{128, 1, 1, 256});
}

TEST_CASE("known CIFAR ResNet sizes (projection shortcuts)") {
  // ResNet-20 with option-A shortcuts has 0.27M parameters; option B adds the 1x1 projections
  // (16*32 + 32*64 weights) and their BN (2*(32 + 64)).
  const int64_t option_a = 269'722;  // conv, BN and fc weights of He et al.'s ResNet-20
  CHECK(make_model("resnet20")->num_parameters() == option_a + 16 * 32 + 32 * 64 + 2 * (32 + 64));
  CHECK(make_model("resnet18")->num_parameters() == 11'181'642);  // torchvision, 10 classes
}

TEST_CASE("every model maps a tiny batch to [n, classes] logits in train and eval mode") {
  for (const std::string& name : model_names()) {
    CAPTURE(name);
    // 8x8 inputs keep this fast (the CIFAR-stem ResNet50 at 32x32 is 1.3 GMAC per image) and
    // still reach every stage: the ImageNet stem takes 8x8 to 2x2, the strides then to 1x1.
    const int n = 2, hw = 8;
    auto m = make_model(name, {.classes = 7, .in_channels = 1, .seed = 3});
    Variable y = m->forward(images(n, hw, hw, 1));
    CHECK(y.shape() == Shape{n, 7});
    m->set_training(false);
    NoGrad no_grad;
    CHECK(m->forward(images(n, hw, hw, 1)).shape() == Shape{n, 7});
  }
}

TEST_CASE("initialization is a function of the seed alone") {
  auto a = make_model("resnet8", {.seed = 11});
  auto b = make_model("resnet8", {.seed = 11});
  auto c = make_model("resnet8", {.seed = 12});
  CHECK(a->parameters().values().to_host() == b->parameters().values().to_host());
  CHECK(a->parameters().values().to_host() != c->parameters().values().to_host());
}

TEST_CASE("Keras init: glorot-uniform kernels within their limit, zero biases, BN gamma 1") {
  auto m = make_model("resnet50-cifar");
  for (const auto& [name, t] : m->state()) {
    const std::vector<float> v = t.to_host();
    if (name == "stage1.block0.conv2.weight") {
      const double limit = std::sqrt(6.0 / (9 * 64 + 9 * 64));
      float lo = 0, hi = 0;
      for (float x : v) lo = std::min(lo, x), hi = std::max(hi, x);
      CHECK(lo >= -limit);
      CHECK(hi <= limit);
      CHECK(hi > 0.9 * limit);  // spread over the whole range
    }
    if (name == "stage1.block0.conv2.bias") CHECK(v == std::vector<float>(64, 0.f));
    if (name == "stage1.block0.bn2.weight") CHECK(v == std::vector<float>(64, 1.f));
  }
}
