#pragma once
// The ResNet family: one configurable network covering the blog's Keras ResNet50, torchvision's
// ResNet-18/34 and the CIFAR ResNets of He et al. (2016, section 4.2).
//
// Names: stem.conv, stem.bn; stage1..stageN; blockK (0-based) with conv1/bn1, conv2/bn2
// (basic) or conv1..conv3/bn1..bn3 (bottleneck) and a projection shortcut.conv/shortcut.bn
// where the block changes shape; fc.
#include <vector>

#include "models/init.h"
#include "models/layers.h"

namespace rf::models {

struct ResNetConfig {
  enum class Block { Basic, Bottleneck };
  enum class Stem {
    ImageNet,  // 7x7/2 conv (pad 3), BN, ReLU, 3x3/2 max pool (pad 1)
    Cifar,     // 3x3/1 conv (pad 1), BN, ReLU
  };
  Block block = Block::Basic;
  Stem stem = Stem::Cifar;
  int stem_width = 16;
  std::vector<int> blocks;  // per stage
  std::vector<int> widths;  // per stage; a bottleneck block outputs 4x its width
  bool conv_bias = false;   // Keras gives every conv a bias; torchvision none
  // Bottleneck stride on the first 1x1 conv (Keras ResNet50, "v1") rather than on the 3x3
  // (torchvision, "v1.5").
  bool stride_on_first_1x1 = false;
  float bn_eps = 1e-5f;
  float bn_momentum = 0.1f;  // PyTorch convention
  InitStyle init = InitStyle::Torch;
  int classes = 10;
  int in_channels = 3;
};

// Basic block: 3x3 conv, BN, ReLU, 3x3 conv, BN, + shortcut, ReLU. The shortcut is the identity,
// or a 1x1 conv + BN projection where stride or width change ("option B" of He et al.).
class BasicBlock final : public Module {
 public:
  BasicBlock(int in, int width, int stride, const ResNetConfig& c, Initializer& init);
  Variable forward(const Variable& x) override;

 private:
  Conv2d *conv1_, *conv2_;
  BatchNorm2d *bn1_, *bn2_;
  Conv2d* shortcut_conv_ = nullptr;
  BatchNorm2d* shortcut_bn_ = nullptr;
};

// Bottleneck block: 1x1 conv, BN, ReLU, 3x3 conv, BN, ReLU, 1x1 conv to 4x width, BN,
// + shortcut (projection where shape changes), ReLU.
class Bottleneck final : public Module {
 public:
  Bottleneck(int in, int width, int stride, const ResNetConfig& c, Initializer& init);
  Variable forward(const Variable& x) override;

 private:
  Conv2d *conv1_, *conv2_, *conv3_;
  BatchNorm2d *bn1_, *bn2_, *bn3_;
  Conv2d* shortcut_conv_ = nullptr;
  BatchNorm2d* shortcut_bn_ = nullptr;
};

// stem -> stages -> global average pool -> fc (logits).
class ResNet final : public Module {
 public:
  ResNet(const ResNetConfig& c, uint64_t seed);
  Variable forward(const Variable& x) override;

 private:
  Conv2d* stem_conv_;
  BatchNorm2d* stem_bn_;
  bool stem_pool_;  // the ImageNet stem's 3x3/2 max pool
  Sequential* stages_;
  Linear* fc_;
};

}  // namespace rf::models
