#include "models/pytorch_export.h"

namespace rf::models {

NamedTensors pytorch_state(const Model& model) {
  NamedTensors out;
  for (const auto& [name, t] : model.state()) {
    // Only convolution weights are 4-D.
    if (t.shape().size() != 4) {
      out.emplace_back(name, t.to(Device::CPU).clone());
      continue;
    }
    const int64_t k = t.shape()[0], r = t.shape()[1], s = t.shape()[2], c = t.shape()[3];
    const std::vector<float> krsc = t.to_host();
    std::vector<float> oihw(krsc.size());
    for (int64_t o = 0; o < k; ++o)
      for (int64_t y = 0; y < r; ++y)
        for (int64_t x = 0; x < s; ++x)
          for (int64_t i = 0; i < c; ++i)
            oihw[size_t(((o * c + i) * r + y) * s + x)] = krsc[size_t(((o * r + y) * s + x) * c + i)];
    out.emplace_back(name, Tensor::from_host(oihw, {k, c, r, s}));
  }
  return out;
}

}  // namespace rf::models
