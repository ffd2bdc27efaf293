#include "engine/cuda/cudnn_conv.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/check.h"
#include "engine/cuda/cudnn_check.h"
#include "engine/cuda/cudnn_descriptors.h"
#include "engine/cuda/stream_temporary.h"
#include "kernels/cuda/check.cuh"

// Algorithm choice, once per (geometry, policy) and direction.
//  - Default: cudnnFind*AlgorithmEx on the caller's real inputs, and on its real output when that
//    is about to be overwritten anyway. A filter gradient that accumulates (beta = 1) holds a
//    partial sum that Find's trial runs would overwrite: Find then writes into a temporary output
//    of the same size. Find times every algorithm that supports the problem, so the choice is
//    the measured fastest, at the cost of one slower first step per layer shape. Find runs with
//    a temporary workspace as large as the hungriest algorithm asks for (capped); the chosen
//    algorithm then runs in the backend's shared, grow-only workspace. Find runs the first time
//    a plan is used, eagerly: it waits for its timed trials, which a step-graph recording cannot
//    do (backend.h asks for the step to run once before it is recorded), so a search asked for
//    while the stream is being captured throws instead.
//  - Deterministic: cudnnGet*Algorithm_v7, cuDNN's heuristic ranking, keeping only results it
//    marks CUDNN_DETERMINISTIC. Timing is noisy, so Find could pick a different (equally
//    deterministic) algorithm in the next process, and a different algorithm sums in a different
//    order: a run and its --resume would then part bitwise. The ranking is a pure function of
//    the problem, the device and the cuDNN version.
// Math, fp32 tensors: the descriptor is set to CUDNN_FMA_MATH (TF32 off: FP32 FMA kernels only) or
// CUDNN_DEFAULT_MATH (TF32 tensor cores allowed) before the search. A result reporting
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (fp32 data down-converted to fp16) is never taken (fp32
// data is never computed in fp16/bf16), nor CUDNN_TENSOR_OP_MATH with TF32 off; with TF32 off the
// chosen algorithm always runs under CUDNN_FMA_MATH, whatever label the result carries (one that
// cuDNN does not support under FMA is passed over). When no result qualifies the call throws,
// listing what cuDNN offered: there is no silent fallback.
// Math, bf16 tensors: the same, except that tensor cores are allowed whatever the TF32 setting:
// the descriptor's compute type is fp32 and a product of two bf16 values is exact in fp32, so
// they compute the CPU backend's float32 convolution of the bf16 values (up to summation order).
// The search runs under CUDNN_TENSOR_OP_MATH, the mode that lets cuDNN use tensor cores for
// 16-bit data (CUDNN_DEFAULT_MATH permits only TF32), and ALLOW_CONVERSION is never taken.

namespace rf {
namespace {

constexpr size_t kFindWorkspaceCap = size_t(1) << 30;

template <class Algo>
struct Choice {
  Algo algo;
  cudnnMathType_t math;  // what the algorithm runs under
  size_t workspace;
};

// Whether a result's math type computes in FP32 (FMA) or, when allowed, on tensor cores.
bool math_allowed(cudnnMathType_t m, bool tensor_ops) {
  switch (m) {
    case CUDNN_FMA_MATH:
    case CUDNN_DEFAULT_MATH:  // run under CUDNN_FMA_MATH when tensor cores are not allowed
      return true;
    case CUDNN_TENSOR_OP_MATH:  // fp32 data: TF32 tensor cores; bf16 data: bf16 tensor cores
      return tensor_ops;
    default:  // CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: fp16 down-conversion
      return false;
  }
}

using FwdAlgo = cudnnConvolutionFwdAlgo_t;
using BwdDataAlgo = cudnnConvolutionBwdDataAlgo_t;
using BwdFilterAlgo = cudnnConvolutionBwdFilterAlgo_t;

// A temporary device buffer for cudnnFind*: halves its size until the pool can serve it.
class FindWorkspace {
 public:
  FindWorkspace(cudaStream_t stream, size_t want) : stream_(stream) {
    for (size_ = std::min(want, kFindWorkspaceCap); size_ > 0; size_ /= 2) {
      const cudaError_t e = cudaMallocAsync(&data_, size_, stream_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorMemoryAllocation) RF_CUDA_CHECK(e);
      cudaGetLastError();  // an out-of-memory here is handled: clear it
      data_ = nullptr;
    }
  }
  ~FindWorkspace() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);
  }
  FindWorkspace(const FindWorkspace&) = delete;
  FindWorkspace& operator=(const FindWorkspace&) = delete;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Find synchronizes to time its trials: refused while the stream is captured (see the top).
void check_not_capturing(cudaStream_t stream, const char* direction) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RF_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  RF_CHECK(status == cudaStreamCaptureStatusNone,
           "conv2d: cuDNN's " << direction << " algorithm search for a new geometry cannot run "
                                 "while a step graph is recorded: run the step once before "
                                 "recording it");
}

}  // namespace

