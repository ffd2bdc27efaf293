// The emulated CUDA runtime (runtime.cpp): work queued until the host waits for it, the order of
// unordered streams (RF_CUDA_EMULATION_ORDER), stream capture and graphs, the joining of a second
// stream, and the misuse it reports instead of letting it pass, as a GPU would not.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "emulated_case.h"
#include "kernels/cuda/elementwise.cuh"

using namespace rf;
using rf::test::DeviceBuffer;

namespace {

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess); }
  ~Stream() { cudaStreamDestroy(s); }
};

struct Event {
  cudaEvent_t e = nullptr;
  Event() { REQUIRE(cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess); }
  ~Event() { cudaEventDestroy(e); }
};

// Device memory the host reads directly, without waiting for queued work (DeviceBuffer waits).
struct RawDevice {
  float* p = nullptr;
  explicit RawDevice(size_t n) {
    void* v = nullptr;
    REQUIRE(cudaMalloc(&v, n * sizeof(float)) == cudaSuccess);
    p = static_cast<float*>(v);
  }
  ~RawDevice() { cudaFree(p); }
};

bool reverse() { return rf::cuda_emulation::reverse_order(); }

}  // namespace

TEST_CASE("cuda emulation runtime: queued work runs when the host waits for it") {
  Stream stream;
  RawDevice y(4);
  gpu::fill(4, 3.f, y.p, stream.s);
  CHECK(std::isnan(y.p[0]));  // queued, not run
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);
  CHECK(y.p[3] == 3.f);

  // An event waits for the work queued before its record, not for what follows.
  Event done;
  gpu::fill(4, 4.f, y.p, stream.s);
  REQUIRE(cudaEventRecord(done.e, stream.s) == cudaSuccess);
  gpu::fill(4, 5.f, y.p, stream.s);
  REQUIRE(cudaEventSynchronize(done.e) == cudaSuccess);
  CHECK(y.p[0] == 4.f);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(y.p[0] == 5.f);

  // A full queue makes the host wait, as CUDA's launch queue does: some of the work has run.
  gpu::fill(1, 0.f, y.p, stream.s);
  const RawDevice one(1);
  gpu::fill(1, 1.f, one.p, stream.s);
  for (int i = 0; i < 3000; ++i) gpu::axpy(1, 1.f, one.p, y.p, stream.s);
  CHECK(y.p[0] >= 1.f);
  CHECK(y.p[0] < 3000.f);
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);
  CHECK(y.p[0] == 3000.f);

  // An event may go with its record still queued, as in CUDA.
  {
    Event gone;
    REQUIRE(cudaEventRecord(gone.e, stream.s) == cudaSuccess);
  }
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);

  // A destroyed stream's work still runs.
  {
    Stream doomed;
    gpu::fill(4, 6.f, y.p, doomed.s);
  }
  CHECK(y.p[1] == 6.f);
}

TEST_CASE("cuda emulation runtime: unordered streams run oldest first, or newest first reversed") {
  Stream main, side;  // created in this order
  RawDevice a(4), b(4);
  gpu::fill(4, 1.f, a.p, main.s);
  REQUIRE(cudaStreamSynchronize(main.s) == cudaSuccess);
  gpu::fill(4, 2.f, a.p, main.s);

  SUBCASE("no event: the side stream's copy sees one value or the other") {
    REQUIRE(cudaMemcpyAsync(b.p, a.p, 16, cudaMemcpyDeviceToDevice, side.s) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    CHECK(b.p[0] == (reverse() ? 1.f : 2.f));
  }
  SUBCASE("the side stream waits for an event: the same value in both orders") {
    Event written;
    REQUIRE(cudaEventRecord(written.e, main.s) == cudaSuccess);
    REQUIRE(cudaStreamWaitEvent(side.s, written.e, 0) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(b.p, a.p, 16, cudaMemcpyDeviceToDevice, side.s) == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(side.s) == cudaSuccess);
    CHECK(b.p[0] == 2.f);
  }
}

TEST_CASE("cuda emulation runtime: host memory is read as CUDA reads it") {
  Stream stream;
  RawDevice d(4);
  std::vector<float> pageable(4, 1.f), back(4, 0.f);
  // Pageable memory is staged when the copy is queued: changing it afterwards changes nothing.
  REQUIRE(cudaMemcpyAsync(d.p, pageable.data(), 16, cudaMemcpyHostToDevice, stream.s) ==
          cudaSuccess);
  pageable.assign(4, 2.f);
  // A copy into pageable memory returns once it is written.
  REQUIRE(cudaMemcpyAsync(back.data(), d.p, 16, cudaMemcpyDeviceToHost, stream.s) == cudaSuccess);
  CHECK(back[3] == 1.f);

  // Pinned memory is read and written when the copy runs.
  void* pinned_v = nullptr;
  REQUIRE(cudaMallocHost(&pinned_v, 16) == cudaSuccess);
  auto* pinned = static_cast<float*>(pinned_v);
  std::fill(pinned, pinned + 4, 3.f);
  REQUIRE(cudaMemcpyAsync(d.p, pinned, 16, cudaMemcpyHostToDevice, stream.s) == cudaSuccess);
  std::fill(pinned, pinned + 4, 4.f);
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);
  CHECK(d.p[0] == 4.f);
  gpu::fill(4, 5.f, d.p, stream.s);
  REQUIRE(cudaMemcpyAsync(pinned, d.p, 16, cudaMemcpyDeviceToHost, stream.s) == cudaSuccess);
  CHECK(pinned[0] == 4.f);  // not yet
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);
  CHECK(pinned[0] == 5.f);
  REQUIRE(cudaFreeHost(pinned) == cudaSuccess);
}

