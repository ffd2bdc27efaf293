#pragma once
// A stand-in for CUDA's runtime header that lets the kernels of kernels/cuda and the CUDA backend
// of engine/cuda compile as plain C++ and run on the host: every CUDA thread of a block is a
// fiber, __syncthreads and the warp shuffles are barriers between them, blocks run one after
// another (emulator.cpp); memory, streams, events, capture and graphs are runtime.cpp's. Found
// before the real header only by the emulated builds (rf_kernels_cuda_emulated and what links
// it); nothing else sees it. It covers what the project uses, no more.
//
// What it checks: indexing (under AddressSanitizer every out-of-bounds access of a kernel is
// reported), reductions, block and warp synchronization (a deadlock, or a full-mask shuffle after
// a lane has exited, is an error), launch configurations, stream capture, memory use, and the
// ordering between streams and the host: queued work runs only when the host waits for it, in an
// order of the streams that favours one end (RF_CUDA_EMULATION_ORDER), so a missing event or
// synchronization gives wrong results or a use of freed memory. What it cannot: timing, races
// between blocks or between streams' work at the same moment (one thing runs at a time), and the
// GPU's own arithmetic (no fused multiply-adds here; expf and friends are the host's).
#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define RF_CUDA_EMULATION 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Shared memory is static storage in one section, which the emulator fills with 0xff bytes (a
// NaN as float or double, -1 as an integer) before each block: a kernel that reads shared memory
// it did not write gets garbage, as on the GPU, not what the previous block left there. One
// block runs at a time in the whole process.
#define __shared__ __attribute__((section("rf_emulated_shared"))) static

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// CUDA's min and max overloads for the types the kernels compare.
#define RF_EMULATED_MIN_MAX(T)                    \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
RF_EMULATED_MIN_MAX(int)
RF_EMULATED_MIN_MAX(unsigned)
RF_EMULATED_MIN_MAX(long)
RF_EMULATED_MIN_MAX(unsigned long)
RF_EMULATED_MIN_MAX(long long)
RF_EMULATED_MIN_MAX(unsigned long long)
#undef RF_EMULATED_MIN_MAX

struct CUstream_st;
using cudaStream_t = CUstream_st*;
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
struct CUgraph_st;
using cudaGraph_t = CUgraph_st*;
struct CUgraphExec_st;
using cudaGraphExec_t = CUgraphExec_st*;
struct CUgraphNode_st;
using cudaGraphNode_t = CUgraphNode_st*;
struct CUmemPoolHandle_st;
using cudaMemPool_t = CUmemPoolHandle_st*;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorCudartUnloading = 4,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnjoined = 904,
  cudaErrorStreamCaptureIsolation = 905,
  cudaErrorStreamCaptureWrongThread = 908,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorUnknown = 999
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaGraphNodeType {
  cudaGraphNodeTypeKernel = 0,
  cudaGraphNodeTypeMemcpy = 1,
  cudaGraphNodeTypeMemset = 2,
  cudaGraphNodeTypeHost = 3,
  cudaGraphNodeTypeEmpty = 5,
  cudaGraphNodeTypeEventRecord = 7,
  cudaGraphNodeTypeWaitEvent = 8,
  cudaGraphNodeTypeMemAlloc = 10,
  cudaGraphNodeTypeMemFree = 11
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMemoryPoolsSupported = 115 };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 4 };
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum libraryPropertyType { MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2 };

constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
constexpr unsigned long long cudaGraphInstantiateFlagAutoFreeOnLaunch = 1;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int multiProcessorCount;
  int major, minor;
};
struct cudaFuncAttributes {
  int maxThreadsPerBlock;
  int binaryVersion;
};

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaFuncGetAttributesOf(cudaFuncAttributes* attr, const void* func);
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, F* func) {
  return cudaFuncGetAttributesOf(attr, reinterpret_cast<const void*>(func));
}

cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop);

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count);
cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type);

// The running thread's coordinates, set by the emulator before it resumes a fiber.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

void __syncthreads();

namespace rf::cuda_emulation {
// Whether CUDA would launch a grid of this shape.
bool valid_configuration(dim3 grid, dim3 block);
// Runs thread() once per thread of every block of a valid grid, at once; throws
// std::runtime_error on a deadlock or a shuffle that names an exited lane.
void run(dim3 grid, dim3 block, const std::function<void()>& thread);

// Stream order (runtime.cpp). Work is queued per stream and runs when the host waits for it (a
// synchronization, a copy to pageable memory, a free) or when a stream's queue is full, as
// CUDA's launch queue would make the host wait; while a stream is captured its work becomes a node
// of the graph instead, run at each of the graph's launches. Of the work whose stream order and
// events allow it to run, the oldest stream's goes first (the newest's with
// RF_CUDA_EMULATION_ORDER=reverse), in graphs too. Everything the emulated device does goes
// through here: kernels, copies, and the fake cuDNN and cuBLAS calls (each one kernel node).
enum class Node { kKernel, kMemcpy, kMemset, kEventRecord };
void enqueue(cudaStream_t stream, Node kind, std::function<void()> work);
// Whether RF_CUDA_EMULATION_ORDER=reverse: blocks, threads and streams are taken last to first.
bool reverse_order();
// A kernel launch: the configuration is checked at once (cudaGetLastError reports a bad one),
// the grid runs in stream order.
void launch(cudaStream_t stream, dim3 grid, dim3 block, std::function<void()> thread);
// Whether `p` lies in memory of the emulated device (cudaMalloc, cudaMallocAsync): the fake
// libraries refuse host pointers where the real ones would fault.
bool is_device_pointer(const void* p, size_t bytes);
// The warp exchange behind the shuffles: every lane of `mask` deposits `bits`, and each gets
// what lane `src_lane` deposited.
std::uint64_t exchange(unsigned mask, std::uint64_t bits, int src_lane);
int lane_id();
}  // namespace rf::cuda_emulation

template <class T>
T rf_emulated_shuffle(unsigned mask, T v, int src_lane) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t));
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  bits = rf::cuda_emulation::exchange(mask, bits, src_lane);
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// A source lane in a later group of `width` lanes gives the caller its own value, as on the GPU.
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = rf::cuda_emulation::lane_id();
  const int src = lane ^ lane_mask;
  return rf_emulated_shuffle(mask, v, src >= (lane / width + 1) * width ? lane : src);
}

template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = rf::cuda_emulation::lane_id();
  return rf_emulated_shuffle(mask, v, lane % width + int(delta) < width ? lane + int(delta) : lane);
}

// Fibers never run at the same time, so an atomic is a plain read-modify-write.
template <class T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
