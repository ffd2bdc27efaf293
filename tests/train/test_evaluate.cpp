// Evaluation metrics on hand-made examples; predicted probabilities are distributions placed at
// each sample's dataset position.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/check.h"
#include "models/factory.h"
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
