// Learning-rate schedules against hand-computed values; ReduceLROnPlateau and early stopping on
// scripted metric sequences, traced by hand through Keras' on_epoch_end.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "engine/check.h"
#include "train/early_stopping.h"
#include "train/schedule.h"

using namespace rf;
using namespace rf::train;

TEST_CASE("constant") {
  ScheduleConfig c;
  c.lr = 0.1;
  auto s = make_schedule(c, 10, 3);
  CHECK(s->lr(0) == 0.1);
  CHECK(s->lr(29) == 0.1);
}

TEST_CASE("step: gamma per milestone passed, milestones in epochs") {
  ScheduleConfig c;
  c.kind = ScheduleConfig::Kind::Step;
  c.lr = 1;
  c.gamma = 0.1;
  c.milestones = {2, 4};
  auto s = make_schedule(c, 10, 6);
  CHECK(s->lr(0) == 1);
  CHECK(s->lr(19) == 1);
  CHECK(s->lr(20) == doctest::Approx(0.1));
  CHECK(s->lr(39) == doctest::Approx(0.1));
  CHECK(s->lr(40) == doctest::Approx(0.01));
  CHECK(s->lr(59) == doctest::Approx(0.01));
}

TEST_CASE("cosine with linear warmup") {
  ScheduleConfig c;
  c.kind = ScheduleConfig::Kind::Cosine;
  c.lr = 1;
  c.warmup_epochs = 1;
  auto s = make_schedule(c, 4, 3);  // 12 steps, 4 of warmup, 7 intervals of decay
  CHECK(s->lr(0) == 0.25);
  CHECK(s->lr(1) == 0.5);
  CHECK(s->lr(3) == 1.0);
  CHECK(s->lr(4) == doctest::Approx(1.0));
  CHECK(s->lr(8) == doctest::Approx(0.38873953302184283));  // (1 + cos(4pi/7)) / 2
  CHECK(s->lr(11) == doctest::Approx(0.0));
  c.final_lr = 0.1;
  CHECK(make_schedule(c, 4, 3)->lr(11) == doctest::Approx(0.1));
}

TEST_CASE("one-cycle as PyTorch's OneCycleLR (cos, two phases)") {
  ScheduleConfig c;
  c.kind = ScheduleConfig::Kind::OneCycle;
  c.lr = 1;  // max_lr; initial 1/25 = 0.04, final 0.04/1e4
  auto s = make_schedule(c, 10, 10);  // 100 steps: up over steps 0..29, down over 29..99
  CHECK(s->lr(0) == doctest::Approx(0.04));
  CHECK(s->lr(10) == doctest::Approx(0.29516394846410077));
  CHECK(s->lr(29) == doctest::Approx(1.0));
  CHECK(s->lr(50) == doctest::Approx(0.793893450575732));
  CHECK(s->lr(99) == doctest::Approx(4e-6));
}

TEST_CASE("ReduceLROnPlateau on val accuracy: patience, cooldown, min_lr") {
  ScheduleConfig c;
  c.kind = ScheduleConfig::Kind::Plateau;
  c.lr = 1;
  c.factor = 0.5;
  c.patience = 2;
  c.cooldown = 1;
  c.min_lr = 0.2;
  c.min_delta = 0;
  auto s = make_schedule(c, 1, 1);
  const double acc[] = {0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
  const double expect[] = {1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2};
  for (int e = 0; e < 12; ++e) {
    s->on_epoch_end(acc[e], 0);
    CAPTURE(e);
    CHECK(s->lr(0) == doctest::Approx(expect[e]));
  }
}

TEST_CASE("ReduceLROnPlateau on val loss with min_delta, and its state round trip") {
  ScheduleConfig c;
  c.kind = ScheduleConfig::Kind::Plateau;
  c.monitor = Monitor::ValLoss;
  c.lr = 1;
  c.patience = 1;
  c.min_delta = 0.01;
  auto s = make_schedule(c, 1, 1);
  s->on_epoch_end(0, 1.0);
  CHECK(s->lr(0) == 1);
  s->on_epoch_end(0, 0.95);  // better by more than min_delta
  CHECK(s->lr(0) == 1);
  s->on_epoch_end(0, 0.9499);  // better, but not by min_delta
  CHECK(s->lr(0) == doctest::Approx(0.1));
  // A copy restored from the state continues identically.
  auto t = make_schedule(ScheduleConfig::from_json(c.to_json()), 1, 1);
  t->load_state(parse_json(s->state().dump(), "test"));
  s->on_epoch_end(0, 0.9498);
  t->on_epoch_end(0, 0.9498);
  CHECK(s->lr(0) == doctest::Approx(0.01));
  CHECK(t->lr(0) == s->lr(0));
}

TEST_CASE("bad schedule settings are errors") {
  ScheduleConfig c;
  c.lr = -1;
  CHECK_THROWS_AS(make_schedule(c, 10, 1), Error);
  c.lr = 1;
  c.kind = ScheduleConfig::Kind::Cosine;
  c.warmup_epochs = 2;
  CHECK_THROWS_AS(make_schedule(c, 10, 2), Error);
  CHECK_THROWS_AS(parse_schedule_kind("linear"), Error);
}

TEST_CASE("early stopping on val accuracy: stops after `patience` epochs without improvement") {
  EarlyStopping es({.monitor = Monitor::ValAccuracy, .min_delta = 0, .patience = 2});
  const double acc[] = {0.5, 0.6, 0.55, 0.58};
  const bool stop[] = {false, false, false, true};
  const bool improved[] = {true, true, false, false};
  for (int e = 0; e < 4; ++e) {
    CAPTURE(e);
    const auto d = es.on_epoch_end(e, acc[e], 0);
    CHECK(d.stop == stop[e]);
    CHECK(d.improved == improved[e]);
  }
  CHECK(es.best_epoch() == 1);
  CHECK(es.best() == 0.6);
}

TEST_CASE("early stopping as Keras: patience 0 stops after epoch 1 at the latest, min_delta on loss") {
  EarlyStopping zero({.monitor = Monitor::ValAccuracy, .min_delta = 0, .patience = 0});
  CHECK_FALSE(zero.on_epoch_end(0, 0.1, 0).stop);  // Keras never stops after the first epoch
  CHECK(zero.on_epoch_end(1, 0.2, 0).stop);
  EarlyStopping loss({.monitor = Monitor::ValLoss, .min_delta = 0.1, .patience = 1});
  CHECK_FALSE(loss.on_epoch_end(0, 0, 1.0).stop);
  const auto d = loss.on_epoch_end(1, 0, 0.95);  // not better by 0.1
  CHECK_FALSE(d.improved);
  CHECK(d.stop);
  // State round trip.
  EarlyStopping copy({.monitor = Monitor::ValLoss, .min_delta = 0.1, .patience = 1});
  copy.load_state(parse_json(loss.state().dump(), "test"));
  CHECK(copy.best() == 1.0);
  CHECK(copy.best_epoch() == 0);
}
