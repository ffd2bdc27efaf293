#pragma once
// Convolutions where a single filter tap meets the input (ConvGeom::single_tap) as cuBLAS GEMMs
// with that tap's strided [k, c] slice of the KRSC filter, in place of cuDNN, which multiplies
// every tap, padding included (r*s times the work for the stage-5 3x3s of the blog ResNet50).
// The CPU twin is kernels/cpu/conv_single_tap; the bias is the caller's business, as it is for
// cuDNN. Float32 GEMMs compute under the handle's math mode (TF32 or not, as the backend set it);
// bf16 ones multiply bf16 values and accumulate in float32, rounding the output once. All run on
// the handle's stream; outputs are overwritten, except a float32 filter gradient asked to
// accumulate.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/bfloat16.h"
#include "kernels/shapes.h"

namespace rf {

// y[n, k] = sum_c x[n, c] * w[k, tap, c]
void single_tap_forward(cublasHandle_t h, const ConvGeom& g, const float* x, const float* w,
                        float* y);
void single_tap_forward(cublasHandle_t h, const ConvGeom& g, const BF16* x, const BF16* w, BF16* y);
// dx[n, c] = sum_k dy[n, k] * w[k, tap, c]
void single_tap_backward_data(cublasHandle_t h, const ConvGeom& g, const float* dy, const float* w,
                              float* dx);
void single_tap_backward_data(cublasHandle_t h, const ConvGeom& g, const BF16* dy, const BF16* w,
                              BF16* dx);
// dw = 0 except dw[k, tap, c] = sum_n dy[n, k] * x[n, c]; with `accumulate` that sum is added
// to dw[k, tap, c] (cuBLAS's beta = 1) and the rest of dw is left as it is.
void single_tap_backward_filter(cublasHandle_t h, const ConvGeom& g, const float* x,
                                const float* dy, float* dw, bool accumulate);
// Overwrites: the backend widens the bf16 gradient into its float32 buffer (and adds it there).
void single_tap_backward_filter(cublasHandle_t h, const ConvGeom& g, const BF16* x, const BF16* dy,
                                BF16* dw);

}  // namespace rf
