// The host emulation of CUDA itself (emulator.cpp): the kernels below are CUDA, compiled against
// the stand-in cuda_runtime.h and launched as kernels/cuda launches its own. Each case would
// fail if the emulator skipped the synchronization it claims (a barrier that did not wait, a
// shuffle that read a stale value) or missed the misuse it claims to report.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "error_of.h"
#include "kernels/cuda/launch.cuh"

using rf::gpu::launch;
using rf::test::error_of;

namespace {

// Tree sum over a block through shared memory: without a real barrier, thread 0 would add
// partners that have not written yet.
__global__ void block_sum_kernel(const int* in, int* out) {
  __shared__ int part[256];
  part[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

// Lanes are numbered over the linear thread index (x fastest), as on the GPU.
__global__ void shuffle_kernel(int* butterfly, int* down, int* half_xor) {
  const unsigned t = threadIdx.x + threadIdx.y * blockDim.x;
  const int lane = int(t % 32);
  int v = lane * lane;
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  butterfly[t] = v;
  down[t] = __shfl_down_sync(0xffffffffu, lane, 3);
  half_xor[t] = __shfl_xor_sync(0xffffffffu, lane, 8, 16);
}

__global__ void coordinates_kernel(int* seen) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned y = blockIdx.y * blockDim.y + threadIdx.y;
  const unsigned z = blockIdx.z * blockDim.z + threadIdx.z;
  const unsigned width = gridDim.x * blockDim.x, height = gridDim.y * blockDim.y;
  atomicAdd(seen + (z * height + y) * width + x, 1);
}

// Half the block returns at once; the rest still meet at their barriers.
__global__ void early_exit_kernel(int* out) {
  __shared__ int part[256];
  if (threadIdx.x >= 128) return;
  part[threadIdx.x] = int(threadIdx.x);
  __syncthreads();
  if (threadIdx.x == 0) {
    int s = 0;
    for (int i = 0; i < 128; ++i) s += part[i];
    *out = s;
  }
}

// Lanes 0-15 wait in a full-warp shuffle for lanes 16-31, which wait at __syncthreads for them.
__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x % 32 < 16)
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
  else
    __syncthreads();
}

__global__ void exited_lane_kernel(int* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
}

// Block 0 writes shared memory; every block then reads it back.
__global__ void stale_shared_kernel(int* out) {
  __shared__ int cell;
  if (blockIdx.x == 0) cell = 42;
  __syncthreads();
  out[blockIdx.x] = cell;
}

__global__ void noop_kernel() {}

// Launches and waits: the emulator's errors come from the wait, as a GPU's would.
template <class... Params, class... Args>
void run_now(void (*kernel)(Params...), dim3 grid, dim3 block, Args... args) {
  launch(kernel, grid, block, nullptr)(args...);
  cudaDeviceSynchronize();
}

}  // namespace

TEST_CASE("cuda emulation: __syncthreads orders shared memory within each block") {
  const int blocks = 3, threads = 256;
  std::vector<int> in(blocks * threads), out(blocks, -1);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i % 97);
  launch(block_sum_kernel, blocks, threads, nullptr)(in.data(), out.data());
  cudaDeviceSynchronize();  // queued work runs when the host waits
  for (int b = 0; b < blocks; ++b) {
    int want = 0;
    for (int t = 0; t < threads; ++t) want += in[size_t(b * threads + t)];
    CHECK(out[size_t(b)] == want);
  }
}

TEST_CASE("cuda emulation: warp shuffles exchange values between the lanes of each warp") {
  const int n = 64;  // two warps of a 16 x 4 block
  std::vector<int> butterfly(n), down(n), half_xor(n);
  launch(shuffle_kernel, 1, dim3(16, 4), nullptr)(butterfly.data(), down.data(), half_xor.data());
  cudaDeviceSynchronize();
  for (int t = 0; t < n; ++t) {
    const int lane = t % 32;
    CAPTURE(t);
    CHECK(butterfly[size_t(t)] == 10416);  // sum of lane^2 over 32 lanes
    CHECK(down[size_t(t)] == (lane + 3 < 32 ? lane + 3 : lane));
    CHECK(half_xor[size_t(t)] == (lane ^ 8));
  }
}

TEST_CASE("cuda emulation: every thread of a 3-D grid of 3-D blocks runs once") {
  const dim3 grid(3, 2, 2), block(4, 8, 2);
  std::vector<int> seen(size_t(12 * 16 * 4), 0);
  launch(coordinates_kernel, grid, block, nullptr)(seen.data());
  cudaDeviceSynchronize();
  for (int v : seen) REQUIRE(v == 1);
}

TEST_CASE("cuda emulation: threads that have exited do not hold back __syncthreads") {
  int out = -1;
  launch(early_exit_kernel, 1, 256, nullptr)(&out);
  cudaDeviceSynchronize();
  CHECK(out == 127 * 128 / 2);
}

TEST_CASE("cuda emulation: shared memory a block did not write holds garbage, not another's data") {
  std::vector<int> out(2);
  launch(stale_shared_kernel, 2, 32, nullptr)(out.data());
  cudaDeviceSynchronize();
  CHECK(out[0] == 42);
  CHECK(out[1] == -1);  // 0xff bytes
}

TEST_CASE("cuda emulation: misuse that is undefined on a GPU is an error naming the thread") {
  std::vector<int> out(64);
  const std::string deadlock =
      error_of([&] { run_now(deadlock_kernel, 2, 64, out.data()); });
  CHECK(deadlock.find("deadlock in block (") != std::string::npos);
  CHECK(deadlock.find("thread (16,0,0)") != std::string::npos);

  const std::string exited =
      error_of([&] { run_now(exited_lane_kernel, 1, 32, out.data()); });
  CHECK(exited.find("exited") != std::string::npos);
  CHECK(exited.find("block (0,0,0) thread (") != std::string::npos);

  // A shuffle over a warp the block has only part of.
  const std::string partial =
      error_of([&] { run_now(shuffle_kernel, 1, 20, out.data(), out.data(), out.data()); });
  CHECK(partial.find("lanes the block does not have") != std::string::npos);
}

TEST_CASE("cuda emulation: a bad launch configuration throws from the launch, naming its caller") {
  const std::string e = error_of([] { launch(noop_kernel, 1, 2048, nullptr)(); });
  CHECK(e.find("test_emulator.cpp:") != std::string::npos);
  CHECK(e.find("kernel launch failed: cudaErrorInvalidConfiguration") != std::string::npos);
  CHECK(error_of([] { launch(noop_kernel, dim3(1, 70000), 32, nullptr)(); }) != "");
  CHECK(error_of([] { launch(noop_kernel, 1, 32, nullptr)(); }) == "");  // the error was reset
}