struct CudnnConv::Plan {
  ConvGeom g;
  cudnnDataType_t type;  // of x, w and y: CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16
  ConvPolicy policy;
  cudnnMathType_t math;  // set on the descriptor for the search
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  std::optional<Choice<FwdAlgo>> fwd;
  std::optional<Choice<BwdDataAlgo>> bwd_data;
  std::optional<Choice<BwdFilterAlgo>> bwd_filter;
};

namespace {

using Plan = CudnnConv::Plan;

// Whether the plan may run on tensor cores (see Math above).
bool tensor_ops(const Plan& p) { return p.type == CUDNN_DATA_BFLOAT16 || p.policy.tf32; }

const char* math_name(const Plan& p) {
  if (p.type == CUDNN_DATA_BFLOAT16) return "BF16 (FP32 accumulation)";
  return p.policy.tf32 ? "FP32/TF32" : "FP32";
}

// The three directions differ only in which cuDNN functions they call.
struct Fwd {
  using Algo = FwdAlgo;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr const char* kName = "forward";
  static int64_t out_elements(const ConvGeom& g) { return g.y_size(); }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (x, w) -> y
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, a, p.w, b, p.conv, p.y, out, n,
                                                  returned, perf, ws, bytes);
  }
  static cudnnStatus_t rank(cudnnHandle_t h, const Plan& p, int n, int* returned, Perf* perf) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, n, returned, perf);
  }
};

struct BwdData {
  using Algo = BwdDataAlgo;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr const char* kName = "backward-data";
  static int64_t out_elements(const ConvGeom& g) { return g.x_size(); }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (w, dy) -> dx
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, a, p.y, b, p.conv, p.x, out, n,
                                                       returned, perf, ws, bytes);
  }
  static cudnnStatus_t rank(cudnnHandle_t h, const Plan& p, int n, int* returned, Perf* perf) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, n, returned,
                                                       perf);
  }
};

struct BwdFilter {
  using Algo = BwdFilterAlgo;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr const char* kName = "backward-filter";
  static int64_t out_elements(const ConvGeom& g) { return g.w_size(); }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (x, dy) -> dw
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, a, p.y, b, p.conv, p.w, out, n,
                                                         returned, perf, ws, bytes);
  }
  static cudnnStatus_t rank(cudnnHandle_t h, const Plan& p, int n, int* returned, Perf* perf) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, n, returned,
                                                         perf);
  }
};

// The algorithm under the math type it will run with, and the workspace it needs there (the
// search's figure, or the query's when larger); nullopt when cuDNN does not support it so.
template <class Ops>
std::optional<Choice<typename Ops::Algo>> settle(cudnnHandle_t h, const Plan& p,
                                                 typename Ops::Algo algo, cudnnMathType_t math,
                                                 size_t search_bytes) {
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, math));
  size_t bytes = 0;
  if (Ops::workspace(h, p, algo, &bytes) != CUDNN_STATUS_SUCCESS) return std::nullopt;
  return Choice<typename Ops::Algo>{algo, math, std::max(bytes, search_bytes)};
}

// The results cuDNN returned, for the error message when none qualifies.
template <class Perf>
std::string describe(const std::vector<Perf>& perf, int returned) {
  std::ostringstream os;
  for (int i = 0; i < returned; ++i) {
    const Perf& r = perf[size_t(i)];
    os << "\n  algo " << int(r.algo) << ": " << cudnnGetErrorString(r.status) << ", math "
       << int(r.mathType) << ", "
       << (r.determinism == CUDNN_DETERMINISTIC ? "deterministic" : "non-deterministic") << ", "
       << r.memory << " bytes";
  }
  return returned > 0 ? os.str() : std::string("\n  (none)");
}

