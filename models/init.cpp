#include "models/init.h"

#include <cmath>
#include <numbers>
#include <vector>

namespace rf::models {

double Initializer::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

double Initializer::normal() {
  // Box-Muller makes two independent normals; the second is kept for the next call.
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * std::numbers::pi * u2);
}

Tensor Initializer::uniform_tensor(const Shape& shape, double limit) {
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = float((2.0 * uniform() - 1.0) * limit);
  return Tensor::from_host(v, shape);
}

Tensor Initializer::conv_weight(int out, int r, int s, int in) {
  const Shape shape{out, r, s, in};
  if (style_ == InitStyle::Keras) {
    const double fan_in = double(r) * s * in, fan_out = double(r) * s * out;
    return uniform_tensor(shape, std::sqrt(6.0 / (fan_in + fan_out)));
  }
  const double stddev = std::sqrt(2.0 / (double(r) * s * out));
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = float(normal() * stddev);
  return Tensor::from_host(v, shape);
}

Tensor Initializer::conv_bias(int out, int fan_in) {
  if (style_ == InitStyle::Keras) return Tensor::zeros({out});
  return uniform_tensor({out}, 1.0 / std::sqrt(double(fan_in)));
}

Tensor Initializer::linear_weight(int out, int in) {
  if (style_ == InitStyle::Keras) return uniform_tensor({out, in}, std::sqrt(6.0 / (double(in) + out)));
  return uniform_tensor({out, in}, 1.0 / std::sqrt(double(in)));
}

Tensor Initializer::linear_bias(int out, int in) {
  if (style_ == InitStyle::Keras) return Tensor::zeros({out});
  return uniform_tensor({out}, 1.0 / std::sqrt(double(in)));
}

}  // namespace rf::models