TEST_CASE("cuda emulation runtime: memory freed in stream order is garbage once the free runs") {
  Stream stream;
  void* v = nullptr;
  REQUIRE(cudaMallocAsync(&v, 16, stream.s) == cudaSuccess);
  auto* x = static_cast<float*>(v);
  gpu::fill(4, 1.f, x, stream.s);
  REQUIRE(cudaFreeAsync(x, stream.s) == cudaSuccess);
  // Invalid for new calls at once, though the free has not run.
  CHECK(cudaMemsetAsync(x, 0, 16, stream.s) == cudaErrorInvalidValue);
  cudaGetLastError();
  REQUIRE(cudaStreamSynchronize(stream.s) == cudaSuccess);
#if defined(__SANITIZE_ADDRESS__)
  CHECK(__asan_address_is_poisoned(x + 2));  // any later read is reported
#else
  uint32_t bits = 0;
  std::memcpy(&bits, x + 2, sizeof bits);
  CHECK(bits == 0xffffffffu);  // NaN for any work that still reads it
#endif
}

TEST_CASE("cuda emulation runtime: captured work runs at each graph launch, not at capture") {
  Stream stream;
  DeviceBuffer<float> x(8), y(8);
  std::vector<float> host(8, 1.f);
  REQUIRE(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  cudaStreamCaptureStatus status;
  REQUIRE(cudaStreamIsCapturing(stream.s, &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusActive);
  REQUIRE(cudaMemcpyAsync(x.data(), host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice,
                          stream.s) == cudaSuccess);
  gpu::axpy(8, 2.f, x.data(), y.data(), stream.s);  // y += 2 x
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream.s, &graph) == cudaSuccess);
  CHECK(y[0] == 0.f);  // nothing ran yet

  size_t nodes = 0;
  REQUIRE(cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess);
  REQUIRE(nodes == 2);
  std::vector<cudaGraphNode_t> handles(nodes);
  REQUIRE(cudaGraphGetNodes(graph, handles.data(), &nodes) == cudaSuccess);
  cudaGraphNodeType type;
  REQUIRE(cudaGraphNodeGetType(handles[1], &type) == cudaSuccess);
  CHECK(type == cudaGraphNodeTypeKernel);

  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch) ==
          cudaSuccess);
  host.assign(8, 3.f);  // a copy node reads the host memory when it runs
  REQUIRE(cudaGraphLaunch(exec, stream.s) == cudaSuccess);
  CHECK(y[7] == 6.f);
  REQUIRE(cudaGraphLaunch(exec, stream.s) == cudaSuccess);
  CHECK(y[7] == 12.f);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST_CASE("cuda emulation runtime: a second stream joins a capture through events") {
  Stream main, side;
  Event fork, join;
  DeviceBuffer<float> a(4), b(4);
  REQUIRE(cudaStreamBeginCapture(main.s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  REQUIRE(cudaEventRecord(fork.e, main.s) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(side.s, fork.e, 0) == cudaSuccess);
  gpu::fill(4, 5.f, b.data(), side.s);  // captured on the side stream
  gpu::fill(4, 7.f, a.data(), main.s);

  SUBCASE("joined back: one graph with the work of both") {
    REQUIRE(cudaEventRecord(join.e, side.s) == cudaSuccess);
    REQUIRE(cudaStreamWaitEvent(main.s, join.e, 0) == cudaSuccess);
    cudaGraph_t graph = nullptr;
    REQUIRE(cudaStreamEndCapture(main.s, &graph) == cudaSuccess);
    CHECK(b[0] == 0.f);  // nothing ran yet
    cudaGraphExec_t exec = nullptr;
    REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
    REQUIRE(cudaGraphLaunch(exec, main.s) == cudaSuccess);
    CHECK(a[3] == 7.f);
    CHECK(b[3] == 5.f);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
  SUBCASE("not joined back: the capture fails, as on a GPU") {
    cudaGraph_t graph = nullptr;
    CHECK(cudaStreamEndCapture(main.s, &graph) == cudaErrorStreamCaptureUnjoined);
    CHECK(graph == nullptr);
    cudaGetLastError();
  }
  cudaStreamCaptureStatus status;
  REQUIRE(cudaStreamIsCapturing(side.s, &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusNone);
}

TEST_CASE("cuda emulation runtime: misuse a GPU would punish is an error here too") {
  Stream stream;
  DeviceBuffer<float> d(4);
  std::vector<float> host(4);
  // Host memory where device memory is due, and copies past an allocation's end.
  CHECK(cudaMemcpyAsync(host.data(), host.data(), 16, cudaMemcpyDeviceToHost, stream.s) ==
        cudaErrorInvalidValue);
  CHECK(cudaMemcpyAsync(d.data(), host.data(), 20, cudaMemcpyHostToDevice, stream.s) ==
        cudaErrorInvalidValue);
  CHECK(cudaMemsetAsync(host.data(), 0, 16, stream.s) == cudaErrorInvalidValue);
  CHECK(cudaFree(host.data()) == cudaErrorInvalidValue);
  cudaGetLastError();

  // New device memory is not zeroed: it reads as NaN until written.
  void* fresh = nullptr;
  REQUIRE(cudaMallocAsync(&fresh, 8, stream.s) == cudaSuccess);
  float first;
  std::memcpy(&first, fresh, sizeof first);
  CHECK(std::isnan(first));
  REQUIRE(cudaFreeAsync(fresh, stream.s) == cudaSuccess);

  // A synchronization inside a capture invalidates it.
  REQUIRE(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(cudaStreamSynchronize(stream.s) == cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(stream.s, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  CHECK(cudaGetLastError() == cudaErrorStreamCaptureInvalidated);
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("cuda emulation runtime: a graph's lanes run by the same rule as streams") {
  Stream main, side;
  Event fork, join;
  RawDevice a(4), b(4);
  gpu::fill(4, 1.f, a.p, main.s);
  REQUIRE(cudaStreamSynchronize(main.s) == cudaSuccess);
  REQUIRE(cudaStreamBeginCapture(main.s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  REQUIRE(cudaEventRecord(fork.e, main.s) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(side.s, fork.e, 0) == cudaSuccess);
  // Unordered with each other: the side lane reads what the main lane writes.
  REQUIRE(cudaMemcpyAsync(b.p, a.p, 16, cudaMemcpyDeviceToDevice, side.s) == cudaSuccess);
  gpu::fill(4, 2.f, a.p, main.s);
  REQUIRE(cudaEventRecord(join.e, side.s) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(main.s, join.e, 0) == cudaSuccess);
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(main.s, &graph) == cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  REQUIRE(cudaGraphLaunch(exec, main.s) == cudaSuccess);
  cudaGraphExecDestroy(exec);  // the queued launch keeps what it runs
  cudaGraphDestroy(graph);
  CHECK(std::isnan(b.p[0]));  // not run yet
  REQUIRE(cudaStreamSynchronize(main.s) == cudaSuccess);
  CHECK(a.p[0] == 2.f);
  CHECK(b.p[0] == (reverse() ? 1.f : 2.f));
}

TEST_CASE("cuda emulation runtime: a captured stream may not wait for work outside the capture") {
  Stream stream, other;
  Event outside;
  RawDevice d(4);
  gpu::fill(4, 1.f, d.p, other.s);
  REQUIRE(cudaEventRecord(outside.e, other.s) == cudaSuccess);
  REQUIRE(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(cudaStreamWaitEvent(stream.s, outside.e, 0) == cudaErrorStreamCaptureIsolation);
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(stream.s, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  cudaGetLastError();
}
