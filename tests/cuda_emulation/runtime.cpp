// The CUDA runtime of the emulated device (declared in include/cuda_runtime.h): memory, streams,
// events and graphs on the host, for the engine's CUDA backend built against the emulation.
//
// Design. Each stream is a lane: a queue of work whose items wait for the lane's earlier items
// and for the events the stream was told to wait for. Queuing runs nothing. Work runs, one item
// at a time in the calling thread, when the host waits for it: cudaStreamSynchronize,
// cudaEventSynchronize, cudaDeviceSynchronize, a copy into pageable host memory, cudaFree and
// cudaFreeHost (which synchronize the device on a GPU too), or a lane that holds kQueueDepth items
// (the host would wait for CUDA's launch queue). Of the items ready to run, the oldest stream's
// goes first, so a second stream's work runs as late as its events allow; with
// RF_CUDA_EMULATION_ORDER=reverse the newest stream's goes first, as early as they allow. A
// missing event or synchronization then shows as wrong data in one order or the other, where on a
// GPU it would show now and then. Device memory freed in stream order (cudaFreeAsync) is filled
// with 0xff bytes (NaN as float) when the free runs and kept a while before it returns to the
// heap, poisoned for AddressSanitizer: work that still reads it, on a stream that did not wait for
// the free, reads NaN, or is reported. Host memory is read when the copy runs if it is pinned
// (cudaMallocHost), when the copy is queued if it is pageable, as CUDA stages pageable memory.
//
// Capture. While a stream is captured (cudaStreamBeginCapture) its work becomes nodes of a graph
// instead of being queued, and another stream that waits on an event recorded in the capture
// joins it (as the engine's second stream does): each stream is a lane of the graph, each wait an
// edge between lanes. cudaStreamEndCapture refuses a capture whose joined streams did not rejoin
// the origin, as CUDA does. A launched graph is one item of its stream's lane, which runs the
// graph's lanes by the rule above. Also strict, so that a defect shows here before it reaches a
// GPU: copies and memsets name real device memory of the right size, frees name live allocations,
// new device memory holds garbage (0xff bytes), a synchronization inside a capture invalidates it,
// a captured stream may not wait for work outside its capture, and the device exists only where
// RF_CUDA_EMULATION_DEVICE=1 (CTest sets it for the GPU suites of an emulated build). The null
// stream is an ordinary stream here: the engine creates its streams non-blocking.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace rf::cuda_emulation {
namespace {

constexpr size_t kAlignment = 256;  // what cudaMalloc guarantees
constexpr uint64_t kQueueDepth = 1024;  // about what CUDA queues before a launch blocks the host
constexpr size_t kQuarantineBytes = size_t(256) << 20;  // freed device memory kept poisoned

struct Lane;
// Satisfied once `lane` has run `position` items.
struct Wait {
  std::shared_ptr<Lane> lane;
  uint64_t position;
};
struct Item {
  std::function<void()> work;
  std::vector<Wait> waits;  // besides the lane's earlier items
};
// A stream's queue, or a lane of a graph while the graph runs.
struct Lane {
  explicit Lane(int r) : rank(r) {}
  int rank;  // the stream's creation order: which of two ready lanes goes first
  std::deque<Item> pending;
  uint64_t submitted = 0;
  uint64_t completed = 0;
};

// A captured node: its work, the lane (stream) it was captured on, and the nodes of other lanes
// it waits for, as (lane, how many of that lane's nodes).
struct GraphNode {
  Node kind;
  std::function<void()> work;
  size_t lane;
  std::vector<std::pair<size_t, uint64_t>> waits;
};

// Memory allocated while a graph was captured, and memory it freed: the graph owns both until it
// is destroyed (CUDA would allocate and free them at each launch).
struct GraphMemory {
  std::vector<void*> blocks;
  ~GraphMemory();
};

// What a graph runs, shared by the graph, its instantiations and its queued launches.
struct GraphBody {
  std::vector<GraphNode> nodes;  // in capture order
  std::vector<int> ranks;        // of each lane
  std::shared_ptr<GraphMemory> memory;
};

struct CaptureLane {
  CaptureLane(cudaStream_t s, int r) : stream(s), rank(r) {}
  cudaStream_t stream;
  int rank;
  uint64_t nodes = 0;   // captured on this lane
  uint64_t joined = 0;  // of which another lane has waited for
  std::vector<std::pair<size_t, uint64_t>> next_waits;  // for the lane's next node
};

struct Capture {
  cudaStream_t origin;
  std::vector<CaptureLane> lanes;  // the origin first
  std::vector<GraphNode> nodes;
  std::shared_ptr<GraphMemory> memory = std::make_shared<GraphMemory>();
  bool invalidated = false;
};

struct StreamState {
  int rank = 0;
  std::shared_ptr<Lane> lane;  // its queued work
  std::shared_ptr<Capture> capture;
  size_t capture_lane = 0;
};

void release(void* p) { ::operator delete(p, std::align_val_t{kAlignment}); }

// Freed device memory, filled with 0xff and poisoned, until kQuarantineBytes newer bytes follow.
class Quarantine {
 public:
  ~Quarantine() {
    while (!blocks_.empty()) release_oldest();
  }
  void add(void* p, size_t bytes) {
    std::memset(p, 0xff, bytes);
#if defined(__SANITIZE_ADDRESS__)
    ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
    blocks_.push_back({p, bytes});
    bytes_ += bytes;
    while (bytes_ > kQuarantineBytes) release_oldest();
  }

