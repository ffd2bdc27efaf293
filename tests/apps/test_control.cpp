// --control, --teacher and their statistics: the Student t quantile and the paired interval on
// numbers worked out by hand, the teacher kept in the run directory, and tiny chains run in
// process (ResNet-8 students of a ResNet-20 teacher, 48 synthetic 8x8 images, one epoch).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "apps/chain.h"
#include "apps/control_report.h"
#include "apps/experiment_data.h"
#include "apps/file_io.h"
#include "apps/paired_interval.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "apps/teacher.h"
#include "data/bytes.h"
#include "data/soft_labels.h"
#include "engine/atomic_file.h"
#include "engine/check.h"
#include "models/factory.h"
#include "models/model_file.h"
#include "tests/train/synthetic.h"

namespace fs = std::filesystem;
using namespace rf;
using namespace rf::app;

namespace {

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("rf_test_control_" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Scratch() { fs::remove_all(root); }
};

ChainConfig tiny_chain() {
  ChainConfig c;
  c.dataset = "synthetic";
  c.models = {"resnet8"};
  c.epochs = 1;
  c.batch_size = 12;
  c.generations = 1;
  c.augment = "none";
  c.lr = 0.05;
  c.schedule = "constant";
  c.val_fraction = 0.25;
  c.figure_images = 0;
  c.precise_bn = 2;
  return c;
}

// One chain's results and controls of a synthetic ExperimentOutcome: test accuracies per seed.
ExperimentOutcome outcome_of(const std::vector<double>& refined, const std::vector<double>& control) {
  ExperimentOutcome o;
  for (size_t k = 0; k < refined.size(); ++k) {
    GenerationResult r1, r2, c2;
    r1.seed_index = r2.seed_index = c2.seed_index = int(k);
    r1.generation = 1;
    r2.generation = c2.generation = 2;
    c2.control = true;
    r2.test_accuracy = refined[k];
    c2.test_accuracy = control[k];
    o.results.push_back({r1, r2});
    o.controls.push_back({c2});
  }
  return o;
}

std::string bytes_of(const fs::path& f) {
  const data::Bytes b = data::read_file(f);
  return {b.begin(), b.end()};
}

}  // namespace

TEST_CASE("the Student t quantile t(0.975, df) matches the tables") {
  CHECK(student_t_975(1) == doctest::Approx(12.7062047362).epsilon(1e-9));
  CHECK(student_t_975(2) == doctest::Approx(4.3026527297).epsilon(1e-9));
  CHECK(student_t_975(3) == doctest::Approx(3.1824463053).epsilon(1e-9));
  CHECK(student_t_975(4) == doctest::Approx(2.7764451052).epsilon(1e-9));
  CHECK(student_t_975(9) == doctest::Approx(2.2621571628).epsilon(1e-9));
  CHECK(student_t_975(30) == doctest::Approx(2.0422724563).epsilon(1e-9));
  CHECK_THROWS_AS(student_t_975(0), Error);
}

TEST_CASE("the paired 95% interval of refined - control, by hand") {
  // d = {0.02, 0.02, -0.01, 0.04}: mean 0.0175, sd sqrt(0.001275 / 3) = 0.0206155,
  // half-width t(0.975, 3) * sd / 2 = 3.1824463 * 0.0206155 / 2 = 0.0328039.
  const PairedInterval p = paired_interval({0.80, 0.82, 0.79, 0.85}, {0.78, 0.80, 0.80, 0.81});
  CHECK(p.difference.n == 4);
  CHECK(p.difference.mean == doctest::Approx(0.0175).epsilon(1e-9));
  CHECK(p.difference.std == doctest::Approx(std::sqrt(0.001275 / 3)).epsilon(1e-9));
  CHECK(p.low == doctest::Approx(0.0175 - 0.0328039057).epsilon(1e-7));
  CHECK(p.high == doctest::Approx(0.0175 + 0.0328039057).epsilon(1e-7));
  // The same numbers through a run's results: the report's cells and results.csv read them.
  const ExperimentOutcome o = outcome_of({0.80, 0.82, 0.79, 0.85}, {0.78, 0.80, 0.80, 0.81});
  const PairedInterval q = control_gain(o.results, o.controls, 2);
  CHECK(q.low == p.low);
  CHECK(gain_text(q) == "+1.75 ± 2.06");
  CHECK(interval_text(q) == "[-1.53, +5.03]");
  CHECK(control_gain(o.results, o.controls, 1).difference.n == 0);  // R1: its own control
  CHECK(interval_text(control_gain(o.results, o.controls, 1)) == "n/a");
  // --table1 --control: the cell beside the accuracy, and table1.csv's columns (percent).
  CHECK(table1_control_cell(o.results, o.controls, 2).rfind("+1.75 ± 2.06 [-1.53, +5.03]; ECE ", 0) == 0);
  CHECK(table1_control_cell(o.results, o.controls, 1).rfind("own control; ECE ", 0) == 0);
  CHECK(table1_control_csv(o.results, o.controls, 2).rfind("79.7500,1.2583,1.7500,2.0616,-1.5304,5.0304,", 0) == 0);

  // One seed: a difference, but no interval.
  const PairedInterval one = paired_interval({0.9}, {0.8});
  CHECK(one.difference.mean == doctest::Approx(0.1));
  CHECK_FALSE(one.defined());
  CHECK(std::isnan(one.low));
  CHECK(interval_text(one) == "undefined (1 seed)");
  CHECK_THROWS_AS(paired_interval({0.9, 0.8}, {0.8}), Error);
}

