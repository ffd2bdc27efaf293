#pragma once
// A stand-in for Backend::record on the CPU: its "graph" calls the recorded work again on launch,
// what a replayed CUDA graph does on the device. Suites that check RecordedStep's use without a
// GPU record through it; the real graphs are checked on a GPU (test_gpu_step_graph).
#include <functional>
#include <memory>

#include "train/recorded_step.h"

namespace rf::test {

struct StandInGraph final : StepGraph {
  std::function<void()> work;
  const bool* stale_flag = nullptr;
  int* launches = nullptr;
  void launch() override {
    ++*launches;
    work();
  }
  bool stale() const override { return *stale_flag; }
  int64_t kernels() const override { return 0; }  // it records no device work
};

// Counts what a RecordedStep asked of it; stale() of its graphs follows `stale`.
struct StandInRecorder {
  int recordings = 0, launches = 0;
  bool stale = false;
  train::RecordedStep::Recorder recorder() {
    return [this](const std::function<void()>& work) -> std::unique_ptr<StepGraph> {
      ++recordings;
      auto g = std::make_unique<StandInGraph>();
      g->work = work;
      g->stale_flag = &stale;
      g->launches = &launches;
      return g;
    };
  }
};

}  // namespace rf::test
