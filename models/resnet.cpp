#include "models/resnet.h"

#include <string>

#include "engine/check.h"
#include "engine/ops.h"

namespace rf::models {

namespace {

std::unique_ptr<Conv2d> conv(int in, int out, int kernel, int stride, const ResNetConfig& c,
                             Initializer& init) {
  return std::make_unique<Conv2d>(in, out, kernel, stride, kernel / 2, c.conv_bias, init);
}

std::unique_ptr<BatchNorm2d> bn(int channels, const ResNetConfig& c) {
  return std::make_unique<BatchNorm2d>(channels, c.bn_eps, c.bn_momentum);
}

}  // namespace

BasicBlock::BasicBlock(int in, int width, int stride, const ResNetConfig& c, Initializer& init) {
  conv1_ = add_child("conv1", conv(in, width, 3, stride, c, init));
  bn1_ = add_child("bn1", bn(width, c));
  conv2_ = add_child("conv2", conv(width, width, 3, 1, c, init));
  bn2_ = add_child("bn2", bn(width, c));
  if (stride != 1 || in != width) {
    shortcut_conv_ = add_child("shortcut.conv", conv(in, width, 1, stride, c, init));
    shortcut_bn_ = add_child("shortcut.bn", bn(width, c));
  }
}

Variable BasicBlock::forward(const Variable& x) {
  const Variable h = bn1_->forward_relu(conv1_->forward(x));
  const Variable s = shortcut_conv_ ? shortcut_bn_->forward(shortcut_conv_->forward(x)) : x;
  return bn2_->forward_relu(conv2_->forward(h), s);
}

Bottleneck::Bottleneck(int in, int width, int stride, const ResNetConfig& c, Initializer& init) {
  const int out = 4 * width;
  const int stride1 = c.stride_on_first_1x1 ? stride : 1;
  const int stride3 = c.stride_on_first_1x1 ? 1 : stride;
  conv1_ = add_child("conv1", conv(in, width, 1, stride1, c, init));
  bn1_ = add_child("bn1", bn(width, c));
  conv2_ = add_child("conv2", conv(width, width, 3, stride3, c, init));
  bn2_ = add_child("bn2", bn(width, c));
  conv3_ = add_child("conv3", conv(width, out, 1, 1, c, init));
  bn3_ = add_child("bn3", bn(out, c));
  if (stride != 1 || in != out) {
    shortcut_conv_ = add_child("shortcut.conv", conv(in, out, 1, stride, c, init));
    shortcut_bn_ = add_child("shortcut.bn", bn(out, c));
  }
}

Variable Bottleneck::forward(const Variable& x) {
  Variable h = bn1_->forward_relu(conv1_->forward(x));
  h = bn2_->forward_relu(conv2_->forward(h));
  const Variable s = shortcut_conv_ ? shortcut_bn_->forward(shortcut_conv_->forward(x)) : x;
  return bn3_->forward_relu(conv3_->forward(h), s);
}

ResNet::ResNet(const ResNetConfig& c, uint64_t seed) {
  RF_CHECK(!c.blocks.empty() && c.blocks.size() == c.widths.size(),
           "ResNet: " << c.blocks.size() << " stage depths for " << c.widths.size() << " widths");
  RF_CHECK(c.classes >= 2, "ResNet: " << c.classes << " classes (need at least 2)");
  RF_CHECK(c.in_channels >= 1, "ResNet: " << c.in_channels << " input channels");
  Initializer init(c.init, seed);

  const bool imagenet = c.stem == ResNetConfig::Stem::ImageNet;
  stem_pool_ = imagenet;
  stem_conv_ = add_child("stem.conv", std::make_unique<Conv2d>(c.in_channels, c.stem_width,
                                                               imagenet ? 7 : 3, imagenet ? 2 : 1,
                                                               imagenet ? 3 : 1, c.conv_bias, init));
  stem_bn_ = add_child("stem.bn", bn(c.stem_width, c));

  // The stages are children of the network itself so their names are "stageN...", not nested.
  stages_ = add_child("", std::make_unique<Sequential>());
  int in = c.stem_width;
  for (size_t s = 0; s < c.blocks.size(); ++s) {
    auto stage = std::make_unique<Sequential>();
    for (int b = 0; b < c.blocks[s]; ++b) {
      const int stride = (s > 0 && b == 0) ? 2 : 1;
      const std::string name = "block" + std::to_string(b);
      if (c.block == ResNetConfig::Block::Basic) {
        stage->add(name, std::make_unique<BasicBlock>(in, c.widths[s], stride, c, init));
        in = c.widths[s];
      } else {
        stage->add(name, std::make_unique<Bottleneck>(in, c.widths[s], stride, c, init));
        in = 4 * c.widths[s];
      }
    }
    stages_->add("stage" + std::to_string(s + 1), std::move(stage));
  }
  fc_ = add_child("fc", std::make_unique<Linear>(in, c.classes, init));
}

Variable ResNet::forward(const Variable& x) {
  RF_CHECK(x.shape().size() == 4, "ResNet: input " << shape_str(x.shape()) << " is not NHWC");
  Variable h = stem_bn_->forward_relu(stem_conv_->forward(x));
  // Keras pads with zeros before its max pool; after a ReLU that equals padding that never wins.
  if (stem_pool_) h = maxpool2d(h, 3, 2, 1);
  return fc_->forward(global_avgpool(stages_->forward(h)));
}

}  // namespace rf::models
