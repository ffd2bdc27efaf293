// The fake cuBLAS of the emulated device (declared in include/cublas_v2.h; what it fakes and what
// it does not is said there).
//
// Design. A GEMM checks its arguments as cuBLAS does, reads alpha and beta on the host at once
// (the host pointer mode), and queues one kernel (rf::cuda_emulation::enqueue) that owns copies of
// every scalar and pointer, so a captured graph replays it; the handle's math mode is read then
// too, as cuBLAS picks its kernel when the call is made. The kernel hands the column-major problem
// to OpenBLAS's sgemm in float32; bfloat16 operands are widened first, float32 ones rounded to
// TF32 (tf32.h) into copies under CUBLAS_TF32_TENSOR_OP_MATH, and a bfloat16 output is computed
// into a float matrix and rounded once. BLAS shares cuBLAS's rule that C is not read when
// beta == 0 (the tests hold NaN there).
#include "cublas_v2.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/bfloat16.h"
#include "tf32.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

using rf::BF16;
using rf::cuda_emulation::enqueue;
using rf::cuda_emulation::is_device_pointer;
using rf::cuda_emulation::Node;
using rf::cuda_emulation::operand_as_float;

// "13.99.99": the emulated runtime's major version, with a minor and patch no cuBLAS has.
constexpr int kFakeVersion[] = {13, 99, 99};

size_t element_bytes(cudaDataType_t t) { return t == CUDA_R_16BF ? 2 : 4; }

// Elements spanned by a column-major rows x cols matrix with leading dimension ld.
int64_t extent(int rows, int cols, int ld) {
  return rows == 0 || cols == 0 ? 0 : int64_t(cols - 1) * ld + rows;
}

CBLAS_TRANSPOSE cblas_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
}

struct Gemm {
  cublasOperation_t ta, tb;
  int m, n, k;
  float alpha, beta;
  const void* a;
  cudaDataType_t a_type;
  int lda;
  const void* b;
  cudaDataType_t b_type;
  int ldb;
  void* c;
  cudaDataType_t c_type;
  int ldc;
  bool tf32 = false;  // TF32 operands: the handle's math mode when the call was made

  int a_rows() const { return ta == CUBLAS_OP_N ? m : k; }
  int a_cols() const { return ta == CUBLAS_OP_N ? k : m; }
  int b_rows() const { return tb == CUBLAS_OP_N ? k : n; }
  int b_cols() const { return tb == CUBLAS_OP_N ? n : k; }

  // C = alpha op(A) op(B) + beta C, C read only when beta != 0.
  void run() const {
    std::vector<float> a_copy, b_copy;
    const float* af =
        operand_as_float(a_type != CUDA_R_32F, a, extent(a_rows(), a_cols(), lda), tf32, a_copy);
    const float* bf =
        operand_as_float(b_type != CUDA_R_32F, b, extent(b_rows(), b_cols(), ldb), tf32, b_copy);
    if (c_type == CUDA_R_32F) {
      cblas_sgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), m, n, k, alpha, af, lda, bf, ldb,
                  beta, static_cast<float*>(c), ldc);
      return;
    }
    BF16* cb = static_cast<BF16*>(c);
    std::vector<float> cf(size_t(m) * size_t(n));  // dense, leading dimension m
    if (beta != 0.f)
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i)
          cf[size_t(j) * size_t(m) + size_t(i)] = rf::bf16_to_float(cb[int64_t(j) * ldc + i]);
    cblas_sgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), m, n, k, alpha, af, lda, bf, ldb,
                beta, cf.data(), m);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i)
        cb[int64_t(j) * ldc + i] = rf::float_to_bf16(cf[size_t(j) * size_t(m) + size_t(i)]);
  }
};