size_t element_bytes(const Plan& p) { return p.type == CUDNN_DATA_BFLOAT16 ? 2 : 4; }

// `keep_out`: out holds values that must survive (an accumulating output); Find's trials then
// write into a temporary instead.
template <class Ops>
Choice<typename Ops::Algo> choose(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                                  void* out, bool keep_out) {
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.math));
  int count = 0;
  RF_CUDNN_CHECK(Ops::max_count(h, &count));
  std::vector<typename Ops::Perf> perf(size_t(std::max(count, 1)));
  int returned = 0;
  size_t ws_limit = kFindWorkspaceCap;
  if (p.policy.deterministic) {
    RF_CUDNN_CHECK(Ops::rank(h, p, int(perf.size()), &returned, perf.data()));
  } else {
    size_t want = 0;
    for (int i = 0; i < Ops::kCount; ++i) {
      size_t bytes = 0;  // algorithms that do not support the problem report an error: skipped
      if (Ops::workspace(h, p, typename Ops::Algo(i), &bytes) == CUDNN_STATUS_SUCCESS)
        want = std::max(want, bytes);
    }
    cudaStream_t stream = nullptr;
    RF_CUDNN_CHECK(cudnnGetStream(h, &stream));
    check_not_capturing(stream, Ops::kName);
    // Where Find writes its trials when the caller's output holds values to keep.
    std::optional<StreamTemporary> trial_out;
    if (keep_out) trial_out.emplace(stream, size_t(Ops::out_elements(p.g)) * element_bytes(p));
    const FindWorkspace ws(stream, want);
    RF_CUDNN_CHECK(Ops::find(h, p, a, b, trial_out ? trial_out->data() : out, int(perf.size()),
                             &returned, perf.data(), ws.data(), ws.size()));
    ws_limit = ws.size();
  }
  for (int i = 0; i < returned; ++i) {  // best first (fastest measured, or heuristic rank)
    const auto& r = perf[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > ws_limit) continue;
    if (!math_allowed(r.mathType, tensor_ops(p))) continue;
    if (p.policy.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    const cudnnMathType_t run_math = tensor_ops(p) ? r.mathType : CUDNN_FMA_MATH;
    if (auto c = settle<Ops>(h, p, r.algo, run_math, r.memory)) return *c;
  }
  const ConvGeom& g = p.g;
  RF_CHECK(false, "conv2d: cuDNN offers no " << Ops::kName << " algorithm in "
                      << math_name(p) << " math"
                      << (p.policy.deterministic ? ", deterministic," : "")
                      << " within " << ws_limit << " workspace bytes for n=" << g.n
                      << " h=" << g.h << " w=" << g.w << " c=" << g.c << " k=" << g.k
                      << " r=" << g.r << " s=" << g.s << " stride=" << g.stride
                      << " pad=" << g.pad << "; cuDNN returned:" << describe(perf, returned));
  return {};  // not reached
}

}  // namespace

CudnnConv::CudnnConv() = default;
CudnnConv::~CudnnConv() = default;

CudnnConv::Plan& CudnnConv::plan(const ConvGeom& g, cudnnDataType_t type, ConvPolicy policy) {
  const Key key{g.n, g.h, g.w, g.c, g.k, g.r, g.s, g.stride, g.pad, int(type),
                policy.tf32 ? 1 : 0, policy.deterministic ? 1 : 0};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  RF_CHECK(g.n > 0 && g.h > 0 && g.w > 0 && g.c > 0 && g.k > 0 && g.r > 0 && g.s > 0 &&
               g.stride > 0 && g.pad >= 0 && g.p() > 0 && g.q() > 0,
           "conv2d: invalid geometry n=" << g.n << " h=" << g.h << " w=" << g.w << " c=" << g.c
                                        << " k=" << g.k << " r=" << g.r << " s=" << g.s
                                        << " stride=" << g.stride << " pad=" << g.pad);
  auto p = std::make_unique<Plan>();
  p->g = g;
  p->type = type;
  p->policy = policy;
  // With TF32 allowed cuDNN may use TF32 tensor cores for fp32 (CUDNN_DEFAULT_MATH);
  // CUDNN_FMA_MATH restricts it to fp32 FMA kernels. bf16 tensor cores need CUDNN_TENSOR_OP_MATH.
  if (type == CUDNN_DATA_BFLOAT16)
    p->math = CUDNN_TENSOR_OP_MATH;
  else
    p->math = policy.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  RF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, type, g.n, g.c, g.h, g.w));
  RF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, type, g.n, g.k, g.p(), g.q()));
  // NHWC filter format with dims (k, c, r, s) is the memory order k, r, s, c: our KRSC.
  RF_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, type, CUDNN_TENSOR_NHWC, g.k, g.c, g.r, g.s));
  RF_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, g.pad, g.pad, g.stride, g.stride, 1, 1,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->math));
  int on = 0, ok = 0, op = 0, oq = 0;
  RF_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &ok, &op, &oq));
  RF_CHECK(on == g.n && ok == g.k && op == g.p() && oq == g.q(),
           "conv2d: cuDNN output dims " << on << "x" << ok << "x" << op << "x" << oq
                                        << " differ from ConvGeom's " << g.n << "x" << g.k << "x"
                                        << g.p() << "x" << g.q());
  return *plans_.emplace(key, std::move(p)).first->second;
}

