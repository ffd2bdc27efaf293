#pragma once
// A stand-in for cuBLAS's header (fake_cublas.cpp), for the engine's CUDA backend built against
// the host emulation of CUDA (include/cuda_runtime.h): exactly the types, constants and functions
// engine/cuda uses, with cuBLAS 12's signatures and enumerator values.
//
// What is faked: handles bound to an emulated stream, their math, pointer and atomics modes;
// column-major GEMM with transposes and leading dimensions, cublasSgemm and cublasGemmEx on float32
// or bfloat16 matrices with float32 compute (bfloat16 outputs rounded once, to nearest even),
// computed on the host by OpenBLAS's sgemm with BLAS's alpha/beta semantics (beta == 0: C is not
// read); float32 operands rounded to TF32 (tf32.h) when the handle's math mode is
// CUBLAS_TF32_TENSOR_OP_MATH as the call is made, full float32 under CUBLAS_DEFAULT_MATH or with
// NVIDIA_TF32_OVERRIDE=0. Each GEMM checks that its matrices lie in emulated device memory (else
// CUBLAS_STATUS_INVALID_VALUE) and runs in stream order as one kernel, so it is recorded into a
// graph while its stream is captured.
// What is not: the device pointer mode (alpha and beta are read on the host, when the call is
// made, as CUBLAS_POINTER_MODE_HOST does), any other math mode, data or compute type, GEMM
// algorithm or function (refused with CUBLAS_STATUS_NOT_SUPPORTED); a choice between TF32 and
// float32 kernels under CUBLAS_TF32_TENSOR_OP_MATH (the fake always takes TF32); the real
// library's summation order.
#include <cuda_runtime.h>

struct cublasContext;
using cublasHandle_t = cublasContext*;

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasPointerMode_t { CUBLAS_POINTER_MODE_HOST = 0 };
enum cublasAtomicsMode_t { CUBLAS_ATOMICS_NOT_ALLOWED = 0 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68 };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };

cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t streamId);
cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* streamId);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode);
cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode);
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value);
const char* cublasGetStatusName(cublasStatus_t status);
const char* cublasGetStatusString(cublasStatus_t status);

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc);
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType_t Atype, int lda, const void* B,
                            cudaDataType_t Btype, int ldb, const void* beta, void* C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo);
