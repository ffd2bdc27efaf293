#include "kernels/cpu/pooling.h"
#include "kernels/cpu/parallel.h"

#include <cstring>
#include <limits>

namespace rf::cpu {
namespace {

// Offset (in x) of the first maximum of channel ch in the window of output pixel (p, q), or -1
// when the window lies entirely in the padding (impossible for pad < window, kept for safety).
int64_t window_argmax(const PoolGeom& g, const float* img, int p, int q, int ch) {
  float best = -std::numeric_limits<float>::infinity();
  int64_t arg = -1;
  for (int r = 0; r < g.window; ++r) {
    const int ih = p * g.stride - g.pad + r;
    if (ih < 0 || ih >= g.h) continue;
    for (int s = 0; s < g.window; ++s) {
      const int iw = q * g.stride - g.pad + s;
      if (iw < 0 || iw >= g.w) continue;
      const int64_t off = (int64_t(ih) * g.w + iw) * g.c + ch;
      if (arg < 0 || img[off] > best) {
        best = img[off];
        arg = off;
      }
    }
  }
  return arg;
}

}  // namespace

void maxpool_forward(const PoolGeom& g, const float* x, float* y) {
  const int P = g.p(), Q = g.q();
#pragma omp parallel for collapse(2) schedule(static) if (g.y_size() * g.window * g.window > kParallelMin)
  for (int n = 0; n < g.n; ++n)
    for (int p = 0; p < P; ++p) {
      const float* img = x + int64_t(n) * g.h * g.w * g.c;
      for (int q = 0; q < Q; ++q)
        for (int ch = 0; ch < g.c; ++ch) {
          const int64_t a = window_argmax(g, img, p, q, ch);
          y[((int64_t(n) * P + p) * Q + q) * g.c + ch] = img[a];
        }
    }
}

void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  const int P = g.p(), Q = g.q();
  std::memset(dx, 0, sizeof(float) * g.x_size());
  // Overlapping windows add into the same input pixel, so threads own whole images.
#pragma omp parallel for schedule(static) if (g.y_size() * g.window * g.window > kParallelMin)
  for (int n = 0; n < g.n; ++n) {
    const int64_t img_off = int64_t(n) * g.h * g.w * g.c;
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int ch = 0; ch < g.c; ++ch) {
          const int64_t a = window_argmax(g, x + img_off, p, q, ch);
          dx[img_off + a] += dy[((int64_t(n) * P + p) * Q + q) * g.c + ch];
        }
  }
}

void global_avgpool_forward(int n, int hw, int c, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (int64_t(n) * hw * c > kParallelMin)
  for (int i = 0; i < n; ++i) {
    float* out = y + int64_t(i) * c;
    for (int ch = 0; ch < c; ++ch) out[ch] = 0.f;
    const float* img = x + int64_t(i) * hw * c;
    for (int k = 0; k < hw; ++k)
      for (int ch = 0; ch < c; ++ch) out[ch] += img[int64_t(k) * c + ch];
    for (int ch = 0; ch < c; ++ch) out[ch] /= float(hw);
  }
}

void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx) {
  const float inv = 1.f / float(hw);
#pragma omp parallel for schedule(static) if (int64_t(n) * hw * c > kParallelMin)
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < hw; ++k)
      for (int ch = 0; ch < c; ++ch)
        dx[(int64_t(i) * hw + k) * c + ch] = dy[int64_t(i) * c + ch] * inv;
}

}  // namespace rf::cpu