 private:
  void release_oldest() {
    const auto [p, bytes] = blocks_.front();
    blocks_.pop_front();
    bytes_ -= bytes;
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
    release(p);
  }
  std::deque<std::pair<void*, size_t>> blocks_;
  size_t bytes_ = 0;
};

thread_local cudaError_t g_last_error = cudaSuccess;
thread_local bool t_running_work = false;
std::recursive_mutex g_mutex;  // everything below; work runs outside it
std::mutex g_run_mutex;        // one thread runs queued work at a time, as stream order needs
std::map<const char*, size_t> g_device;  // live device allocations: start -> bytes
std::map<const char*, size_t> g_pinned;  // cudaMallocHost's
Quarantine g_quarantine;
std::vector<std::shared_ptr<Lane>> g_lanes;  // of the live streams
int g_streams_created = 0;

StreamState new_stream_state(int rank) {
  StreamState s;
  s.rank = rank;
  s.lane = std::make_shared<Lane>(rank);
  g_lanes.push_back(s.lane);
  return s;
}
StreamState g_null_stream = new_stream_state(0);

}  // namespace
}  // namespace rf::cuda_emulation

struct CUstream_st {
  rf::cuda_emulation::StreamState state;
};
struct CUevent_st {
  bool timing = true;
  // When a record of it last ran; shared with its queued records, which may run after
  // cudaEventDestroy (CUDA lets an event go with a record pending).
  struct Ran {
    bool ever = false;
    std::chrono::steady_clock::time_point at;
  };
  std::shared_ptr<Ran> ran = std::make_shared<Ran>();
  // The last record queued outside a capture: done once `lane` has run `position` items.
  std::shared_ptr<rf::cuda_emulation::Lane> lane;
  uint64_t position = 0;
  // The last record captured: in which capture, on which stream and lane, after how many of the
  // lane's nodes (the record included).
  std::shared_ptr<rf::cuda_emulation::Capture> capture;
  cudaStream_t stream = nullptr;
  size_t capture_lane = 0;
  uint64_t after = 0;
};
struct CUgraphNode_st {
  cudaGraphNodeType type;
};
struct CUgraph_st {
  std::shared_ptr<const rf::cuda_emulation::GraphBody> body;
  std::vector<CUgraphNode_st> nodes;
};
struct CUgraphExec_st {
  std::shared_ptr<const rf::cuda_emulation::GraphBody> body;
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
GraphMemory::~GraphMemory() {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  for (void* p : blocks) {
    const auto it = g_device.find(static_cast<const char*>(p));
    if (it == g_device.end()) continue;  // freed since by cudaFree
    g_quarantine.add(p, it->second);
    g_device.erase(it);
  }
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

bool ready(const Item& item) {
  for (const Wait& w : item.waits)
    if (w.lane->completed < w.position) return false;
  return true;
}

// The lane whose next item may run and goes first (see the top of the file), or null.
std::shared_ptr<Lane> next_ready(const std::vector<std::shared_ptr<Lane>>& lanes) {
  std::shared_ptr<Lane> best;
  for (const std::shared_ptr<Lane>& l : lanes) {
    if (l->pending.empty() || !ready(l->pending.front())) continue;
    if (best == nullptr || (reverse_order() ? l->rank > best->rank : l->rank < best->rank))
      best = l;
  }
  return best;
}

// Runs the live streams' queued work until done() holds (checked under g_mutex). Never called
// with g_mutex held: the work it runs takes it.
template <class Done>
void run_until(const Done& done) {
  if (t_running_work)
    throw std::logic_error("cuda emulation: work on the device waited for the device");
  const std::lock_guard<std::mutex> one_runner(g_run_mutex);
  for (;;) {
    std::shared_ptr<Lane> lane;
    Item item;
    {
      const std::lock_guard<std::recursive_mutex> lock(g_mutex);
      if (done()) return;
      lane = next_ready(g_lanes);
      if (lane == nullptr)
        throw std::logic_error("cuda emulation: waiting for queued work that can never run");
      item = std::move(lane->pending.front());
      lane->pending.pop_front();
    }
    struct Completed {
      Lane& lane;
      ~Completed() {
        t_running_work = false;
        const std::lock_guard<std::recursive_mutex> lock(g_mutex);
        ++lane.completed;
      }
    } completed{*lane};
    t_running_work = true;
    item.work();
  }
}

void wait_for(const std::shared_ptr<Lane>& lane, uint64_t position) {
  run_until([&] { return lane->completed >= position; });
}

void wait_for_all() {
  run_until([] {
    return std::all_of(g_lanes.begin(), g_lanes.end(),
                       [](const std::shared_ptr<Lane>& l) { return l->completed == l->submitted; });
  });
}

// Queues `item` on a live stream's lane (under g_mutex); returns the position to wait for when the
// lane is full, else 0.
uint64_t queue(StreamState& s, Item item) {
  s.lane->pending.push_back(std::move(item));
  ++s.lane->submitted;
  const uint64_t queued = s.lane->submitted - s.lane->completed;
  return queued >= kQueueDepth ? s.lane->submitted - kQueueDepth / 2 : 0;
}

void capture_node(StreamState& s, Node kind, std::function<void()> work) {
  Capture& c = *s.capture;
  CaptureLane& lane = c.lanes[s.capture_lane];
  ++lane.nodes;
  if (c.invalidated) return;
  c.nodes.push_back({kind, std::move(work), s.capture_lane, std::move(lane.next_waits)});
  lane.next_waits.clear();
}

// Runs a launched graph's nodes: each lane in capture order, lanes as the waits allow.
void run_graph(const GraphBody& g) {
  std::vector<std::shared_ptr<Lane>> lanes;
  for (const int rank : g.ranks) lanes.push_back(std::make_shared<Lane>(rank));
  for (const GraphNode& n : g.nodes) {
    Item item{[&n] { n.work(); }, {}};
    for (const auto& [lane, count] : n.waits) item.waits.push_back({lanes[lane], count});
    lanes[n.lane]->pending.push_back(std::move(item));
    ++lanes[n.lane]->submitted;
  }
  while (const std::shared_ptr<Lane> lane = next_ready(lanes)) {
    const Item item = std::move(lane->pending.front());
    lane->pending.pop_front();
    item.work();
    ++lane->completed;
  }
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
  std::shared_ptr<Lane> full;
  uint64_t position = 0;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    StreamState& s = state(stream);
    if (s.capture != nullptr) return capture_node(s, kind, std::move(work));
    position = queue(s, {std::move(work), {}});
    if (position != 0) full = s.lane;
  }
  if (full != nullptr) wait_for(full, position);
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

bool is_pinned(const void* p, size_t bytes) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const char* c = static_cast<const char*>(p);
  auto it = g_pinned.upper_bound(c);
  if (it == g_pinned.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
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
    case cudaErrorStreamCaptureIsolation: return "cudaErrorStreamCaptureIsolation";
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
    case cudaErrorStreamCaptureIsolation:
      return "dependency created on uncaptured work in another stream";
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

// Synchronizes the device first, as on a GPU.
cudaError_t cudaFree(void* p) {
  if (p == nullptr) return device_exists() ? cudaSuccess : fail(cudaErrorNoDevice);
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    if (g_device.count(static_cast<const char*>(p)) == 0) return fail(cudaErrorInvalidValue);
  }
  wait_for_all();
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const auto it = g_device.find(static_cast<const char*>(p));
  if (it == g_device.end()) return fail(cudaErrorInvalidValue);
  g_quarantine.add(p, it->second);
  g_device.erase(it);
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t stream) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  const cudaError_t e = cudaMalloc(p, bytes);
  if (e == cudaSuccess && state(stream).capture != nullptr)
    state(stream).capture->memory->blocks.push_back(*p);
  return e;
}

// The pointer is invalid for calls from now on; the memory goes when the free runs in stream
// order, while work queued before it may still use it.
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  std::shared_ptr<Lane> full;
  uint64_t position = 0;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    if (p == nullptr) return cudaSuccess;
    const auto it = g_device.find(static_cast<const char*>(p));
    if (it == g_device.end()) return fail(cudaErrorInvalidValue);
    StreamState& s = state(stream);
    if (s.capture != nullptr) {
      // In a capture: the graph keeps the memory until it is destroyed (each launch reads it).
      auto& blocks = s.capture->memory->blocks;
      if (std::find(blocks.begin(), blocks.end(), p) == blocks.end()) blocks.push_back(p);
      return cudaSuccess;
    }
    const size_t bytes = it->second;
    g_device.erase(it);
    position = queue(s, {[p, bytes] {
                           const std::lock_guard<std::recursive_mutex> lock(g_mutex);
                           g_quarantine.add(p, bytes);
                         },
                         {}});
    if (position != 0) full = s.lane;
  }
  if (full != nullptr) wait_for(full, position);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *p = allocate(bytes);
  g_pinned[static_cast<const char*>(*p)] = bytes;
  return cudaSuccess;
}

