#pragma once
// Weight initialization as the frameworks do it, seeded and reproducible everywhere: the random
// numbers come from std::mt19937_64 (whose output the standard fixes) turned into uniform and
// normal values by our own code, because std::*_distribution differs between standard libraries.
#include <cstdint>
#include <random>

#include "engine/tensor.h"

namespace rf::models {

enum class InitStyle {
  Keras,  // glorot_uniform kernels (conv and dense), zero biases
  Torch,  // torchvision ResNets: kaiming_normal(fan_out, relu) convs; nn.Linear's default
          // U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
};

class Initializer {
 public:
  Initializer(InitStyle style, uint64_t seed) : style_(style), rng_(seed) {}

  Tensor conv_weight(int out, int r, int s, int in);  // KRSC
  Tensor conv_bias(int out, int fan_in);
  Tensor linear_weight(int out, int in);
  Tensor linear_bias(int out, int in);

 private:
  double uniform();  // [0, 1) with 53 bits
  double normal();   // standard normal (Box-Muller)
  Tensor uniform_tensor(const Shape& shape, double limit);
  InitStyle style_;
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace rf::models
