#pragma once
// Convolutions where a single filter tap meets the input (ConvGeom::single_tap): GEMMs with that
// tap's strided [k, c] slice of the KRSC filter, through CBLAS sgemm. The bias, when there is one,
// is added to the output as a linear layer's is.
#include "kernels/shapes.h"

namespace rf::cpu {

// y[n, k] = sum_c x[n, c] * w[k, tap, c] (+ bias[k])
void single_tap_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        float* y);
// dx[n, c] = sum_k dy[n, k] * w[k, tap, c]
void single_tap_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx);
// dw = 0 except dw[k, tap, c] = sum_n dy[n, k] * x[n, c]; dbias (may be null) = sum_n dy[n, k].
void single_tap_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                float* dbias);

}  // namespace rf::cpu