// Synchronizes the device first, as on a GPU.
cudaError_t cudaFreeHost(void* p) {
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    if (g_pinned.count(static_cast<const char*>(p)) == 0) return fail(cudaErrorInvalidValue);
  }
  wait_for_all();
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (g_pinned.erase(static_cast<const char*>(p)) == 0) return fail(cudaErrorInvalidValue);
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

// As CUDA does with pageable host memory: a copy from it reads it before returning, a copy into
// it returns once it is written. Pinned memory is read and written when the copy runs; so is any
// host memory in a captured copy, at each launch of the graph.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault || is_device_pointer(dst, bytes) != dst_device ||
      is_device_pointer(src, bytes) != src_device)
    return fail(cudaErrorInvalidValue);
  if (capturing(stream)) {
    enqueue(stream, Node::kMemcpy, [=] { std::memmove(dst, src, bytes); });
    return cudaSuccess;
  }
  if (!src_device && !is_pinned(src, bytes)) {
    const auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src),
                                                            static_cast<const char*>(src) + bytes);
    enqueue(stream, Node::kMemcpy, [=] { std::memcpy(dst, staged->data(), bytes); });
    return cudaSuccess;
  }
  enqueue(stream, Node::kMemcpy, [=] { std::memmove(dst, src, bytes); });
  if (!dst_device && !is_pinned(dst, bytes)) return cudaStreamSynchronize(stream);
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
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *stream = new CUstream_st{new_stream_state(++g_streams_created)};
  return cudaSuccess;
}