// Checks as cuBLAS does, then queues the GEMM on the handle's stream.
cublasStatus_t gemm(cublasHandle_t handle, Gemm g, const float* alpha, const float* beta) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const auto is_op = [](cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T; };
  if (!is_op(g.ta) || !is_op(g.tb) || g.m < 0 || g.n < 0 || g.k < 0 ||
      g.lda < std::max(1, g.a_rows()) || g.ldb < std::max(1, g.b_rows()) ||
      g.ldc < std::max(1, g.m) || alpha == nullptr || beta == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (g.m == 0 || g.n == 0) return CUBLAS_STATUS_SUCCESS;
  const auto on_device = [](const void* p, cudaDataType_t t, int64_t count) {
    return count == 0 || is_device_pointer(p, size_t(count) * element_bytes(t));
  };
  if (!on_device(g.a, g.a_type, extent(g.a_rows(), g.a_cols(), g.lda)) ||
      !on_device(g.b, g.b_type, extent(g.b_rows(), g.b_cols(), g.ldb)) ||
      !on_device(g.c, g.c_type, extent(g.m, g.n, g.ldc)))
    return CUBLAS_STATUS_INVALID_VALUE;
  g.alpha = *alpha;
  g.beta = *beta;
  g.tf32 = handle->math == CUBLAS_TF32_TENSOR_OP_MATH && !rf::cuda_emulation::tf32_overridden_off();
  enqueue(handle->stream, Node::kKernel, [g] { g.run(); });
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // the failure is reported as cuBLAS's
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (streamId == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLAS 12's cublasMath_t (docs.nvidia.com/cuda/cublas, "cublasMath_t"; its values as in
// docs.nvidia.com/cuda/nvmath-python's cublas.Math): CUBLAS_DEFAULT_MATH computes with at least
// the precision requested, so full float32 under CUBLAS_COMPUTE_32F (the engine's only compute
// type; it never asks for CUBLAS_COMPUTE_32F_FAST_TF32 or CUBLAS_PEDANTIC_MATH, which the fake
// refuses), and CUBLAS_TF32_TENSOR_OP_MATH lets single-precision routines use TF32 tensor cores.
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

// Only the modes the fake implements (host scalars; no atomics anyway) are accepted.
cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  return mode == CUBLAS_POINTER_MODE_HOST ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  return mode == CUBLAS_ATOMICS_NOT_ALLOWED ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  if (value == nullptr || type < MAJOR_VERSION || type > PATCH_LEVEL)
    return CUBLAS_STATUS_INVALID_VALUE;
  *value = kFakeVersion[type];
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid value was used as an argument (fake cuBLAS: or host memory where the "
             "device's is needed)";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported (by the fake cuBLAS)";
  }
  return "unknown error";
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return gemm(handle,
              {transa, transb, m, n, k, 0.f, 0.f, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, C,
               CUDA_R_32F, ldc},
              alpha, beta);
}

// Float32 compute over float32 operands, or over bfloat16 ones into a bfloat16 or float32 C:
// cuBLAS's combinations for CUBLAS_COMPUTE_32F that the engine can reach.
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType_t Atype, int lda, const void* B,
                            cudaDataType_t Btype, int ldb, const void* beta, void* C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
  const bool types = Atype == Btype && (Atype == CUDA_R_16BF ? Ctype == CUDA_R_16BF ||
                                                                   Ctype == CUDA_R_32F
                                                             : Atype == CUDA_R_32F &&
                                                                   Ctype == CUDA_R_32F);
  if (!types || computeType != CUBLAS_COMPUTE_32F || algo != CUBLAS_GEMM_DEFAULT)
    return handle == nullptr ? CUBLAS_STATUS_NOT_INITIALIZED : CUBLAS_STATUS_NOT_SUPPORTED;
  // With CUBLAS_COMPUTE_32F, alpha and beta are floats.
  return gemm(handle,
              {transa, transb, m, n, k, 0.f, 0.f, A, Atype, lda, B, Btype, ldb, C, Ctype, ldc},
              static_cast<const float*>(alpha), static_cast<const float*>(beta));
}