TEST_CASE("the teacher is kept in the run directory and checked on resume") {
  Scratch s;
  const fs::path file = s.root / "model.safetensors";
  models::save_model(*models::make_model("resnet20", {.classes = 3, .seed = 9}), file);
  CHECK_THROWS_AS(load_teacher(s.root / "missing.safetensors", Device::CPU), UsageError);
  write_file_atomic(s.root / "junk.safetensors", "not a model");
  CHECK_THROWS_WITH_AS(load_teacher(s.root / "junk.safetensors", Device::CPU),
                       doctest::Contains("--teacher"), Error);
  const std::string md5 = keep_teacher(file, s.root);
  CHECK(bytes_of(s.root / kTeacherFileName) == bytes_of(file));
  CHECK(load_kept_teacher(s.root, md5, Device::CPU)->arch() == "resnet20");
  CHECK_THROWS_WITH_AS(load_kept_teacher(s.root, std::string(32, '0'), Device::CPU),
                       doctest::Contains("teacher file was changed"), Error);
}

TEST_CASE("a ResNet-8 chain from a ResNet-20 teacher, with controls trained on the ground truth") {
  Scratch s;
  data::TrainTest raw{test::synthetic_dataset(48, 1), test::synthetic_dataset(24, 2)};
  const fs::path teacher_file = s.root / "teacher.safetensors";
  models::save_model(*models::make_model("resnet20", {.classes = 3, .seed = 9}), teacher_file);
  const std::unique_ptr<models::Model> teacher = load_teacher(teacher_file, Device::CPU);

  // Without a teacher: R1 learns the ground truth.
  const ExperimentOutcome plain = run_experiment(tiny_chain(), raw, s.root / "plain", RunContext{}, {0});
  REQUIRE(plain.results.size() == 1);
  CHECK(plain.controls.empty());
  CHECK(plain.teachers.empty());

  ChainConfig c = tiny_chain();
  c.teacher = teacher_file.string();
  c.control = true;
  const fs::path dir = s.root / "taught";
  const ExperimentOutcome o = run_experiment(c, raw, dir, RunContext{.teacher = teacher.get()}, {0});
  REQUIRE(o.teachers.size() == 1);
  CHECK(o.teachers[0].generation == 0);
  CHECK(o.teachers[0].model == "resnet20");
  CHECK(o.results[0][0].model == "resnet8");
  REQUIRE(o.controls.size() == 1);
  REQUIRE(o.controls[0].size() == 1);
  CHECK(o.controls[0][0].control);
  CHECK(o.controls[0][0].generation == 1);
  CHECK(o.controls[0][0].model == "resnet8");

  // R1 learned the teacher's labels: soft, not one-hot.
  const data::Dataset train = prepare_chain_data(c, raw, 0).train;
  const data::SoftLabels taught = data::load_soft_labels(generation_paths(dir, 0, 0).labels, train);
  float largest = 0;
  for (float v : taught.values) largest = std::max(largest, v);
  CHECK(largest < 0.99f);
  // The control learned one-hot targets with R1's seed and recipe: it is, bit for bit, the R1 of
  // the chain without a teacher. The taught R1 is not.
  const std::string control_model = bytes_of(control_paths(dir, 0, 1).model);
  CHECK(control_model == bytes_of(generation_paths(s.root / "plain", 0, 1).model));
  CHECK(control_model != bytes_of(generation_paths(dir, 0, 1).model));
  CHECK(o.controls[0][0].test_accuracy == plain.results[0][0].test_accuracy);
  CHECK(std::isfinite(o.results[0][0].test_ece));
  CHECK(o.results[0][0].test_nll > 0);
  int64_t binned = 0;
  for (const auto& b : o.results[0][0].reliability) binned += b.count;
  CHECK(binned == 24);  // every test image

  // Running it again reuses every completed model: the same numbers, nothing retrained.
  const ExperimentOutcome again = run_experiment(c, raw, dir, RunContext{.teacher = teacher.get()}, {0});
  CHECK(again.results[0][0].train_seconds == o.results[0][0].train_seconds);
  CHECK(again.controls[0][0].test_accuracy == o.controls[0][0].test_accuracy);
  CHECK(again.teachers[0].test_nll == o.teachers[0].test_nll);

  // The report: the gain table, a reliability diagram per generation (the teacher's too), and
  // the teacher, chain and control rows of results.csv with this seed's gain.
  write_report(dir, c, o, "cpu");
  const std::string md = read_text_file(dir / "report.md");
  CHECK(md.find("## Refined vs control") != std::string::npos);
  CHECK(md.find("undefined (1 seed)") != std::string::npos);
  CHECK(md.find("Teacher (generation 0): resnet20") != std::string::npos);
  CHECK(fs::is_regular_file(dir / "reliability_T0.svg"));
  CHECK(read_text_file(dir / "reliability_R1.svg").find("control, ECE") != std::string::npos);
  const std::string csv = read_text_file(dir / "results.csv");
  CHECK(csv.find(",teacher,") != std::string::npos);
  CHECK(csv.find(",control,") != std::string::npos);
  CHECK(csv.find(",run,test_ece,test_nll,gain_vs_control,gain_mean,gain_std,gain_ci95_low,gain_ci95_high\n") !=
        std::string::npos);

  // The dynamic refinery: the teacher labels R1's batches as they come. Without augmentation
  // those are the static labels, so R1 ends up where the static R1 did (up to float rounding).
  c.refine = "dynamic";
  const fs::path dyn = s.root / "dynamic";
  run_experiment(c, raw, dyn, RunContext{.teacher = teacher.get()}, {0});
  CHECK(bytes_of(control_paths(dyn, 0, 1).model) == control_model);
  CHECK(bytes_of(generation_paths(dyn, 0, 1).model) != control_model);
  const data::SoftLabels dynamic_r1 = data::load_soft_labels(generation_paths(dyn, 0, 1).labels, train);
  const data::SoftLabels static_r1 = data::load_soft_labels(generation_paths(dir, 0, 1).labels, train);
  float difference = 0;
  for (size_t i = 0; i < static_r1.values.size(); ++i)
    difference = std::max(difference, std::abs(dynamic_r1.values[i] - static_r1.values[i]));
  CHECK(difference < 1e-3f);

  // A teacher of other classes is refused, naming the flag.
  const auto ten = models::make_model("resnet8", {.classes = 10});
  CHECK_THROWS_WITH_AS(run_experiment(c, raw, s.root / "bad", RunContext{.teacher = ten.get()}, {0}),
                       doctest::Contains("--teacher"), Error);
}

