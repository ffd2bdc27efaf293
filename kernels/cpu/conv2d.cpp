#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/parallel.h"

#include "kernels/cpu/reduce.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace rf::cpu {
namespace {

// About 16 MB of im2col rows per chunk: large enough for sgemm to run at full speed, small enough
// to stay out of the way of the activations at batch 256.
constexpr int64_t kChunkFloats = int64_t(4) << 20;

bool is_pointwise(const ConvGeom& g) {
  return g.r == 1 && g.s == 1 && g.stride == 1 && g.pad == 0;
}

int64_t patch_size(const ConvGeom& g) { return int64_t(g.r) * g.s * g.c; }
int64_t out_rows(const ConvGeom& g) { return int64_t(g.n) * g.p() * g.q(); }

int64_t chunk_rows(const ConvGeom& g) {
  return std::max<int64_t>(1, std::min(out_rows(g), kChunkFloats / patch_size(g)));
}

// Rows [r0, r1) of the patch matrix: row (n, p, q) holds the r x s x c window under output pixel
// (p, q) of image n, zeros where the window hangs over the padding.
void im2col(const ConvGeom& g, const float* x, int64_t r0, int64_t r1, float* col) {
  const int P = g.p(), Q = g.q();
  const int64_t K = patch_size(g);
#pragma omp parallel for schedule(static) if ((r1 - r0) * K > kParallelMin)
  for (int64_t m = r0; m < r1; ++m) {
    const int64_t n = m / (int64_t(P) * Q);
    const int pq = int(m % (int64_t(P) * Q)), p = pq / Q, q = pq % Q;
    float* dst = col + (m - r0) * K;
    for (int r = 0; r < g.r; ++r) {
      const int ih = p * g.stride - g.pad + r;
      for (int s = 0; s < g.s; ++s, dst += g.c) {
        const int iw = q * g.stride - g.pad + s;
        if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
          std::memset(dst, 0, sizeof(float) * g.c);
        } else {
          std::memcpy(dst, x + ((n * g.h + ih) * g.w + iw) * g.c, sizeof(float) * g.c);
        }
      }
    }
  }
}

// Adds rows [r0, r1) of a patch-matrix gradient back into dx. Threads own whole images, so no two
// threads ever add into the same pixel.
void col2im_add(const ConvGeom& g, const float* col, int64_t r0, int64_t r1, float* dx) {
  const int64_t PQ = int64_t(g.p()) * g.q();
  const int Q = g.q();
  const int64_t K = patch_size(g);
  const int64_t n0 = r0 / PQ, n1 = (r1 - 1) / PQ + 1;
#pragma omp parallel for schedule(static) if ((r1 - r0) * K > kParallelMin)
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t lo = std::max(r0, n * PQ), hi = std::min(r1, (n + 1) * PQ);
    for (int64_t m = lo; m < hi; ++m) {
      const int pq = int(m - n * PQ), p = pq / Q, q = pq % Q;
      const float* src = col + (m - r0) * K;
      for (int r = 0; r < g.r; ++r) {
        const int ih = p * g.stride - g.pad + r;
        for (int s = 0; s < g.s; ++s, src += g.c) {
          const int iw = q * g.stride - g.pad + s;
          if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
          float* dst = dx + ((n * g.h + ih) * g.w + iw) * g.c;
          for (int c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
  }
}

// Rows [r0, r1) of the patch matrix: the input itself for a pointwise convolution, else built
// into work.
const float* patch_rows(const ConvGeom& g, const float* x, int64_t r0, int64_t r1, float* work) {
  if (is_pointwise(g)) return x + r0 * patch_size(g);
  im2col(g, x, r0, r1, work);
  return work;
}

}  // namespace

size_t conv2d_workspace_floats(const ConvGeom& g) {
  return is_pointwise(g) ? 0 : size_t(chunk_rows(g) * patch_size(g));
}

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    float* work) {
  const int64_t M = out_rows(g), K = patch_size(g), step = chunk_rows(g);
  for (int64_t r0 = 0; r0 < M; r0 += step) {
    const int64_t r1 = std::min(M, r0 + step);
    const float* col = patch_rows(g, x, r0, r1, work);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(r1 - r0), g.k, int(K), 1.f, col,
                int(K), w, int(K), 0.f, y + r0 * g.k, g.k);
  }
  if (bias) {
#pragma omp parallel for schedule(static) if (M * g.k > kParallelMin)
    for (int64_t m = 0; m < M; ++m)
      for (int k = 0; k < g.k; ++k) y[m * g.k + k] += bias[k];
  }
}

void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx,
                          float* work) {
  const int64_t M = out_rows(g), K = patch_size(g), step = chunk_rows(g);
  if (is_pointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(K), g.k, 1.f, dy, g.k, w,
                int(K), 0.f, dx, int(K));
    return;
  }
  std::memset(dx, 0, sizeof(float) * g.x_size());
  for (int64_t r0 = 0; r0 < M; r0 += step) {
    const int64_t r1 = std::min(M, r0 + step);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(r1 - r0), int(K), g.k, 1.f,
                dy + r0 * g.k, g.k, w, int(K), 0.f, work, int(K));
    col2im_add(g, work, r0, r1, dx);
  }
}

void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                            float* dbias, float* work) {
  const int64_t M = out_rows(g), K = patch_size(g), step = chunk_rows(g);
  for (int64_t r0 = 0; r0 < M; r0 += step) {
    const int64_t r1 = std::min(M, r0 + step);
    const float* col = patch_rows(g, x, r0, r1, work);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.k, int(K), int(r1 - r0), 1.f,
                dy + r0 * g.k, g.k, col, int(K), r0 == 0 ? 0.f : 1.f, dw, int(K));
  }
  if (dbias) {
    std::vector<double> sums(g.k);
    column_sums(M, g.k, dy, sums.data());
    for (int k = 0; k < g.k; ++k) dbias[k] = float(sums[k]);
  }
}

}  // namespace rf::cpu
