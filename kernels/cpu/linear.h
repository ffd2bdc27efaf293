#pragma once
// Fully connected layer: y[n,out] = x[n,in] * w[out,in]^T + b[out], through CBLAS sgemm.
namespace rf::cpu {

void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                    float* y);
// dx, dw, db are overwritten; null ones are skipped.
void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db);

}  // namespace rf::cpu
