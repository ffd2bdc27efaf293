#include "engine/cuda/single_tap_conv.h"

#include <type_traits>

#include "engine/cuda/cublas_check.h"
#include "kernels/cuda/check.cuh"

// cuBLAS is column-major: a row-major [rows, cols] matrix with row stride ld is, to it, the
// column-major cols x rows matrix with leading dimension ld, its transpose. With X = x^T (c x n),
// W = the tap slice^T (c x k, ld r*s*c), Y = y^T (k x n), as the linear layer's mapping in
// cuda_backend.cu:
//   y  = x w^T   <=>  Y  = W^T X      : gemm(T, N, m=k, n=n, k=c)
//   dx = dy w    <=>  dX = W dY       : gemm(N, N, m=c, n=n, k=k)
//   dw = dy^T x  <=>  dW = X dY^T     : gemm(N, T, m=c, n=k, k=n), into the strided slice

namespace rf {
namespace {

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;
}

// C = op(A) op(B), or with `accumulate` C += op(A) op(B) (beta 1), for m x n x k, float32
// accumulation for either storage type. Float32 goes through cublasSgemm so that the handle's
// math mode (TF32 allowed or not) decides.
template <class T>
void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
          const T* a, int lda, const T* b, int ldb, T* c, int ldc, bool accumulate = false) {
  const float one = 1.f, zero = 0.f;
  const float* beta = accumulate ? &one : &zero;
  if constexpr (std::is_same_v<T, float>) {
    RF_CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &one, a, lda, b, ldb, beta, c, ldc));
  } else {
    RF_CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &one, a, data_type<T>(), lda, b,
                                 data_type<T>(), ldb, beta, c, data_type<T>(), ldc,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

template <class T>
void forward(cublasHandle_t h, const ConvGeom& g, const T* x, const T* w, T* y) {
  gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, g.k, g.n, g.c, w + g.tap_offset(), g.tap_stride(), x, g.c, y,
       g.k);
}

template <class T>
void backward_data(cublasHandle_t h, const ConvGeom& g, const T* dy, const T* w, T* dx) {
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, g.c, g.n, g.k, w + g.tap_offset(), g.tap_stride(), dy, g.k,
       dx, g.c);
}

// Accumulating, the other taps' gradients are zero: what dw holds there stays.
template <class T>
void backward_filter(cublasHandle_t h, const ConvGeom& g, const T* x, const T* dy, T* dw,
                     bool accumulate) {
  if (!accumulate) {
    cudaStream_t stream = nullptr;
    RF_CUBLAS_CHECK(cublasGetStream(h, &stream));
    RF_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(T) * size_t(g.w_size()), stream));
  }
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, g.c, g.k, g.n, x, g.c, dy, g.k, dw + g.tap_offset(),
       g.tap_stride(), accumulate);
}

}  // namespace

void single_tap_forward(cublasHandle_t h, const ConvGeom& g, const float* x, const float* w,
                        float* y) {
  forward(h, g, x, w, y);
}
void single_tap_forward(cublasHandle_t h, const ConvGeom& g, const BF16* x, const BF16* w,
                        BF16* y) {
  forward(h, g, x, w, y);
}
void single_tap_backward_data(cublasHandle_t h, const ConvGeom& g, const float* dy, const float* w,
                              float* dx) {
  backward_data(h, g, dy, w, dx);
}
void single_tap_backward_data(cublasHandle_t h, const ConvGeom& g, const BF16* dy, const BF16* w,
                              BF16* dx) {
  backward_data(h, g, dy, w, dx);
}
void single_tap_backward_filter(cublasHandle_t h, const ConvGeom& g, const float* x,
                                const float* dy, float* dw, bool accumulate) {
  backward_filter(h, g, x, dy, dw, accumulate);
}
void single_tap_backward_filter(cublasHandle_t h, const ConvGeom& g, const BF16* x, const BF16* dy,
                                BF16* dw) {
  backward_filter(h, g, x, dy, dw, false);
}

}  // namespace rf
