// The refinery's core promise, end to end through the real pieces (loader with soft targets,
// predict_probabilities with its per-index rows, the trainer): a student trained on a teacher's
// soft labels learns to agree with the teacher's argmax on the training images. The control
// pairs the same labels with the wrong images (rows permuted) and must fall to chance, which
// proves the measurement would catch a labels-to-images mix-up anywhere in that path.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "models/factory.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;

namespace {

constexpr int kClasses = 10;

// Class c lights a 2x2 patch at one of ten places of an 8x8 RGB image over noise, with the
// patch's colour varying per image: learnable, but not in one step.
data::Dataset patch_dataset(int n, uint32_t seed) {
  data::Dataset d;
  d.name = "patches";
  d.height = d.width = 8;
  d.channels = 3;
  for (int c = 0; c < kClasses; ++c) d.classes.push_back(std::string(1, char('a' + c)));
  d.labels.resize(size_t(n));
  d.images.resize(size_t(n) * d.sample_bytes());
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    const int label = int(rng() % kClasses);
    d.labels[size_t(i)] = label;
    uint8_t* img = d.image(size_t(i));
    for (size_t p = 0; p < d.sample_bytes(); ++p) img[p] = uint8_t(rng() % 96);
    const int y0 = (label / 5) * 4 + 1, x0 = (label % 5) + 1;
    const int channel = int(rng() % 3);
    for (int y = y0; y < y0 + 2; ++y)
      for (int x = x0; x < x0 + 2; ++x) img[(y * 8 + x) * 3 + channel] = 255;
  }
  return d;
}

data::LoaderOptions options(bool shuffle, uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = 32;
  o.shuffle = shuffle;
  o.seed = seed;
  o.workers = 0;
  return o;
}

void train(models::Model& m, const data::Dataset& d, const data::SoftLabels* targets, int epochs) {
  data::Loader loader(d, options(true, 11), targets);
  TrainConfig c;
  c.epochs = epochs;
  c.optimizer.kind = OptimizerConfig::Kind::Adam;
  c.schedule.lr = 3e-3;
  c.print_progress = false;
  Trainer(m, c, int64_t(loader.batches_per_epoch())).fit(loader, nullptr);
}

// Labels of every training image by `m`, read through a shuffled loader (rows by index).
data::SoftLabels labels_of(models::Model& m, const data::Dataset& d) {
  data::Loader loader(d, options(true, 99));
  return predict_probabilities(m, loader, d.size());
}

double argmax_agreement(const data::SoftLabels& a, const data::SoftLabels& b) {
  size_t same = 0;
  for (size_t r = 0; r < a.rows; ++r)
    same += argmax(a.row(r).data(), a.classes) == argmax(b.row(r).data(), b.classes);
  return double(same) / double(a.rows);
}

// Agreement of a student with its teacher on the training images; `mispair` permutes the
// teacher's label rows before the student sees them.
double student_teacher_agreement(bool mispair) {
  const data::Dataset d = patch_dataset(640, 5);
  auto teacher = models::make_model("resnet8", {.classes = kClasses, .seed = 1});
  train(*teacher, d, nullptr, 3);
  const data::SoftLabels taught = labels_of(*teacher, d);
  data::SoftLabels given = taught;
  if (mispair) {
    std::vector<size_t> perm(d.size());
    std::iota(perm.begin(), perm.end(), size_t(0));
    std::shuffle(perm.begin(), perm.end(), std::mt19937(3));
    for (size_t r = 0; r < d.size(); ++r)
      std::copy_n(taught.row(perm[r]).data(), kClasses, given.values.data() + r * kClasses);
  }
  auto student = models::make_model("resnet8", {.classes = kClasses, .seed = 2});
  train(*student, d, &given, 3);
  return argmax_agreement(labels_of(*student, d), taught);
}

}  // namespace

TEST_CASE("a student trained on a teacher's soft labels agrees with the teacher") {
  const double paired = student_teacher_agreement(false);
  const double mispaired = student_teacher_agreement(true);
  MESSAGE("student-teacher argmax agreement: paired " << paired << ", labels on the wrong images "
                                                     << mispaired << " (chance 0.1)");
  CHECK(paired >= 0.7);
  CHECK(mispaired <= 0.3);
}
