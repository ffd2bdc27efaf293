// The host emulation of CUDA's execution model behind tests/cuda_emulation/include/cuda_runtime.h.
//
// Design. A block's threads are fibers (own stacks, switch_context below) on the calling host
// thread, resumed in
// round-robin by a scheduler; a fiber gives the host thread back only at a barrier (__syncthreads,
// a warp shuffle) or when it exits. So between barriers each thread runs alone, as if the others
// had not started yet or had already finished: any kernel correct on the GPU is correct here, and
// a kernel that relies on an order the GPU does not promise between barriers may fail either way.
// A shuffle is one warp barrier: each lane deposits its value on arrival, the last arrival copies
// the deposits, and every lane reads its source lane's value from that copy when it resumes.
// Blocks run one after another (no kernel of ours waits on another block).
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define RF_EMULATION_ASAN 1
#endif

// The bounds of the shared memory section (see __shared__ in cuda_runtime.h), from the linker.
extern "C" {
__attribute__((weak)) extern char __start_rf_emulated_shared[];
__attribute__((weak)) extern char __stop_rf_emulated_shared[];
}

// switch_context(&save, to): saves the caller's callee-saved registers on its stack and that
// stack's pointer in *save, then resumes the context whose stack pointer is `to`. swapcontext
// would also save and restore the signal mask, two system calls per switch, which made them most
// of the emulation's time; kernels change neither the signal mask nor the floating-point control
// registers, so the System V callee-saved registers are all there is to keep.
#if !defined(__x86_64__)
#error "the CUDA emulation's context switch is written for x86-64"
#endif
extern "C" void rf_emulation_switch_context(void** save, void* to);
asm(R"(
  .text
  .globl rf_emulation_switch_context
  .type rf_emulation_switch_context, @function
rf_emulation_switch_context:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size rf_emulation_switch_context, .-rf_emulation_switch_context
)");
static void switch_context(void** save, void* to) { rf_emulation_switch_context(save, to); }

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace rf::cuda_emulation {
namespace {

// A kernel's frames are small (AddressSanitizer's several times larger, still far below this).
constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kGuardBytes = 4096;

struct Fiber {
  void* sp = nullptr;  // saved stack pointer while the fiber is not running
  char* stack = nullptr;
  uint3 thread{};
  bool done = false;
};

struct Warp {
  unsigned exists = 0;     // lanes the block has
  unsigned exited = 0;     // lanes that returned
  unsigned arrived = 0;    // lanes waiting in the current exchange
  unsigned mask = 0;       // the mask they named
  std::uint64_t generation = 0;
  std::uint64_t deposit[32] = {};
  std::uint64_t released[32] = {};
};

struct Block {
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  int live = 0;
  int sync_arrived = 0;
  std::uint64_t sync_generation = 0;
  std::uint64_t progress = 0;  // barrier releases and exits: what a deadlock lacks
  std::string error;
  const std::function<void()>* thread = nullptr;
  int current = -1;
  void* scheduler_sp = nullptr;
#ifdef RF_EMULATION_ASAN
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_bytes = 0;
#endif
};

thread_local Block* g_block = nullptr;
// A fiber's stack, with an inaccessible page below it: an overflow faults instead of writing
// over whatever lies there.
class Stack {
 public:
  Stack() {
    void* p = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cuda emulation: cannot map a thread's stack");
    base_ = static_cast<char*>(p);
    mprotect(base_, kGuardBytes, PROT_NONE);
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack() { munmap(base_, kGuardBytes + kStackBytes); }
  char* bottom() const { return base_ + kGuardBytes; }

 private:
  char* base_;
};

thread_local std::vector<std::unique_ptr<Stack>> g_stacks;  // reused from launch to launch

char* stack_for(size_t i) {
  while (g_stacks.size() <= i) g_stacks.push_back(std::make_unique<Stack>());
  return g_stacks[i]->bottom();
}

std::string coordinates(const char* what, uint3 v) {
  char text[80];
  std::snprintf(text, sizeof text, "%s (%u,%u,%u)", what, v.x, v.y, v.z);
  return text;
}

std::string where(const Block& b, int fiber) {
  return coordinates("block", blockIdx) + " " +
         coordinates("thread", b.fibers[size_t(fiber)].thread);
}

// Fiber side: hands the host thread back to the scheduler.
void to_scheduler(Block& b, Fiber& f, bool final) {
#ifdef RF_EMULATION_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(final ? nullptr : &fake_stack, b.scheduler_stack,
                                 b.scheduler_stack_bytes);
  switch_context(&f.sp, b.scheduler_sp);
  __sanitizer_finish_switch_fiber(fake_stack, &b.scheduler_stack, &b.scheduler_stack_bytes);
#else
  (void)final;
  switch_context(&f.sp, b.scheduler_sp);
#endif
}

Fiber& running(Block& b) { return b.fibers[size_t(b.current)]; }

// An error found inside a kernel: recorded for the scheduler, and this fiber never runs again
// (so nothing on its stack may own memory: `what` is a plain string).
[[noreturn]] void fail(Block& b, const char* what) {
  b.error = where(b, b.current) + ": " + what;
  to_scheduler(b, running(b), true);
  std::abort();  // never resumed
}

void wait_for(Block& b, const std::uint64_t& generation, std::uint64_t seen) {
  while (generation == seen) to_scheduler(b, running(b), false);
}

void thread_entry() {
  Block& b = *g_block;
#ifdef RF_EMULATION_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_bytes);
#endif
  (*b.thread)();
  Fiber& f = running(b);
  f.done = true;
  --b.live;
  ++b.progress;
  const uint3 t = f.thread;
  const int linear = int(t.x + t.y * blockDim.x + t.z * blockDim.x * blockDim.y);
  Warp& w = b.warps[size_t(linear / 32)];
  const unsigned bit = 1u << (linear % 32);
  w.exited |= bit;
  if (w.arrived != 0 && (w.mask & bit) != 0)
    fail(b, "exited while lanes of its warp wait in a shuffle whose mask names it");
  // Exited threads no longer hold a __syncthreads back (as on Volta and later).
  if (b.sync_arrived > 0 && b.sync_arrived == b.live) {
    b.sync_arrived = 0;
    ++b.sync_generation;
  }
  to_scheduler(b, f, true);
}

void resume(Block& b, int i) {
  Fiber& f = b.fibers[size_t(i)];
  b.current = i;
  threadIdx = f.thread;
#ifdef RF_EMULATION_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, f.stack, kStackBytes);
  switch_context(&b.scheduler_sp, f.sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  switch_context(&b.scheduler_sp, f.sp);
#endif
}

// A fresh fiber's stack holds what switch_context pops: six zeroed registers, then thread_entry
// as the return address, placed so that thread_entry starts with the stack alignment of a call.
void prepare(Fiber& f) {
  f.done = false;
#ifdef RF_EMULATION_ASAN
  // The frames a fiber left when it last switched away for good stay poisoned: clear them, or
  // the next thread's frames there would be reported.
  ASAN_UNPOISON_MEMORY_REGION(f.stack, kStackBytes);
#endif
  auto* top = reinterpret_cast<void**>(f.stack + kStackBytes);  // 16-byte aligned
  void** sp = top - 8;
  for (int i = 0; i < 6; ++i) sp[i] = nullptr;
  sp[6] = reinterpret_cast<void*>(&thread_entry);
  sp[7] = nullptr;  // thread_entry's return address: it never returns
  f.sp = sp;
}

void run_block(Block& b) {
  if (__start_rf_emulated_shared != nullptr)
    std::memset(__start_rf_emulated_shared, 0xff,
                size_t(__stop_rf_emulated_shared - __start_rf_emulated_shared));
  b.live = int(b.fibers.size());
  b.sync_arrived = 0;
  for (Warp& w : b.warps) w.exited = w.arrived = w.mask = 0;
  for (Fiber& f : b.fibers) prepare(f);
  while (b.live > 0) {
    const std::uint64_t before = b.progress;
    const int n = int(b.fibers.size());
    for (int k = 0; k < n; ++k) {
      const int i = reverse_order() ? n - 1 - k : k;
      if (b.fibers[size_t(i)].done) continue;
      resume(b, i);
      if (!b.error.empty()) throw std::runtime_error("cuda emulation: " + b.error);
    }
    if (b.live > 0 && b.progress == before) {
      std::string waiting;
      for (const Fiber& f : b.fibers)
        if (!f.done && waiting.size() < 300) (waiting += ' ') += coordinates("thread", f.thread);
      throw std::runtime_error("cuda emulation: deadlock in " + coordinates("block", blockIdx) +
                               ": " + std::to_string(b.live) +
                               " threads wait at barriers that cannot complete:" + waiting);
    }
  }
}

}  // namespace

// RF_CUDA_EMULATION_ORDER=reverse runs blocks, and the threads of a block between barriers, last
// to first, and prefers the streams created last where several have work ready (runtime.cpp). A
// kernel whose result depends on the order of its threads or blocks (a missing __syncthreads, a
// block reading another block's output), or work whose result depends on which of two unordered
// streams runs first, then gives a different result than in the default order.
bool reverse_order() {
  static const bool reverse = [] {
    const char* order = std::getenv("RF_CUDA_EMULATION_ORDER");
    if (order == nullptr || std::string(order) == "forward") return false;
    if (std::string(order) == "reverse") return true;
    std::fprintf(stderr, "RF_CUDA_EMULATION_ORDER must be forward or reverse, not '%s'\n", order);
    std::exit(2);
  }();
  return reverse;
}

bool valid_configuration(dim3 grid, dim3 block) {
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  return threads >= 1 && threads <= 1024 && block.x <= 1024 && block.y <= 1024 && block.z <= 64 &&
         grid.x >= 1 && grid.x <= 0x7fffffffu && grid.y >= 1 && grid.y <= 65535 && grid.z >= 1 &&
         grid.z <= 65535;
}

void run(dim3 grid, dim3 block, const std::function<void()>& thread) {
  if (g_block != nullptr) throw std::logic_error("cuda emulation: a kernel launched another");
  static std::mutex one_block_at_a_time;  // the shared memory section is the process's
  const std::lock_guard<std::mutex> lock(one_block_at_a_time);
  if (!valid_configuration(grid, block))
    throw std::logic_error("cuda emulation: run() with an invalid configuration");
  Block b;
  b.thread = &thread;
  const int threads = int(block.x * block.y * block.z);
  b.fibers.resize(size_t(threads));
  b.warps.resize(size_t((threads + 31) / 32));
  for (int i = 0; i < threads; ++i) {
    Fiber& f = b.fibers[size_t(i)];
    f.stack = stack_for(size_t(i));
    f.thread = {unsigned(i) % block.x, unsigned(i) / block.x % block.y,
                unsigned(i) / (block.x * block.y)};
    b.warps[size_t(i / 32)].exists |= 1u << (i % 32);
  }
  blockDim = block;
  gridDim = grid;
  g_block = &b;
  struct Reset {
    ~Reset() { g_block = nullptr; }
  } reset;
  const std::uint64_t blocks = std::uint64_t(grid.x) * grid.y * grid.z;
  for (std::uint64_t k = 0; k < blocks; ++k) {
    const std::uint64_t i = reverse_order() ? blocks - 1 - k : k;
    blockIdx = {unsigned(i % grid.x), unsigned(i / grid.x % grid.y),
                unsigned(i / (std::uint64_t(grid.x) * grid.y))};
    run_block(b);
  }
}

int lane_id() {
  const uint3 t = threadIdx;
  return int(t.x + t.y * blockDim.x + t.z * blockDim.x * blockDim.y) % 32;
}

std::uint64_t exchange(unsigned mask, std::uint64_t bits, int src_lane) {
  Block& b = *g_block;
  const uint3 t = threadIdx;
  const int linear = int(t.x + t.y * blockDim.x + t.z * blockDim.x * blockDim.y);
  const int lane = linear % 32;
  Warp& w = b.warps[size_t(linear / 32)];
  const unsigned bit = 1u << lane;
  if ((mask & bit) == 0) fail(b, "a shuffle whose mask does not name the calling lane");
  if ((mask & ~w.exists) != 0) fail(b, "a shuffle whose mask names lanes the block does not have");
  if ((mask & w.exited) != 0) fail(b, "a shuffle whose mask names a lane that has exited");
  if (w.arrived != 0 && w.mask != mask)
    fail(b, "shuffles with different masks at once in one warp");
  if (((mask >> src_lane) & 1u) == 0) fail(b, "a shuffle reading a lane outside its mask");
  w.mask = mask;
  w.arrived |= bit;
  w.deposit[lane] = bits;
  const std::uint64_t seen = w.generation;
  if ((w.arrived & mask) == mask) {
    std::memcpy(w.released, w.deposit, sizeof w.released);
    w.arrived = 0;
    ++w.generation;
    ++b.progress;
  } else {
    wait_for(b, w.generation, seen);
  }
  return w.released[src_lane];
}

}  // namespace rf::cuda_emulation

using rf::cuda_emulation::g_block;

void __syncthreads() {
  rf::cuda_emulation::Block& b = *g_block;
  const std::uint64_t seen = b.sync_generation;
  if (++b.sync_arrived == b.live) {
    b.sync_arrived = 0;
    ++b.sync_generation;
    ++b.progress;
  } else {
    rf::cuda_emulation::wait_for(b, b.sync_generation, seen);
  }
}