void CudnnConv::forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                        ConvPolicy policy, const float* x, const float* w, float* y) {
  run_forward(h, workspace, g, CUDNN_DATA_FLOAT, policy, x, w, y);
}

void CudnnConv::backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                              ConvPolicy policy, const float* dy, const float* w, float* dx) {
  run_backward_data(h, workspace, g, CUDNN_DATA_FLOAT, policy, dy, w, dx);
}

void CudnnConv::backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                                ConvPolicy policy, const float* x, const float* dy, float* dw,
                                bool accumulate) {
  run_backward_filter(h, workspace, g, CUDNN_DATA_FLOAT, policy, x, dy, dw, accumulate);
}

void CudnnConv::forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                        ConvPolicy policy, const BF16* x, const BF16* w, BF16* y) {
  run_forward(h, workspace, g, CUDNN_DATA_BFLOAT16, policy, x, w, y);
}

void CudnnConv::backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                              ConvPolicy policy, const BF16* dy, const BF16* w, BF16* dx) {
  run_backward_data(h, workspace, g, CUDNN_DATA_BFLOAT16, policy, dy, w, dx);
}

void CudnnConv::backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                                ConvPolicy policy, const BF16* x, const BF16* dy, BF16* dw) {
  run_backward_filter(h, workspace, g, CUDNN_DATA_BFLOAT16, policy, x, dy, dw, false);
}

// alpha and beta are floats for fp32 and bf16 data alike (cuDNN's scaling parameters are double
// only for double data).
void CudnnConv::run_forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                            cudnnDataType_t type, ConvPolicy policy, const void* x, const void* w,
                            void* y) {
  Plan& p = plan(g, type, policy);
  if (!p.fwd) p.fwd = choose<Fwd>(h, p, x, w, y, false);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.fwd->math));
  void* ws = workspace.get(p.fwd->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionForward(h, &one, p.x, x, p.w, w, p.conv, p.fwd->algo, ws,
                                         p.fwd->workspace, &zero, p.y, y));
}

void CudnnConv::run_backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                                  cudnnDataType_t type, ConvPolicy policy, const void* dy,
                                  const void* w, void* dx) {
  Plan& p = plan(g, type, policy);
  if (!p.bwd_data) p.bwd_data = choose<BwdData>(h, p, w, dy, dx, false);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.bwd_data->math));
  void* ws = workspace.get(p.bwd_data->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, p.w, w, p.y, dy, p.conv,
                                              p.bwd_data->algo, ws, p.bwd_data->workspace, &zero,
                                              p.x, dx));
}

void CudnnConv::run_backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                                    cudnnDataType_t type, ConvPolicy policy, const void* x,
                                    const void* dy, void* dw, bool accumulate) {
  Plan& p = plan(g, type, policy);
  if (!p.bwd_filter) p.bwd_filter = choose<BwdFilter>(h, p, x, dy, dw, accumulate);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.bwd_filter->math));
  void* ws = workspace.get(p.bwd_filter->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, p.x, x, p.y, dy, p.conv,
                                                p.bwd_filter->algo, ws, p.bwd_filter->workspace,
                                                accumulate ? &one : &zero, p.w, dw));
}

}  // namespace rf
