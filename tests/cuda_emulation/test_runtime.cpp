// The emulated CUDA runtime (runtime.cpp): stream capture and graphs, the joining of a second
// stream, and the misuse it reports instead of letting it pass, as a GPU would not.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

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

}  // namespace

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