// Its queued work still runs (here, before it goes).
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return fail(cudaErrorInvalidResourceHandle);
  const std::shared_ptr<Lane> lane = stream->state.lane;
  uint64_t position;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    position = lane->submitted;
  }
  wait_for(lane, position);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  g_lanes.erase(std::find(g_lanes.begin(), g_lanes.end(), lane));
  delete stream;
  return cudaSuccess;
}

// A synchronization while the stream is captured invalidates the capture (the engine never
// synchronizes while it records).
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::shared_ptr<Lane> lane;
  uint64_t position;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    StreamState& s = state(stream);
    if (s.capture != nullptr) {
      s.capture->invalidated = true;
      return fail(cudaErrorStreamCaptureUnsupported);
    }
    lane = s.lane;
    position = lane->submitted;
  }
  wait_for(lane, position);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  wait_for_all();
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (stream == nullptr) return fail(cudaErrorStreamCaptureUnsupported);
  StreamState& s = state(stream);
  if (s.capture != nullptr) return fail(cudaErrorInvalidValue);
  s.capture = std::make_shared<Capture>();
  s.capture->origin = stream;
  s.capture->lanes.emplace_back(stream, s.rank);
  s.capture_lane = 0;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  *graph = nullptr;
  const std::shared_ptr<Capture> c = state(stream).capture;
  if (c == nullptr || c->origin != stream) return fail(cudaErrorInvalidValue);
  bool unjoined = false;
  for (size_t i = 1; i < c->lanes.size(); ++i)
    if (c->lanes[i].nodes > c->lanes[i].joined) unjoined = true;
  for (const CaptureLane& l : c->lanes) state(l.stream).capture = nullptr;
  if (unjoined) return fail(cudaErrorStreamCaptureUnjoined);
  if (c->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  auto body = std::make_shared<GraphBody>();
  body->nodes = std::move(c->nodes);
  for (const CaptureLane& l : c->lanes) body->ranks.push_back(l.rank);
  body->memory = c->memory;
  auto* g = new CUgraph_st;
  for (const GraphNode& n : body->nodes) g->nodes.push_back({node_type(n.kind)});
  g->body = std::move(body);
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
  auto mark = [ran = event->ran] {
    ran->ever = true;
    ran->at = std::chrono::steady_clock::now();
  };
  std::shared_ptr<Lane> full;
  uint64_t position = 0;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    StreamState& s = state(stream);
    if (s.capture != nullptr) {
      capture_node(s, Node::kEventRecord, mark);
      event->capture = s.capture;
      event->stream = stream;
      event->capture_lane = s.capture_lane;
      event->after = s.capture->lanes[s.capture_lane].nodes;
      event->lane = nullptr;
      return cudaSuccess;
    }
    position = queue(s, {mark, {}});
    event->capture = nullptr;
    event->lane = s.lane;
    event->position = s.lane->submitted;
    if (position != 0) full = s.lane;
  }
  if (full != nullptr) wait_for(full, position);
  return cudaSuccess;
}

