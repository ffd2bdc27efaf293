// refine_app end to end on the CPU: a ResNet-8 on 3,000 CIFAR-10 images (the JPEG copy in
// ../shared/data), 2 generations, both refinery modes. One run is stopped with Ctrl-C (SIGINT)
// and one killed outright (SIGKILL), both mid-generation; each is continued with --resume, and
// the killed-and-resumed dynamic chain must equal an uninterrupted one bit for bit.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "apps/file_io.h"
#include "data/bytes.h"
#include "data/soft_labels.h"
#include "engine/atomic_file.h"
#include "engine/json.h"
#include "engine/safetensors.h"
#include "tests/apps/refine_app_process.h"

namespace fs = std::filesystem;

namespace {

const fs::path kShared = RF_SHARED_DATA_DIR;
const fs::path kCache = RF_TEST_CACHE_DIR;

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("rf_test_e2e_" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Scratch() { fs::remove_all(root); }
};

using rf::test::run;
using rf::test::spawn;
using rf::test::wait_for;

std::vector<std::string> chain_args(const std::string& refine, const fs::path& out) {
  return {"cifar10", "--data", kShared.string(), "--model", "resnet8", "--epochs", "2", "--generations", "2",
          "--train-limit", "3000", "--test-limit", "1000", "--batch-size", "32", "--threads", "1",
          "--refine", refine, "--figure-images", "4", "--cache-dir", kCache.string(), "--out", out.string()};
}

std::vector<std::string> resume_args(const fs::path& run_dir) {
  return {"--resume", run_dir.string(), "--threads", "1", "--cache-dir", kCache.string(), "--data", kShared.string()};
}

// The one run directory refine_app made under `out`, once it exists.
fs::path run_dir_in(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) return e.path();
  return {};
}

size_t lines_in(const fs::path& file) {
  if (!fs::exists(file)) return 0;
  const std::string s = rf::app::read_text_file(file);
  return size_t(std::count(s.begin(), s.end(), '\n'));
}

// Waits until `file` has `n` lines (an epoch completed), then sends `sig`.
void interrupt_after(pid_t pid, const fs::path& out, const std::string& rel, size_t n, int sig) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(out) && !fs::is_empty(out) && lines_in(run_dir_in(out) / rel) >= n) {
      ::kill(pid, sig);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the run never reached " << rel);
}

// The fields of one line, split at `sep`, without surrounding blanks.
std::vector<std::string> cells(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string c; std::getline(in, c, sep);) {
    const size_t a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
    out.push_back(a == std::string::npos ? "" : c.substr(a, b - a + 1));
  }
  return out;
}

rf::Json stats(const fs::path& run_dir, int gen) {
  const fs::path f = run_dir / "seed0" / ("gen" + std::to_string(gen)) / "stats.json";
  return rf::parse_json(rf::app::read_text_file(f), f.string());
}

