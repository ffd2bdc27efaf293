#include "data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "data/bytes.h"

namespace rf::data {

namespace {

// The taps of one output pixel along one axis: inputs [first, first + weights.size()).
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

std::vector<Taps> axis_taps(int n_in, int n_out) {
  const double scale = double(n_in) / double(n_out);
  const double support = std::max(scale, 1.0);
  std::vector<Taps> out(static_cast<std::size_t>(n_out));
  for (int o = 0; o < n_out; ++o) {
    const double centre = (o + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(centre - support)));
    const int hi = std::min(n_in - 1, int(std::ceil(centre + support)));
    Taps& t = out[static_cast<std::size_t>(o)];
    t.first = lo;
    double sum = 0;
    std::vector<double> w;
    for (int i = lo; i <= hi; ++i) {
      w.push_back(std::max(0.0, 1.0 - std::abs(i + 0.5 - centre) / support));
      sum += w.back();
    }
    for (const double v : w) t.weights.push_back(float(v / sum));
  }
  return out;
}

}  // namespace

std::string size_text(ImageSize s) { return std::to_string(s.height) + "x" + std::to_string(s.width); }

std::vector<std::uint8_t> resize_image(const std::uint8_t* src, ImageSize from, int channels,
                                       ImageSize to) {
  if (from.height <= 0 || from.width <= 0 || to.height <= 0 || to.width <= 0 || channels <= 0)
    fail("resize_image", "cannot resize " + size_text(from) + " (HxW) to " + size_text(to));
  const auto c = static_cast<std::size_t>(channels);
  const auto in_w = static_cast<std::size_t>(from.width);
  const auto out_w = static_cast<std::size_t>(to.width);
  if (from == to) return {src, src + static_cast<std::size_t>(from.height) * in_w * c};
  // Along each row first: from.height x to.width, then along each column.
  const std::vector<Taps> across = axis_taps(from.width, to.width);
  std::vector<float> rows(static_cast<std::size_t>(from.height) * out_w * c, 0.f);
  for (std::size_t y = 0; y < std::size_t(from.height); ++y)
    for (std::size_t x = 0; x < out_w; ++x) {
      const Taps& t = across[x];
      float* dst = &rows[(y * out_w + x) * c];
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const std::uint8_t* p = src + (y * in_w + std::size_t(t.first) + k) * c;
        for (std::size_t ch = 0; ch < c; ++ch) dst[ch] += t.weights[k] * float(p[ch]);
      }
    }
  const std::vector<Taps> down = axis_taps(from.height, to.height);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(to.height) * out_w * c);
  std::vector<float> acc(c);
  for (std::size_t y = 0; y < std::size_t(to.height); ++y) {
    const Taps& t = down[y];
    for (std::size_t x = 0; x < out_w; ++x) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const float* p = &rows[((std::size_t(t.first) + k) * out_w + x) * c];
        for (std::size_t ch = 0; ch < c; ++ch) acc[ch] += t.weights[k] * p[ch];
      }
      for (std::size_t ch = 0; ch < c; ++ch)
        out[(y * out_w + x) * c + ch] = static_cast<std::uint8_t>(std::clamp(std::lround(acc[ch]), 0L, 255L));
    }
  }
  return out;
}

}  // namespace rf::data