TEST_CASE("--teacher and --control on the command line, recorded and read back") {
  std::vector<std::string> args = {"refine_app", "cifar10", "--teacher", "t.safetensors", "--control",
                                   "--generations", "2"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Options o = parse_command_line(int(argv.size()), argv.data());
  CHECK(o.chain.teacher == "t.safetensors");
  CHECK(o.chain.control);
  CHECK(o.chain.first_refined() == 1);
  CHECK(o.chain.trained_per_chain() == 4);  // R1, R2 and their controls
  o.chain.teacher_md5 = "abc";
  const ChainConfig back = ChainConfig::from_json(parse_json(o.chain.to_json().dump(), "test"));
  CHECK(back.teacher == "t.safetensors");
  CHECK(back.teacher_md5 == "abc");
  CHECK(back.control);

  // Without a teacher R1 is its own control: controls for R2.. only, none with one generation.
  args = {"refine_app", "cifar10", "--control", "--generations", "3"};
  argv.clear();
  for (auto& a : args) argv.push_back(a.data());
  CHECK(parse_command_line(int(argv.size()), argv.data()).chain.trained_per_chain() == 5);
  args = {"refine_app", "cifar10", "--control", "--generations", "1"};
  argv.clear();
  for (auto& a : args) argv.push_back(a.data());
  CHECK_THROWS_WITH_AS(parse_command_line(int(argv.size()), argv.data()), doctest::Contains("--control"), UsageError);
}
