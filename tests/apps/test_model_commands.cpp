// refine_app predict / evaluate / export on a tiny ResNet-8 and images written here: results
// checked against the model applied directly, bad inputs named while the rest is classified,
// the export read back for PyTorch's layouts and names, the confusion report on known counts.
#include <doctest/doctest.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "apps/cli.h"
#include "apps/confusion_report.h"
#include "apps/file_io.h"
#include "apps/model_command_line.h"
#include "apps/model_commands.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "models/model_file.h"

namespace fs = std::filesystem;
using namespace rf;
using namespace rf::app;

namespace {

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("rf_test_model_commands_" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Scratch() { fs::remove_all(root); }
};

models::DataDescription description() {
  models::DataDescription d;
  d.height = 8;
  d.width = 8;
  d.channels = 3;
  d.mean = {0.5f, 0.4f, 0.3f};
  d.stddev = {0.2f, 0.25f, 0.3f};
  d.class_names = {"cat", "dog", "eel"};
  return d;
}

// A ResNet-8 for 8x8 RGB images of 3 classes, with batch-norm statistics that are not the
// identity (so that eval-mode normalization matters).
std::unique_ptr<models::Model> tiny_model() {
  auto m = models::make_model("resnet8", {.classes = 3, .in_channels = 3, .seed = 5});
  for (const auto& [name, t] : m->state()) {
    if (name.ends_with("running_mean")) t.fill_(0.1f);
    if (name.ends_with("running_var")) t.fill_(1.7f);
  }
  m->set_description(description());
  return m;
}

std::vector<std::uint8_t> pixels(int h, int w, int c, int seed) {
  std::vector<std::uint8_t> v(size_t(h * w * c));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::uint8_t((i * 37 + size_t(seed) * 101) % 256);
  return v;
}

void write_png(const fs::path& p, int h, int w, int c, int seed) {
  fs::create_directories(p.parent_path());
  const auto px = pixels(h, w, c, seed);
  REQUIRE(stbi_write_png(p.c_str(), w, h, c, px.data(), w * c));
}

ModelCommand parse(std::vector<std::string> args) {
  args.insert(args.begin(), "refine_app");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_model_command(int(argv.size()), argv.data());
}

// softmax(logits / t) of the model applied directly to an 8x8 RGB image (no resizing).
std::vector<float> direct_probabilities(models::Model& m, const std::vector<std::uint8_t>& px, float t) {
  const auto d = description();
  std::vector<float> x(px.size());
  for (size_t i = 0; i < px.size(); ++i) x[i] = (px[i] / 255.f - d.mean[i % 3]) / d.stddev[i % 3];
  m.set_training(false);
  NoGrad no_grad;
  const Variable logits = m.forward(Variable(Tensor::from_host(x, {1, 8, 8, 3})));
  return softmax(scale(logits, 1.f / t)).value().to_host();
}

// file -> class -> probability, from predict's CSV.
std::map<std::string, std::map<std::string, float>> read_csv(const fs::path& file) {
  std::map<std::string, std::map<std::string, float>> out;
  std::istringstream in(read_text_file(file));
  std::string line;
  std::getline(in, line);
  CHECK(line == "file,rank,class,probability");
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    out[line.substr(0, a)][line.substr(b + 1, c - b - 1)] = std::stof(line.substr(c + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("predict: files and folders of any size; a bad image is named, the others classified, exit 1") {
  Scratch s;
  auto model = tiny_model();
  models::save_model(*model, s.root / "model.safetensors");
  write_png(s.root / "a.png", 8, 8, 3, 1);
  write_png(s.root / "folder" / "gray.png", 5, 7, 1, 2);
  write_png(s.root / "folder" / "sub" / "rgba.png", 20, 11, 4, 3);
  const auto jpg = pixels(30, 12, 3, 4);
  REQUIRE(stbi_write_jpg((s.root / "b.jpg").c_str(), 12, 30, 3, jpg.data(), 90));
  std::ofstream(s.root / "bad.png") << "not an image";

  const fs::path csv = s.root / "p.csv";
  ModelCommand c = parse({"predict", (s.root / "model.safetensors").string(), (s.root / "a.png").string(),
                          (s.root / "bad.png").string(), (s.root / "b.jpg").string(), (s.root / "folder").string(),
                          (s.root / "missing.png").string(), "--csv", csv.string(), "--batch-size", "2"});
  std::ostringstream out, err;
  CHECK(run_predict(c, Device::CPU, out, err) == 1);
  INFO("out:\n" << out.str() << "err:\n" << err.str());
  CHECK(err.str().find("bad.png: cannot decode image") != std::string::npos);
  CHECK(err.str().find("missing.png: no such file or folder") != std::string::npos);
  CHECK(err.str().find("2 input(s) failed; 4 image(s) classified") != std::string::npos);
  const auto rows = read_csv(csv);
  CHECK(rows.size() == 4);
  for (const char* f : {"a.png", "b.jpg", "folder/gray.png", "folder/sub/rgba.png"}) {
    const std::string file = (s.root / f).string();
    REQUIRE(rows.count(file));
    CHECK(out.str().find(file) != std::string::npos);
    float sum = 0;
    for (const auto& [cls, p] : rows.at(file)) sum += p;
    CHECK(sum == doctest::Approx(1).epsilon(1e-4));  // top 3 of 3 classes
  }
  const auto want = direct_probabilities(*model, pixels(8, 8, 3, 1), 1.f);
  const auto& got = rows.at((s.root / "a.png").string());
  CHECK(got.at("cat") == doctest::Approx(want[0]).epsilon(1e-5));
  CHECK(got.at("dog") == doctest::Approx(want[1]).epsilon(1e-5));
  CHECK(got.at("eel") == doctest::Approx(want[2]).epsilon(1e-5));

  // --temperature and --top-k.
  c = parse({"predict", (s.root / "model.safetensors").string(), (s.root / "a.png").string(), "--temperature", "3",
             "--top-k", "1", "--csv", csv.string()});
  std::ostringstream out2, err2;
  CHECK(run_predict(c, Device::CPU, out2, err2) == 0);
  const auto hot = direct_probabilities(*model, pixels(8, 8, 3, 1), 3.f);
  const auto top = read_csv(csv).at((s.root / "a.png").string());
  REQUIRE(top.size() == 1);
  const int best = int(std::max_element(hot.begin(), hot.end()) - hot.begin());
  CHECK(top.begin()->first == description().class_names[size_t(best)]);
  CHECK(top.begin()->second == doctest::Approx(hot[size_t(best)]).epsilon(1e-5));
}

TEST_CASE("predict / export: a model file without a description, or not a model, is named") {
  Scratch s;
  auto old = models::make_model("resnet8", {.classes = 3, .in_channels = 3});
  models::save_model(*old, s.root / "old.safetensors");
  write_png(s.root / "a.png", 8, 8, 3, 1);
  std::ostringstream out, err;
  auto message = [&](const std::vector<std::string>& args) {
    try {
      const ModelCommand c = parse(args);
      c.name == "export" ? run_export(c, out) : run_predict(c, Device::CPU, out, err);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string e = message({"predict", (s.root / "old.safetensors").string(), (s.root / "a.png").string()});
  CHECK(e.find("old.safetensors: predict needs") != std::string::npos);
  CHECK(e.find("class_names") != std::string::npos);
  CHECK(message({"export", (s.root / "old.safetensors").string(), "--format", "pytorch", "x"}).find("export needs") != std::string::npos);
  CHECK(message({"predict", (s.root / "a.png").string(), (s.root / "a.png").string()}).find("a.png") != std::string::npos);
}

TEST_CASE("export --format pytorch: read back, every tensor by our name in PyTorch's layout") {
  Scratch s;
  auto model = tiny_model();
  models::save_model(*model, s.root / "model.safetensors");
  std::ostringstream out;
  CHECK(run_export(parse({"export", (s.root / "model.safetensors").string(), "--format", "pytorch",
                          (s.root / "pt.safetensors").string()}), out) == 0);
  const SafetensorsFile f = SafetensorsFile::read(s.root / "pt.safetensors");
  CHECK(f.meta("format") == "pytorch-state-dict");
  CHECK(f.meta("arch") == "resnet8");
  CHECK(f.meta("class_names") == R"(["cat","dog","eel"])");
  CHECK(f.meta("input_layout").starts_with("NCHW"));
  std::vector<std::string> names;
  for (const auto& [name, t] : model->state()) names.push_back(name);
  CHECK(f.names() == names);
  // The PyTorch module's names (tools/refinery_resnet.py), a projection block included.
  for (const char* n : {"stem.conv.weight", "stem.bn.running_var", "stage1.block0.conv2.weight",
                        "stage2.block0.shortcut.conv.weight", "stage3.block0.shortcut.bn.bias", "fc.weight", "fc.bias"})
    CHECK(f.has(n));
  CHECK(f.shape("stem.conv.weight") == Shape{16, 3, 3, 3});               // OIHW
  CHECK(f.shape("stage2.block0.shortcut.conv.weight") == Shape{32, 16, 1, 1});
  CHECK(f.shape("stage2.block0.conv1.weight") == Shape{32, 16, 3, 3});
  CHECK(f.shape("fc.weight") == Shape{3, 64});                            // [out, in]
  const auto state = model->state();
  auto ours = [&](const std::string& n) {
    for (const auto& [name, t] : state)
      if (name == n) return t.to_host();
    FAIL("no tensor " << n);
    return std::vector<float>{};
  };
  // Element [o][i][y][x] of the export is our KRSC [o][y][x][i].
  const auto w = ours("stage2.block0.conv1.weight"), e = f.tensor("stage2.block0.conv1.weight").to_host();
  for (const auto& [o, i, y, x] : {std::array<int, 4>{0, 0, 0, 0}, {31, 15, 2, 2}, {5, 7, 1, 2}, {9, 3, 2, 0}})
    CHECK(e[size_t(((o * 16 + i) * 3 + y) * 3 + x)] == w[size_t(((o * 3 + y) * 3 + x) * 16 + i)]);
  CHECK(f.tensor("fc.weight").to_host() == ours("fc.weight"));
  CHECK(f.tensor("stem.bn.running_var").to_host() == ours("stem.bn.running_var"));
}

TEST_CASE("evaluate: an image folder of other sizes, accuracy from the logits, SVG and tables") {
  Scratch s;
  auto model = tiny_model();
  models::save_model(*model, s.root / "model.safetensors");
  const fs::path data = s.root / "pets";
  int seed = 0;
  for (const char* split : {"train", "test"})
    for (const char* cls : {"cat", "dog", "eel"})
      for (int i = 0; i < 3; ++i) write_png(data / split / cls / (std::to_string(i) + ".png"), 12, 10, 3, ++seed);
  const fs::path logits = s.root / "logits.safetensors", svg = s.root / "cm.svg";
  std::ostringstream out;
  CHECK(run_evaluate(parse({"evaluate", (s.root / "model.safetensors").string(), "--data", data.string(), "--svg",
                            svg.string(), "--logits", logits.string()}),
                     Device::CPU, DataLocation{"", "", s.root / "downloads"}, out) == 0);
  INFO(out.str());
  const SafetensorsFile f = SafetensorsFile::read(logits);
  REQUIRE(f.shape("logits") == Shape{9, 3});
  CHECK(f.shape("pixels") == Shape{9, 8, 8, 3});  // resized to the model's input
  const auto l = f.tensor("logits").to_host(), y = f.tensor("labels").to_host();
  int correct = 0;
  for (int i = 0; i < 9; ++i) {
    const int best = int(std::max_element(l.begin() + i * 3, l.begin() + i * 3 + 3) - (l.begin() + i * 3));
    correct += best == int(y[size_t(i)]);
  }
  char acc[64];
  std::snprintf(acc, sizeof acc, "accuracy %.2f%% (%d correct)", 100.0 * correct / 9, correct);
  CHECK(out.str().find(acc) != std::string::npos);
  CHECK(out.str().find("images resized from 12x10 to the model's 8x8") != std::string::npos);
  CHECK(read_text_file(svg).starts_with("<svg"));

  // A dataset whose classes are not the model's is refused.
  fs::rename(data / "test" / "eel", data / "test" / "emu");
  fs::rename(data / "train" / "eel", data / "train" / "emu");
  CHECK_THROWS_WITH_AS(run_evaluate(parse({"evaluate", (s.root / "model.safetensors").string(), "--data", data.string()}),
                                    Device::CPU, DataLocation{"", "", s.root / "downloads"}, out),
                       doctest::Contains("classes differ"), std::exception);
}

TEST_CASE("confusion report: per-class accuracy, matrix table and SVG from known predictions") {
  train::ConfusionMatrix m(3);
  for (const auto& [t, p] : {std::pair{0, 0}, {0, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 2}, {2, 2}, {2, 2}}) m.add(t, p);
  const std::vector<std::string> names = {"cat", "dog", "eel"};
  CHECK(per_class_table(m, names) ==
        "class    images  accuracy\n"
        "cat           3    66.67%\n"
        "dog           1   100.00%\n"
        "eel           4    75.00%\n");
  CHECK(confusion_table(m, names) ==
        "true \\ predicted  0 1 2\n"
        "0 cat             2 1 0\n"
        "1 dog             0 1 0\n"
        "2 eel             1 0 3\n");
  const std::string svg = confusion_svg(m, names, "a < b");
  CHECK(svg.find("a &lt; b") != std::string::npos);
  CHECK(svg.find("<title>eel as cat: 1</title>") != std::string::npos);
  CHECK(svg.find("<title>eel as eel: 3</title>") != std::string::npos);
}

TEST_CASE("model commands: each takes its own flags; what is missing is named") {
  CHECK(parse({"predict", "m", "a.png", "b", "--top-k", "2"}).paths == std::vector<std::string>{"a.png", "b"});
  CHECK(parse({"export", "m", "--format", "pytorch", "o"}).out == "o");
  CHECK_THROWS_WITH_AS(parse({"predict", "m"}), doctest::Contains("no image or folder"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"export", "m", "o"}), doctest::Contains("--format pytorch is required"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"export", "m", "--format", "onnx", "o"}), doctest::Contains("not one of pytorch"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"evaluate", "m"}), doctest::Contains("--data"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"evaluate", "m", "--data", "d", "--top-k", "2"}),
                       doctest::Contains("--top-k is not a flag of refine_app evaluate"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"export", "m", "--format", "pytorch", "--cuda-graphs", "on", "o"}),
                       doctest::Contains("--cuda-graphs is not a flag of refine_app export"), UsageError);
}

TEST_CASE("model commands: --cuda-graphs is on by default on a GPU, off on the CPU, refused there when asked for") {
  const ModelCommand automatic = parse({"evaluate", "m", "--data", "d"});
  CHECK(cuda_graphs_for(automatic, Device::CUDA));
  CHECK_FALSE(cuda_graphs_for(automatic, Device::CPU));
  CHECK_FALSE(cuda_graphs_for(parse({"predict", "m", "a.png", "--cuda-graphs", "off"}), Device::CUDA));
  CHECK(cuda_graphs_for(parse({"predict", "m", "a.png", "--cuda-graphs", "on"}), Device::CUDA));
  CHECK_THROWS_WITH_AS(cuda_graphs_for(parse({"predict", "m", "a.png", "--cuda-graphs", "on"}), Device::CPU),
                       doctest::Contains("--cuda-graphs on: CUDA graphs need the GPU, and refine_app predict runs on the CPU"),
                       UsageError);
  CHECK_THROWS_WITH_AS(parse({"evaluate", "m", "--data", "d", "--cuda-graphs", "yes"}),
                       doctest::Contains("--cuda-graphs"), UsageError);
}
