// The CUDA runtime of the emulated device (declared in include/cuda_runtime.h): memory, streams,
// events and graphs on the host, for the engine's CUDA backend built against the emulation.
//
// Design. Every stream runs its work at once, in the calling thread, so stream order holds
// trivially and a synchronization has nothing to wait for. Capture is what needs care: while a
// stream is captured (cudaStreamBeginCapture), its work becomes nodes of a graph instead of
// running, and another stream that waits on an event recorded in the capture joins it (as the
// engine's second stream does); cudaStreamEndCapture refuses a capture whose joined streams did
// not rejoin the origin, as CUDA does. A graph runs its nodes in capture order, which is one of
// the orders its dependencies allow. What the emulation is strict about, so that a defect shows
// here before it reaches a GPU: copies and memsets name real device memory of the right size,
// frees name live allocations, new device memory holds garbage (0xff bytes, NaN as float), a
// synchronization inside a capture invalidates it, and the device exists only where
// RF_CUDA_EMULATION_DEVICE=1 (CTest sets it for the GPU suites of an emulated build).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

namespace rf::cuda_emulation {
namespace {

constexpr size_t kAlignment = 256;  // what cudaMalloc guarantees

struct Op {
  Node kind;
  std::function<void()> work;
};

// Memory allocated while a graph was captured, and memory it freed: the graph owns both until it
// is destroyed (CUDA would allocate and free them at each launch).
struct GraphMemory {
  std::vector<void*> blocks;
  ~GraphMemory();
};

struct Capture {
  cudaStream_t origin;
  std::vector<Op> ops;
  std::shared_ptr<GraphMemory> memory = std::make_shared<GraphMemory>();
  std::set<cudaStream_t> members;
  bool invalidated = false;
};

struct StreamState {
  std::shared_ptr<Capture> capture;
  uint64_t enqueued = 0;  // work captured on this stream
  uint64_t joined = 0;    // of which the origin has waited for
};

thread_local cudaError_t g_last_error = cudaSuccess;
std::recursive_mutex g_mutex;  // the maps below; work itself runs outside it
std::map<const char*, size_t> g_device;  // live device allocations: start -> bytes
std::set<void*> g_pinned;
StreamState g_null_stream;

}  // namespace
}  // namespace rf::cuda_emulation

struct CUstream_st {
  rf::cuda_emulation::StreamState state;
};
struct CUevent_st {
  bool timing = true;
  bool recorded = false;
  std::chrono::steady_clock::time_point at;
  // Recorded during a capture: which one, on which stream, after how much of its work.
  std::shared_ptr<rf::cuda_emulation::Capture> capture;
  cudaStream_t stream = nullptr;
  uint64_t after = 0;
};
struct CUgraphNode_st {
  cudaGraphNodeType type;
};
struct CUgraph_st {
  std::vector<rf::cuda_emulation::Op> ops;
  std::vector<CUgraphNode_st> nodes;
  std::shared_ptr<rf::cuda_emulation::GraphMemory> memory;
};
struct CUgraphExec_st {
  std::vector<rf::cuda_emulation::Op> ops;
  std::shared_ptr<rf::cuda_emulation::GraphMemory> memory;
};
struct CUmemPoolHandle_st {};

namespace rf::cuda_emulation {
namespace {

StreamState& state(cudaStream_t s) { return s == nullptr ? g_null_stream : s->state; }

void* allocate(size_t bytes) {
  void* p = ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t{kAlignment});
  std::memset(p, 0xff, bytes);  // what cudaMalloc returns is not zeroed: make that visible
  return p;
}
void release(void* p) { ::operator delete(p, std::align_val_t{kAlignment}); }

GraphMemory::~GraphMemory() {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  for (void* p : blocks) {
    g_device.erase(static_cast<const char*>(p));
    release(p);
  }
}

void leave_capture(Capture& c) {
  for (cudaStream_t m : c.members) state(m) = StreamState{};
}

cudaGraphNodeType node_type(Node kind) {
  switch (kind) {
    case Node::kKernel: return cudaGraphNodeTypeKernel;
    case Node::kMemcpy: return cudaGraphNodeTypeMemcpy;
    case Node::kMemset: return cudaGraphNodeTypeMemset;
    case Node::kEventRecord: return cudaGraphNodeTypeEventRecord;
  }
  return cudaGraphNodeTypeEmpty;
}

}  // namespace

