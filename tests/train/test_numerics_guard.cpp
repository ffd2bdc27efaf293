// What a run that cannot go on says: a non-finite loss stops training with the epoch and batch
// and leaves the last completed epoch's checkpoint as it was; a GPU out-of-memory error comes
// out with the memory asked for and the batch size. Both are provoked on the CPU through the
// trainer's target provider, which runs inside each training step.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "synthetic.h"
#include "train/out_of_memory.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("rf_test_numerics_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("a NaN loss in epoch 2 stops training, names epoch and batch, and keeps epoch 1's checkpoint") {
  Scratch scratch;
  const data::Dataset set = test::synthetic_dataset(48, 0);
  data::Loader loader(set, test::loader_options(true));
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 3});
  TrainConfig c;
  c.epochs = 3;
  c.print_progress = false;
  c.checkpoint_file = scratch.dir / "checkpoint.safetensors";
  c.log_file = scratch.dir / "log.jsonl";
  Trainer t(*model, c, int64_t(loader.batches_per_epoch()));
  // Targets are the batch's own, except NaN for the second batch of the second epoch (the
  // provider is called once per step, in order, when steps run eagerly).
  const size_t per_epoch = loader.batches_per_epoch();
  size_t calls = 0;
  t.set_target_provider([&](const Tensor&, const Tensor& batch_targets) {
    const bool poison = calls++ == per_epoch + 1;
    return poison ? Tensor::full(batch_targets.shape(), std::nanf(""), batch_targets.device()) : batch_targets;
  });
  // Epoch 1's checkpoint is still being written while epoch 2 trains: it holds the weights as
  // epoch 1 left them.
  std::vector<std::pair<std::string, std::vector<float>>> after_epoch_1;
  t.on_epoch([&](const EpochStats& s) {
    if (s.epoch == 0)
      for (const auto& [name, v] : model->state()) after_epoch_1.emplace_back(name, v.to_host());
  });
  CHECK_THROWS_WITH_AS(t.fit(loader, nullptr),
                       doctest::Contains("training loss is nan at epoch 2, batch 2"), Error);
  REQUIRE(!after_epoch_1.empty());
  const SafetensorsFile kept = SafetensorsFile::read(c.checkpoint_file);
  CHECK(kept.meta("epochs_done") == "1");
  for (const auto& [name, v] : after_epoch_1) {
    CAPTURE(name);
    CHECK(kept.tensor(name).to_host() == v);
  }
  CHECK(t.next_epoch() == 1);  // the failed epoch is not in the history

  // The kept checkpoint is whole: a fresh trainer resumes from it after epoch 1.
  auto again = models::make_model("resnet8", {.classes = 3, .seed = 99});
  Trainer u(*again, c, int64_t(loader.batches_per_epoch()));
  u.resume(c.checkpoint_file);
  CHECK(u.next_epoch() == 1);
  CHECK(u.history().size() == 1);
}

TEST_CASE("a GPU out-of-memory error in a step says how much memory was asked at which batch size") {
  const data::Dataset set = test::synthetic_dataset(48, 0);
  data::Loader loader(set, test::loader_options(true));  // batches of 16
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 3});
  TrainConfig c;
  c.epochs = 1;
  c.print_progress = false;
  Trainer t(*model, c, int64_t(loader.batches_per_epoch()));
  // What the CUDA backend's allocate throws when cudaMallocAsync reports cudaErrorMemoryAllocation.
  const std::size_t asked = std::size_t(3) << 30;
  t.set_target_provider([&](const Tensor&, const Tensor&) -> Tensor {
    throw OutOfMemory(asked, "CUDA allocation of 3221225472 bytes failed: cudaErrorMemoryAllocation: out of memory");
  });
  try {
    t.fit(loader, nullptr);
    FAIL("fit() returned");
  } catch (const OutOfMemory& e) {
    CHECK(e.bytes == asked);
    CHECK(std::string(e.what()) ==
          "GPU out of memory: asked for 3072.0 MiB at batch size 16; try --batch-size 8 "
          "(CUDA allocation of 3221225472 bytes failed: cudaErrorMemoryAllocation: out of memory)");
  }
  // At batch size 1 there is no smaller batch to suggest.
  const OutOfMemory one = explain_out_of_memory(OutOfMemory(1536 * 1024, "x"), 1);
  CHECK(std::string(one.what()) == "GPU out of memory: asked for 1.5 MiB at batch size 1; try a smaller model (x)");
}