void check_run_directory(const fs::path& dir) {
  for (const char* f : {"config.json", "report.md", "report.html", "figure4.png", "test_accuracy.svg", "training_curves.svg"})
    CHECK_MESSAGE(fs::is_regular_file(dir / f), f);
  for (int g = 1; g <= 2; ++g) {
    const fs::path gd = dir / "seed0" / ("gen" + std::to_string(g));
    for (const char* f : {"metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "labels.bin", "labels_top3.csv", "stats.json"})
      CHECK_MESSAGE(fs::is_regular_file(gd / f), (gd / f).string());
    CHECK(lines_in(gd / "metrics.jsonl") == 2);  // one line per epoch, none repeated by the resume
    // The refined labels are distributions: finite, >= 0, rows summing to 1.
    const rf::data::SoftLabels s = rf::data::parse_soft_labels(rf::data::read_file(gd / "labels.bin"), "labels.bin");
    CHECK(s.rows == 2700);  // 3,000 minus the 10% validation split
    CHECK(s.classes == 10);
    rf::data::check_soft_labels(s, "labels.bin");
    CHECK(lines_in(gd / "labels_top3.csv") == s.rows + 1);
    const rf::Json st = stats(dir, g);
    MESSAGE(dir.filename().string() << " R" << g << ": test accuracy " << st.at("test_accuracy").get<double>());
    CHECK(st.at("test_accuracy").get<double>() > 0.25);  // chance is 0.10
    CHECK(st.at("label_agreement").get<double>() > 0.25);
    CHECK(st.at("epochs_run").get<int64_t>() == 2);
  }
  const std::string html = rf::app::read_text_file(dir / "report.html");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("data:image/png;base64,") != std::string::npos);
  CHECK(html.find("R2 top-3") != std::string::npos);
}

// The chain's model files and checkpoints describe their data, and the binary applies a model:
// predict on a few test images (one file broken), evaluate on a tree of a few of them, export.
void check_model_commands(const fs::path& run_dir, const fs::path& scratch) {
  const fs::path model = run_dir / "seed0" / "gen2" / "model.safetensors";
  for (const char* f : {"model.safetensors", "checkpoint.safetensors"}) {
    const rf::SafetensorsFile m = rf::SafetensorsFile::read(run_dir / "seed0" / "gen2" / f);
    CHECK(m.meta("class_names") == R"(["airplane","automobile","bird","cat","deer","dog","frog","horse","ship","truck"])");
    CHECK(m.meta("input_height") == "32");
    CHECK(m.meta("input_width") == "32");
    CHECK(rf::parse_json(m.meta("normalization_std"), f).size() == 3);
  }
  const fs::path tree = scratch / "few";
  for (const char* cls : {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"})
    for (const char* split : {"train", "test"}) {
      fs::create_directories(tree / split / cls);
      int copied = 0;
      for (const auto& e : fs::directory_iterator(kShared / "cifar10" / "test" / cls)) {
        fs::copy_file(e.path(), tree / split / cls / e.path().filename());
        if (++copied == 2) break;
      }
    }
  const fs::path broken = scratch / "broken.jpg";
  rf::write_file_atomic(broken, "not a JPEG");
  const fs::path log = scratch / "model_commands.txt";
  CHECK(run({"predict", model.string(), (tree / "test" / "cat").string(), broken.string(), "--threads", "1"}, log) == 1);
  const std::string predicted = rf::app::read_text_file(log);
  CHECK(predicted.find("broken.jpg: cannot decode image") != std::string::npos);
  CHECK(predicted.find("1 input(s) failed; 2 image(s) classified") != std::string::npos);
  REQUIRE(run({"evaluate", model.string(), "--data", tree.string(), "--svg", (scratch / "cm.svg").string(), "--threads", "1"}, log) == 0);
  CHECK(rf::app::read_text_file(log).find("(test split, 20 images): accuracy") != std::string::npos);
  REQUIRE(run({"export", model.string(), "--format", "pytorch", (scratch / "pt.safetensors").string()}, log) == 0);
  CHECK(rf::SafetensorsFile::read(scratch / "pt.safetensors").shape("stem.conv.weight") == rf::Shape{16, 3, 3, 3});
}

}  // namespace

TEST_CASE("refine_app: static and dynamic chains, interrupted and resumed, on CIFAR-10") {
  if (!fs::is_directory(kShared / "cifar10" / "train")) {
    MESSAGE("SKIPPED: no CIFAR-10 image tree at " << (kShared / "cifar10").string());
    return;
  }
  Scratch scratch;
  const fs::path log = scratch.root / "log.txt";

  // Static refinery, stopped by Ctrl-C in the second epoch of R1, then resumed.
  const fs::path out_static = scratch.root / "static";
  const pid_t a = spawn(chain_args("static", out_static), log);
  interrupt_after(a, out_static, "seed0/gen1/metrics.jsonl", 1, SIGINT);
  CHECK(wait_for(a) == 130);
  CHECK(rf::app::read_text_file(log).find("refine_app --resume") != std::string::npos);
  const fs::path run_static = run_dir_in(out_static);
  REQUIRE(run(resume_args(run_static), log) == 0);
  check_run_directory(run_static);
  check_model_commands(run_static, scratch.root);

  // Dynamic refinery, killed outright in R2, resumed; and the same chain uninterrupted.
  const fs::path out_killed = scratch.root / "killed";
  const pid_t b = spawn(chain_args("dynamic", out_killed), log);
  interrupt_after(b, out_killed, "seed0/gen2/metrics.jsonl", 1, SIGKILL);
  CHECK(wait_for(b) == 1000 + SIGKILL);
  const fs::path run_killed = run_dir_in(out_killed);
  // A kill during a write leaves its temporary (planted: the kill's moment cannot be chosen);
  // the resume removes it.
  const fs::path stale = run_killed / "seed0" / "gen2" / ".checkpoint.safetensors.tmp.99999.0";
  std::ofstream(stale) << "half a checkpoint";
  REQUIRE(fs::exists(stale));
  REQUIRE(run(resume_args(run_killed), log) == 0);
  CHECK(!fs::exists(stale));
  check_run_directory(run_killed);

  const fs::path out_whole = scratch.root / "whole";
  REQUIRE(run(chain_args("dynamic", out_whole), log) == 0);
  const fs::path run_whole = run_dir_in(out_whole);
  for (const char* f : {"seed0/gen1/labels.bin", "seed0/gen2/labels.bin", "seed0/gen2/model.safetensors"})
    CHECK_MESSAGE(rf::data::read_file(run_killed / f) == rf::data::read_file(run_whole / f), f);
  CHECK(stats(run_killed, 2).at("test_accuracy").get<double>() == stats(run_whole, 2).at("test_accuracy").get<double>());
}

TEST_CASE("refine_app: bad input gives a clear message and a non-zero exit code") {
  Scratch scratch;
  const fs::path log = scratch.root / "log.txt";
  CHECK(wait_for(spawn({"cifar10", "--epochs", "-3"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--epochs") != std::string::npos);
  CHECK(wait_for(spawn({"imagenet-21k"}, log)) == 1);
  CHECK(rf::app::read_text_file(log).find("unknown dataset") != std::string::npos);
  const fs::path empty = scratch.root / "empty";
  fs::create_directories(empty);
  CHECK(wait_for(spawn({"cifar10", "--data", empty.string(), "--cache-dir", (scratch.root / "c").string()}, log)) == 1);
  const std::string missing = rf::app::read_text_file(log);
  CHECK(missing.find("looked in") != std::string::npos);
  CHECK(missing.find("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz") != std::string::npos);
  CHECK(wait_for(spawn({"--resume", empty.string()}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("no config.json") != std::string::npos);
  CHECK(wait_for(spawn({"cifar10", "--device", "cpu", "--cuda-graphs", "on"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--cuda-graphs on: CUDA graphs need the GPU") != std::string::npos);
  CHECK(wait_for(spawn({"cifar10", "--cuda-graphs", "sometimes"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--cuda-graphs") != std::string::npos);
  CHECK(wait_for(spawn({"cifar10", "--device", "cpu", "--concurrent-backward", "on"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--concurrent-backward on: a second CUDA stream only helps a GPU") !=
        std::string::npos);
  CHECK(wait_for(spawn({"cifar10", "--concurrent-backward", "sometimes"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--concurrent-backward") != std::string::npos);
  CHECK(wait_for(spawn({"--help"}, log)) == 0);
  const std::string help = rf::app::read_text_file(log);
  for (const char* flag : {"--data", "--model", "--epochs", "--batch-size", "--generations", "--refine", "--temperature",
                           "--alpha", "--augment", "--seeds", "--device", "--threads", "--out", "--resume",
                           "--train-limit", "--test-limit", "--recipe", "--download", "--table1", "--teacher", "--control", "--image-size", "--cuda-graphs", "--concurrent-backward", "--precision", "--data-on-device", "--eval-batch-size",
                           "--top-k", "--csv", "--format", "--logits"})
    CHECK_MESSAGE((help.find(std::string("  ") + flag + " ") != std::string::npos ||
                   help.find(std::string("  ") + flag + "\n") != std::string::npos), flag);
  for (const char* command : {"refine_app predict MODEL", "refine_app evaluate MODEL", "refine_app export MODEL"})
    CHECK_MESSAGE(help.find(command) != std::string::npos, command);
}

TEST_CASE("refine_app --val-fraction 0: every training image trains, validation reads n/a") {
  if (!fs::is_directory(kShared / "cifar10" / "train")) {
    MESSAGE("SKIPPED: no CIFAR-10 image tree at " << (kShared / "cifar10").string());
    return;
  }
  Scratch scratch;
  const fs::path log = scratch.root / "log.txt";
  // The blog recipe decides on validation accuracy twice over: refused before any work.
  CHECK(wait_for(spawn({"cifar10", "--recipe", "blog", "--val-fraction", "0"}, log)) == 2);
  CHECK(rf::app::read_text_file(log).find("--schedule plateau and --early-stopping") != std::string::npos);

  const fs::path out = scratch.root / "all";
  REQUIRE(run({"cifar10", "--data", kShared.string(), "--model", "resnet8", "--epochs", "1", "--generations", "1",
               "--train-limit", "300", "--test-limit", "100", "--batch-size", "50", "--threads", "1",
               "--val-fraction", "0", "--cache-dir", kCache.string(), "--out", out.string()},
              log) == 0);
  const fs::path dir = run_dir_in(out);
  const rf::data::SoftLabels s =
      rf::data::parse_soft_labels(rf::data::read_file(dir / "seed0" / "gen1" / "labels.bin"), "labels.bin");
  CHECK(s.rows == 300);  // all of the training split
  CHECK(stats(dir, 1).at("val_accuracy").is_null());
  const std::string md = rf::app::read_text_file(dir / "report.md");
  CHECK(md.find("validation none") != std::string::npos);
  CHECK(md.find("| n/a |") != std::string::npos);
  for (const char* f : {"report.md", "report.html", "results.csv"})
    CHECK_MESSAGE(rf::app::read_text_file(dir / f).find("nan") == std::string::npos, f);
  std::istringstream csv(rf::app::read_text_file(dir / "results.csv"));
  std::string header, first;
  std::getline(csv, header);
  std::getline(csv, first);
  const std::vector<std::string> row = cells(first + ",", ',');  // (getline drops a last empty field)
  REQUIRE(row.size() > 4);
  CHECK(row[4] == "");  // val_accuracy: empty, i.e. missing
  CHECK(rf::app::read_text_file(log).find("val acc n/a") != std::string::npos);

  // The run records the sample order its image-folder tree was loaded in, and that order mixes
  // the classes: the Figure-4 rows (the first training images) are not all airplanes.
  CHECK(rf::parse_json(rf::app::read_text_file(dir / "config.json"), "config.json")
            .at("chain").at("sample_order_seed").get<int64_t>() == 0);
  std::istringstream grid(md.substr(md.find("| image | ground truth |")));
  std::string line;
  std::getline(grid, line);  // header
  std::getline(grid, line);  // |---|
  int images = 0;
  std::set<std::string> classes;
  while (std::getline(grid, line) && line.rfind("| ", 0) == 0) {
    ++images;
    classes.insert(cells(line, '|').at(2));  // "| 0 | frog | ..."
  }
  CHECK(images == 12);
  CHECK(classes.size() >= 4);
}

TEST_CASE("refine_app: a NaN loss stops the run with the epoch and batch, exit code 1") {
  if (!fs::is_directory(kShared / "cifar10" / "train")) {
    MESSAGE("SKIPPED: no CIFAR-10 image tree at " << (kShared / "cifar10").string());
    return;
  }
  Scratch scratch;
  const fs::path log = scratch.root / "log.txt";
  // A learning rate of 1e30 overflows the weights within a few steps.
  CHECK(wait_for(spawn({"cifar10", "--data", kShared.string(), "--model", "resnet8", "--epochs", "2",
                        "--generations", "1", "--train-limit", "300", "--test-limit", "100", "--batch-size", "50",
                        "--threads", "1", "--lr", "1e30", "--cache-dir", kCache.string(), "--out",
                        (scratch.root / "nan").string()},
                       log)) == 1);
  const std::string text = rf::app::read_text_file(log);
  INFO(text);
  CHECK(text.find("refine_app: error: ") != std::string::npos);
  CHECK(text.find("training loss is") != std::string::npos);
  CHECK(text.find("at epoch 1, batch ") != std::string::npos);
  CHECK(text.find("the last checkpoint is kept") != std::string::npos);
}

TEST_CASE("refine_app --table1 --control: the blog-shaped grid with the blog's numbers, gains and calibration beside ours") {
  if (!fs::is_directory(kShared / "cifar10" / "train")) {
    MESSAGE("SKIPPED: no CIFAR-10 image tree at " << (kShared / "cifar10").string());
    return;
  }
  Scratch scratch;
  const fs::path out = scratch.root / "grid";
  REQUIRE(run({"--table1", "--table1-datasets", "cifar10", "--data", kShared.string(), "--model", "resnet8", "--epochs", "1",
               "--generations", "2", "--seeds", "2", "--train-limit", "400", "--test-limit", "200", "--threads", "1",
               "--figure-images", "2", "--control", "--cache-dir", kCache.string(), "--out", out.string()},
              scratch.root / "log.txt") == 0);
  const fs::path dir = run_dir_in(out);
  const std::string md = rf::app::read_text_file(dir / "table1.md");
  const std::string gain = " gain pp [95% CI]; ECE % / NLL (refined, control) |";
  CHECK(md.find("| Label Refinery iteration | cifar10 Augment=0 | cifar10 Augment=0" + gain + " cifar10 Augment=1 |") !=
        std::string::npos);
  CHECK(md.find("(blog 62.9 ± 6.7)") != std::string::npos);  // R1, no augmentation
  CHECK(md.find("(blog 64.2 ± 11.0)") != std::string::npos);  // R2, augmentation
  CHECK(md.find("| own control; ECE ") != std::string::npos);  // R1 learns the ground truth
  const std::string csv = rf::app::read_text_file(dir / "table1.csv");
  CHECK(csv.rfind("dataset,augment,generation,seeds,ours_mean,ours_std,blog_mean,blog_std,control_mean,control_std,"
                  "gain_mean,gain_std,gain_ci95_low,gain_ci95_high,ece_mean,control_ece_mean,nll_mean,control_nll_mean\n", 0) == 0);
  CHECK(lines_in(dir / "table1.csv") == 1 + 2 * 2);
  std::istringstream rows(csv);
  std::string line;
  int with_gain = 0;
  while (std::getline(rows, line)) {
    const std::vector<std::string> f = cells(line + ",", ',');
    if (f.size() < 18 || f[2] != "2") continue;
    // R2 over 2 seeds: a gain, its interval around it, the control's and R2's calibration.
    const double mean = std::stod(f[10]), sd = std::stod(f[11]), low = std::stod(f[12]), high = std::stod(f[13]);
    CHECK((low + high) / 2 == doctest::Approx(mean).epsilon(1e-3));
    CHECK((high - low) / 2 == doctest::Approx(12.7062 * sd / std::sqrt(2.0)).epsilon(1e-3));  // t(0.975, 1)
    CHECK(std::stod(f[16]) > 0);  // NLL
    CHECK(std::stod(f[17]) > 0);
    ++with_gain;
  }
  CHECK(with_gain == 2);
  for (const char* cell : {"cifar10-aug0", "cifar10-aug1"}) {
    CHECK(fs::is_regular_file(dir / cell / "report.html"));
    CHECK(fs::is_regular_file(dir / cell / "seed1" / "gen2" / "stats.json"));
    CHECK(fs::is_regular_file(dir / cell / "seed1" / "control2" / "stats.json"));
    CHECK_FALSE(fs::exists(dir / cell / "seed1" / "control1"));  // R1 is its own control
    CHECK(fs::is_regular_file(dir / cell / "reliability_R2.svg"));
  }
}