// Waiting on an event recorded in a capture pulls the waiting stream into that capture (a new
// lane of its graph); a wait between lanes of one capture is an edge of the graph, and counts as
// joining the waited-for lane up to the record.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  StreamState& s = state(stream);
  const std::shared_ptr<Capture>& c = event->capture;
  if (c != nullptr) {
    if (state(event->stream).capture != c) return cudaSuccess;  // its capture has ended
    if (s.capture == nullptr) {
      s.capture = c;
      s.capture_lane = c->lanes.size();
      c->lanes.emplace_back(stream, s.rank);
    } else if (s.capture != c) {
      return fail(cudaErrorStreamCaptureIsolation);  // two captures may not be merged
    }
    CaptureLane& recorded_on = c->lanes[event->capture_lane];
    recorded_on.joined = std::max(recorded_on.joined, event->after);
    if (event->capture_lane != s.capture_lane)
      c->lanes[s.capture_lane].next_waits.push_back({event->capture_lane, event->after});
    return cudaSuccess;
  }
  if (event->lane == nullptr) return cudaSuccess;  // never recorded: nothing to wait for
  if (s.capture != nullptr) {
    // Work outside the capture: the graph could not wait for it at its launches.
    s.capture->invalidated = true;
    return fail(cudaErrorStreamCaptureIsolation);
  }
  if (event->lane->completed < event->position)
    queue(s, {[] {}, {{event->lane, event->position}}});
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  std::shared_ptr<Lane> lane;
  uint64_t position;
  {
    const std::lock_guard<std::recursive_mutex> lock(g_mutex);
    if (event->capture != nullptr && state(event->stream).capture == event->capture) {
      event->capture->invalidated = true;
      return fail(cudaErrorStreamCaptureUnsupported);
    }
    lane = event->lane;
    position = event->position;
  }
  if (lane != nullptr) wait_for(lane, position);
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  if (start == nullptr || stop == nullptr || !start->timing || !stop->timing)
    return fail(cudaErrorInvalidResourceHandle);
  const std::lock_guard<std::recursive_mutex> lock(g_mutex);
  for (const cudaEvent_t e : {start, stop})
    if (!e->ran->ever || (e->lane != nullptr && e->lane->completed < e->position))
      return fail(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(stop->ran->at - start->ran->at).count();
  return cudaSuccess;
}

// ---- graphs ----

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->body};
  return cudaSuccess;
}

// One item of the stream's queue, which keeps what the graph needs until it has run.
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  if (capturing(stream)) return fail(cudaErrorStreamCaptureUnsupported);
  enqueue(stream, Node::kKernel, [body = exec->body] { run_graph(*body); });
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
