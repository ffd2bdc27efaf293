#pragma once
// Geometry of the ops whose kernels need more than an element count. Plain sizes only, so that
// CPU and CUDA kernels, the engine and the tests all describe a layer the same way.
//
// Layout everywhere: activations NHWC, convolution filters KRSC (out-channels, kernel rows,
// kernel cols, in-channels). NHWC makes a 1x1 convolution a plain GEMM on the activation matrix,
// makes im2col rows contiguous on the CPU, and is the layout cuDNN's tensor-core paths prefer.
#include <cstdint>

namespace rf {

struct ConvGeom {
  int n = 0, h = 0, w = 0, c = 0;  // input NHWC
  int k = 0;                       // output channels
  int r = 1, s = 1;                // kernel rows, cols
  int stride = 1;
  int pad = 0;                     // zero padding, same on all sides
  int p() const { return (h + 2 * pad - r) / stride + 1; }  // output rows
  int q() const { return (w + 2 * pad - s) / stride + 1; }  // output cols
  int64_t x_size() const { return int64_t(n) * h * w * c; }
  int64_t y_size() const { return int64_t(n) * p() * q() * k; }
  int64_t w_size() const { return int64_t(k) * r * s * c; }
  double flops() const { return 2.0 * double(n) * p() * q() * k * r * s * c; }  // one pass
  // A 1x1 input and output under a larger filter: only the tap at (pad, pad) meets the pixel, every
  // other one multiplies padding zeros (the blog ResNet50's stage-5 3x3 convolutions at 32x32
  // inputs). The convolution is then a GEMM with that tap's [k, c] slice of the filter, whose rows
  // lie tap_stride() floats apart from tap_offset(): the same sums without the r*s - 1 products by
  // zero in each.
  bool single_tap() const { return h == 1 && w == 1 && p() == 1 && q() == 1 && r * s > 1; }
  int64_t tap_offset() const { return (int64_t(pad) * s + pad) * c; }
  int tap_stride() const { return r * s * c; }
};

// Batch norm over an NHWC tensor: per-channel statistics over all n*h*w positions. The real
// (n, h, w) is kept, not just their product, because cuDNN must be handed the real tensor: it
// refused batch 128 of 32x32x16 described as 131,072 images of 1x1 (CUDNN_STATUS_NOT_SUPPORTED
// on an H200). A [rows, c] matrix is n = rows, h = w = 1.
struct BnGeom {
  int n = 0, h = 1, w = 1, c = 0;
  int64_t rows() const { return int64_t(n) * h * w; }
};

// Max pooling; the padding never wins (it acts as -infinity), as in Keras and PyTorch.
struct PoolGeom {
  int n = 0, h = 0, w = 0, c = 0;
  int window = 3, stride = 2, pad = 1;
  int p() const { return (h + 2 * pad - window) / stride + 1; }
  int q() const { return (w + 2 * pad - window) / stride + 1; }
  int64_t x_size() const { return int64_t(n) * h * w * c; }
  int64_t y_size() const { return int64_t(n) * p() * q() * c; }
};

}  // namespace rf
