// RecordedStep's order of events, on the CPU with a stand-in for Backend::record whose "graph"
// calls the recorded work again on launch (stand_in_graph.h): the first step at a shape runs
// eagerly, the second is recorded (without running) and launched, later ones are launched; a batch
// of another shape runs eagerly on its own tensors; a stale graph is dropped, its shape warmed up
// again and recorded anew. The real graphs are checked on a GPU by test_gpu_step_graph. Also: the
// trainer refuses CUDA graphs on the CPU backend.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/check.h"
#include "models/factory.h"
#include "stand_in_graph.h"
#include "train/recorded_step.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;

namespace {

struct Log : test::StandInRecorder {
  std::vector<std::string> events;
  std::vector<float> first_pixel;  // what the work saw
};

}  // namespace

TEST_CASE("recorded step: eager warm-up, record, replay; other shapes eager; stale graphs recorded again") {
  Log log;
  const Tensor* static_images = nullptr;
  RecordedStep step(
      [&](const std::function<void()>& work) {
        log.events.push_back("record");
        return log.recorder()(work);
      },
      [&](const Tensor& images, const Tensor& targets) {
        log.events.push_back("work " + std::to_string(images.dim(0)));
        log.first_pixel.push_back(images.to_host()[0] + targets.to_host()[0]);
        static_images = &images;
      });
  const auto batch = [](int n, float value) {
    return std::make_pair(Tensor::full({n, 2, 2, 1}, value), Tensor::full({n, 3}, 0.f));
  };

  auto [i1, t1] = batch(4, 1.f);
  step.run(i1, t1);
  CHECK(log.events == std::vector<std::string>{"work 4"});
  CHECK(static_images != &i1);  // the step's own buffer, filled with the batch
  auto [i2, t2] = batch(4, 2.f);
  step.run(i2, t2);
  auto [i3, t3] = batch(4, 3.f);
  step.run(i3, t3);
  CHECK(log.events == std::vector<std::string>{"work 4", "record", "work 4", "work 4"});
  CHECK(log.recordings == 1);
  CHECK(log.launches == 2);
  CHECK(log.first_pixel == std::vector<float>{1.f, 2.f, 3.f});  // each replay saw its own batch

  auto [s, ts] = batch(3, 9.f);  // an epoch's short last batch
  step.run(s, ts);
  CHECK(static_images == &s);
  CHECK(log.launches == 2);

  log.stale = true;  // a scratch buffer moved
  auto [i4, t4] = batch(4, 4.f);
  step.run(i4, t4);
  CHECK(log.launches == 2);  // warm-up again, eagerly
  log.stale = false;
  auto [i5, t5] = batch(4, 5.f);
  step.run(i5, t5);
  CHECK(log.recordings == 2);
  CHECK(log.launches == 3);
  CHECK(log.first_pixel == std::vector<float>{1.f, 2.f, 3.f, 9.f, 4.f, 5.f});
}

TEST_CASE("the trainer refuses CUDA graphs for a model on the CPU") {
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 1});
  TrainConfig c;
  c.epochs = 1;
  c.print_progress = false;
  c.cuda_graphs = true;
  CHECK_THROWS_WITH_AS(Trainer(*model, c, 3), doctest::Contains("CUDA graphs need the CUDA backend"), Error);
}
