// Evaluation metrics on hand-made examples; predicted probabilities are distributions placed at
// each sample's dataset position; recorded and replayed (a stand-in for CUDA graphs), evaluation
// and predictions are the eager pass's bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/check.h"
#include "models/factory.h"
#include "stand_in_graph.h"
#include "synthetic.h"
#include "train/evaluate.h"

using namespace rf;
using namespace rf::train;

TEST_CASE("confusion matrix, accuracy and per-class accuracy of a hand-made example") {
  ConfusionMatrix m(3);
  // truth, predicted
  const int pairs[][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 2}, {2, 0}};
  for (auto [t, p] : pairs) m.add(t, p);
  CHECK(m.total() == 8);
  CHECK(m.accuracy() == doctest::Approx(5.0 / 8));
  CHECK(m.at(0, 0) == 2);
  CHECK(m.at(0, 1) == 1);
  CHECK(m.at(1, 2) == 1);
  CHECK(m.at(2, 0) == 1);
  CHECK(m.at(1, 0) == 0);
  const std::vector<double> pc = m.per_class_accuracy();
  CHECK(pc[0] == doctest::Approx(2.0 / 3));
  CHECK(pc[1] == doctest::Approx(0.5));
  CHECK(pc[2] == doctest::Approx(2.0 / 3));
  CHECK_THROWS_AS(m.add(3, 0), Error);
  CHECK(argmax(std::vector<float>{0.1f, 0.7f, 0.7f, 0.2f}.data(), 4) == 1);
}

TEST_CASE("evaluate and predict_probabilities over a loader") {
  const data::Dataset d = test::synthetic_dataset(20, 3);
  data::Loader loader(d, test::loader_options(true));  // shuffled: rows still land in place
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 4});
  const Evaluation e = evaluate(*model, loader);
  CHECK(e.confusion.total() == 20);
  CHECK(std::isfinite(e.loss));
  CHECK(model->training());  // mode restored

  const data::SoftLabels p = predict_probabilities(*model, loader, d.size(), 2.f);
  CHECK(p.rows == 20);
  CHECK_NOTHROW(data::check_soft_labels(p, "predictions"));
  // The argmax of the probabilities is what evaluate() counted.
  ConfusionMatrix again(3);
  for (size_t i = 0; i < d.size(); ++i) again.add(d.labels[i], argmax(p.row(i).data(), 3));
  CHECK(again.counts() == e.confusion.counts());
  // Temperature flattens: at T=2 the top probability is lower than at T=1.
  const data::SoftLabels p1 = predict_probabilities(*model, loader, d.size(), 1.f);
  CHECK(p1.row(0)[size_t(argmax(p1.row(0).data(), 3))] >= p.row(0)[size_t(argmax(p.row(0).data(), 3))]);
}

TEST_CASE("recorded and replayed, evaluation and predictions are the eager pass's, bit for bit") {
  // 100 images in shuffled batches of 16: six full batches (the first eager, the second recorded,
  // then five launches) and a short one (eager), whose rows must land in their dataset positions.
  const data::Dataset d = test::synthetic_dataset(100, 8);
  data::Loader loader(d, test::loader_options(true));
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 6});
  // Every parameter and running statistic drawn at random, so that each image has logits of its
  // own (a fresh model's are the same for all).
  uint32_t state = 99;
  for (auto& [name, t] : model->state()) {
    const bool variance = name.find("running_var") != std::string::npos;
    std::vector<float> v(size_t(t.numel()));
    for (float& x : v) {
      state = state * 1664525u + 1013904223u;
      x = float(state >> 8) / float(1 << 24) + (variance ? 0.5f : -0.5f);
    }
    t.copy_from(Tensor::from_host(v, t.shape()));
  }

  const Evaluation eager = evaluate(*model, loader);
  test::StandInRecorder graphs;
  const Evaluation recorded = evaluate(*model, loader, graphs.recorder());
  CHECK(graphs.recordings == 1);
  CHECK(graphs.launches == 5);
  CHECK(recorded.loss == eager.loss);
  CHECK(recorded.confusion.counts() == eager.confusion.counts());
  CHECK(recorded.confusion.total() == 100);

  for (const float temperature : {1.f, 3.f}) {
    CAPTURE(temperature);
    test::StandInRecorder predict_graphs;
    const data::SoftLabels want = predict_probabilities(*model, loader, d.size(), temperature);
    const data::SoftLabels got = predict_probabilities(*model, loader, d.size(), temperature, predict_graphs.recorder());
    CHECK(predict_graphs.recordings == 1);
    CHECK(predict_graphs.launches == 5);
    CHECK(got.values == want.values);
  }
  test::StandInRecorder logit_graphs;
  const data::SoftLabels want = predict_logits(*model, loader, d.size());
  const data::SoftLabels got = predict_logits(*model, loader, d.size(), logit_graphs.recorder());
  CHECK(logit_graphs.launches == 5);
  CHECK(got.values == want.values);
  // Logits of their own per image: were they one batch's, repeated, the comparisons above could not
  // tell.
  std::vector<float> first_column;
  for (size_t i = 0; i < d.size(); ++i) first_column.push_back(want.row(i)[0]);
  std::sort(first_column.begin(), first_column.end());
  CHECK(std::unique(first_column.begin(), first_column.end()) - first_column.begin() > 90);
}
