#pragma once
// CPU convolution, NHWC activations and KRSC filters, as im2col + one CBLAS sgemm per chunk of
// output rows. The chunking bounds the im2col buffer; a 1x1/stride-1/unpadded convolution needs
// no im2col at all, because in NHWC its input already is the patch matrix.
#include <cstddef>

#include "kernels/shapes.h"

namespace rf::cpu {

// Floats of scratch memory the three functions below need for `g`.
size_t conv2d_workspace_floats(const ConvGeom& g);

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    float* work);
void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx,
                          float* work);
// dw and dbias (when not null) are overwritten.
void conv2d_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                            float* dbias, float* work);

}  // namespace rf::cpu
