#pragma once
// The convolution layers of the blog's ResNet50 (Keras v1: ImageNet stem, stride on the first 1x1
// of a stage) at 32x32 input: each distinct shape once, with how many layers share it.
#include <vector>

#include "kernels/shapes.h"

namespace rf::bench {

struct ConvLayer {
  const char* name;
  ConvGeom geom;
  int count;
};

inline std::vector<ConvLayer> resnet50_conv_layers(int n) {
  auto g = [n](int hw, int c, int k, int r, int stride, int pad) {
    return ConvGeom{n, hw, hw, c, k, r, r, stride, pad};
  };
  return {
      {"stem 7x7/2 3->64", g(32, 3, 64, 7, 2, 3), 1},
      {"s2 1x1 64->64", g(8, 64, 64, 1, 1, 0), 1},
      {"s2 3x3 64->64", g(8, 64, 64, 3, 1, 1), 3},
      {"s2 1x1 64->256", g(8, 64, 256, 1, 1, 0), 4},  // 3 expansions + the shortcut
      {"s2 1x1 256->64", g(8, 256, 64, 1, 1, 0), 2},
      {"s3 1x1/2 256->128", g(8, 256, 128, 1, 2, 0), 1},
      {"s3 1x1/2 256->512 (shortcut)", g(8, 256, 512, 1, 2, 0), 1},
      {"s3 3x3 128->128", g(4, 128, 128, 3, 1, 1), 4},
      {"s3 1x1 128->512", g(4, 128, 512, 1, 1, 0), 4},
      {"s3 1x1 512->128", g(4, 512, 128, 1, 1, 0), 3},
      {"s4 1x1/2 512->256", g(4, 512, 256, 1, 2, 0), 1},
      {"s4 1x1/2 512->1024 (shortcut)", g(4, 512, 1024, 1, 2, 0), 1},
      {"s4 3x3 256->256", g(2, 256, 256, 3, 1, 1), 6},
      {"s4 1x1 256->1024", g(2, 256, 1024, 1, 1, 0), 6},
      {"s4 1x1 1024->256", g(2, 1024, 256, 1, 1, 0), 5},
      {"s5 1x1/2 1024->512", g(2, 1024, 512, 1, 2, 0), 1},
      {"s5 1x1/2 1024->2048 (shortcut)", g(2, 1024, 2048, 1, 2, 0), 1},
      {"s5 3x3 512->512", g(1, 512, 512, 3, 1, 1), 3},
      {"s5 1x1 512->2048", g(1, 512, 2048, 1, 1, 0), 3},
      {"s5 1x1 2048->512", g(1, 2048, 512, 1, 1, 0), 2},
  };
}

}  // namespace rf::bench