bool is_device_pointer(const void* p, size_t bytes) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const char* c = static_cast<const char*>(p);
  auto it = g_device.upper_bound(c);
  if (it == g_device.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

void enqueue(cudaStream_t stream, Node kind, std::function<void()> work) {
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    StreamState& s = state(stream);
    if (s.capture != nullptr) {
      if (!s.capture->invalidated) s.capture->ops.push_back({kind, std::move(work)});
      ++s.enqueued;
      return;
    }
  }
  work();
}

void launch(cudaStream_t stream, dim3 grid, dim3 block, std::function<void()> thread) {
  if (!valid_configuration(grid, block)) {
    g_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  enqueue(stream, Node::kKernel,
          [grid, block, thread = std::move(thread)] { run(grid, block, thread); });
}

}  // namespace rf::cuda_emulation

using namespace rf::cuda_emulation;

namespace {

cudaError_t fail(cudaError_t e) {
  g_last_error = e;
  return e;
}

// Whether work on `stream` would be captured: used by calls that CUDA forbids then.
bool capturing(cudaStream_t stream) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  return state(stream).capture != nullptr;
}

// A synchronization while any stream is captured invalidates the capture (CUDA's global mode;
// the engine never synchronizes while it records).
cudaError_t synchronize(cudaStream_t stream) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  StreamState& s = state(stream);
  if (s.capture != nullptr) {
    s.capture->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

bool device_exists() {
  const char* v = std::getenv("RF_CUDA_EMULATION_DEVICE");
  return v != nullptr && std::string(v) == "1";
}

}  // namespace

// ---- errors and the device ----

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorCudartUnloading: return "cudaErrorCudartUnloading";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnjoined: return "cudaErrorStreamCaptureUnjoined";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
    case cudaErrorNoKernelImageForDevice: return "cudaErrorNoKernelImageForDevice";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected (emulation: set "
             "RF_CUDA_EMULATION_DEVICE=1)";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnjoined: return "capture was not joined back to the origin stream";
    default: return cudaGetErrorName(e);
  }
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last_error;
  g_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = device_exists() ? 1 : 0;
  return *count == 1 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return device_exists() ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0 || !device_exists()) return fail(cudaErrorInvalidValue);
  *prop = {};
  std::snprintf(prop->name, sizeof prop->name, "CUDA emulation on the host (no GPU)");
  prop->totalGlobalMem = size_t(16) << 30;
  prop->multiProcessorCount = 1;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0 || !device_exists()) return fail(cudaErrorInvalidValue);
  *value = attr == cudaDevAttrMemoryPoolsSupported ? 1 : attr == cudaDevAttrMultiProcessorCount;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaFuncGetAttributesOf(cudaFuncAttributes* attr, const void* func) {
  if (func == nullptr) return fail(cudaErrorInvalidDeviceFunction);
  *attr = {1024, 90};
  return cudaSuccess;
}

// ---- memory ----

cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (!device_exists()) return fail(cudaErrorNoDevice);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *p = allocate(bytes);
  g_device[static_cast<const char*>(*p)] = bytes;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (p == nullptr) return device_exists() ? cudaSuccess : fail(cudaErrorNoDevice);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  auto it = g_device.find(static_cast<const char*>(p));
  if (it == g_device.end()) return fail(cudaErrorInvalidValue);
  g_device.erase(it);
  release(p);
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t stream) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const cudaError_t e = cudaMalloc(p, bytes);
  if (e == cudaSuccess && state(stream).capture != nullptr)
    state(stream).capture->memory->blocks.push_back(*p);
  return e;
}

cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (p == nullptr) return cudaSuccess;
  if (g_device.count(static_cast<const char*>(p)) == 0) return fail(cudaErrorInvalidValue);
  StreamState& s = state(stream);
  if (s.capture == nullptr) return cudaFree(p);
  // In a capture: the graph keeps the memory until it is destroyed (each launch reads it).
  auto& blocks = s.capture->memory->blocks;
  if (std::find(blocks.begin(), blocks.end(), p) == blocks.end()) blocks.push_back(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *p = allocate(bytes);
  g_pinned.insert(*p);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* p) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (g_pinned.erase(p) == 0) return fail(cudaErrorInvalidValue);
  release(p);
  return cudaSuccess;
}

cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  static CUmemPoolHandle_st the_pool;
  if (device != 0 || !device_exists()) return fail(cudaErrorInvalidValue);
  *pool = &the_pool;
  return cudaSuccess;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr, void* value) {
  return pool != nullptr && value != nullptr ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault || is_device_pointer(dst, bytes) != dst_device ||
      is_device_pointer(src, bytes) != src_device)
    return fail(cudaErrorInvalidValue);
  enqueue(stream, Node::kMemcpy, [=] { std::memmove(dst, src, bytes); });
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!is_device_pointer(p, bytes)) return fail(cudaErrorInvalidValue);
  enqueue(stream, Node::kMemset, [=] { std::memset(p, value, bytes); });
  return cudaSuccess;
}

// ---- streams and events ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  if (!device_exists()) return fail(cudaErrorNoDevice);
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return fail(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return synchronize(stream); }

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (stream == nullptr) return fail(cudaErrorStreamCaptureUnsupported);
  StreamState& s = state(stream);
  if (s.capture != nullptr) return fail(cudaErrorInvalidValue);
  s.capture = std::make_shared<Capture>();
  s.capture->origin = stream;
  s.capture->members.insert(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *graph = nullptr;
  const std::shared_ptr<Capture> c = state(stream).capture;
  if (c == nullptr || c->origin != stream) return fail(cudaErrorInvalidValue);
  bool unjoined = false;
  for (cudaStream_t m : c->members)
    if (m != stream && state(m).enqueued > state(m).joined) unjoined = true;
  leave_capture(*c);
  if (unjoined) return fail(cudaErrorStreamCaptureUnjoined);
  if (c->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  auto* g = new CUgraph_st;
  g->ops = std::move(c->ops);
  for (const Op& op : g->ops) g->nodes.push_back({node_type(op.kind)});
  g->memory = c->memory;
  *graph = g;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const std::shared_ptr<Capture>& c = state(stream).capture;
  *status = c == nullptr     ? cudaStreamCaptureStatusNone
            : c->invalidated ? cudaStreamCaptureStatusInvalidated
                             : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  *event = new CUevent_st;
  (*event)->timing = (flags & cudaEventDisableTiming) == 0;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  enqueue(stream, Node::kEventRecord, [event] {
    event->recorded = true;
    event->at = std::chrono::steady_clock::now();
  });
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  StreamState& s = state(stream);
  event->capture = s.capture;
  event->stream = stream;
  event->after = s.enqueued;  // the record included
  return cudaSuccess;
}

// Waiting on an event recorded in a capture pulls the waiting stream into that capture; the
// origin waiting on an event of a joined stream rejoins that stream's work up to the record.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const std::shared_ptr<Capture>& c = event->capture;
  if (c == nullptr || state(event->stream).capture != c) return cudaSuccess;  // already done
  StreamState& s = state(stream);
  if (s.capture == nullptr) {
    s.capture = c;
    c->members.insert(stream);
  } else if (s.capture != c) {
    return fail(cudaErrorStreamCaptureUnsupported);  // two captures may not be merged
  }
  StreamState& recorded_on = state(event->stream);
  recorded_on.joined = std::max(recorded_on.joined, event->after);
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return event->capture != nullptr && capturing(event->stream) ? synchronize(event->stream)
                                                               : cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  if (start == nullptr || stop == nullptr || !start->timing || !stop->timing)
    return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !stop->recorded) return fail(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
  return cudaSuccess;
}

// ---- graphs ----

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->ops, graph->memory};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  if (capturing(stream)) return fail(cudaErrorStreamCaptureUnsupported);
  for (const Op& op : exec->ops) op.work();
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  if (graph == nullptr || count == nullptr) return fail(cudaErrorInvalidValue);
  if (nodes != nullptr)
    for (size_t i = 0; i < std::min(*count, graph->nodes.size()); ++i) nodes[i] = &graph->nodes[i];
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type) {
  if (node == nullptr) return fail(cudaErrorInvalidValue);
  *type = node->type;
  return cudaSuccess;
}
