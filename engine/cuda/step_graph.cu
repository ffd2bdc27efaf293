#include "engine/cuda/step_graph.h"

#include <cstdint>
#include <vector>

#include "engine/check.h"
#include "engine/cuda/device_scratch.h"
#include "kernels/cuda/check.cuh"

namespace rf {
namespace {

class CudaStepGraph final : public StepGraph {
 public:
  CudaStepGraph(cudaGraphExec_t exec, cudaStream_t stream, uint64_t moves, int64_t kernels)
      : exec_(exec), stream_(stream), moves_(moves), kernels_(kernels) {}
  // A launch may still be running (a stale graph is dropped right after its last replay).
  ~CudaStepGraph() override {
    cudaStreamSynchronize(stream_);  // errors at exit are moot
    cudaGraphExecDestroy(exec_);
  }
  CudaStepGraph(const CudaStepGraph&) = delete;
  CudaStepGraph& operator=(const CudaStepGraph&) = delete;

  void launch() override {
    RF_CHECK(!stale(), "a step graph was launched after a scratch buffer it uses moved");
    RF_CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
  }
  bool stale() const override { return scratch_moves() != moves_; }
  int64_t kernels() const override { return kernels_; }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
  uint64_t moves_;
  int64_t kernels_;
};

// The kernel nodes of a captured graph (the others are copies, memsets, memory and event nodes).
int64_t count_kernels(cudaGraph_t graph) {
  size_t n = 0;
  RF_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  RF_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &n));
  int64_t kernels = 0;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type;
    RF_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    kernels += type == cudaGraphNodeTypeKernel;
  }
  return kernels;
}

}  // namespace

std::unique_ptr<StepGraph> record_cuda_graph(cudaStream_t stream, const std::function<void()>& work) {
  const uint64_t moves = scratch_moves();
  // Thread-local mode: a forbidden call (a synchronization, a host copy) made by this thread
  // while recording fails at once; the loader's threads, which allocate page-locked buffers,
  // are not affected.
  RF_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    work();
  } catch (...) {
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream, &partial);  // leaves capture mode; the first error is thrown
    if (partial != nullptr) cudaGraphDestroy(partial);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  RF_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  if (scratch_moves() != moves) {
    cudaGraphDestroy(graph);
    RF_CHECK(false, "a scratch buffer grew while a step graph was recorded: run the step once "
                    "before recording it");
  }
  int64_t kernels = 0;
  try {
    kernels = count_kernels(graph);
  } catch (...) {
    cudaGraphDestroy(graph);
    throw;
  }
  // Memory the graph allocates is freed by the graph itself (the work frees what it allocates);
  // auto-free only guards a relaunch should an allocation escape.
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  cudaGraphDestroy(graph);
  RF_CUDA_CHECK(e);
  return std::make_unique<CudaStepGraph>(exec, stream, moves, kernels);
}

}  // namespace rf
