// Model files describe their data: the description survives a save and load, files written
// before it existed still load for training, and a use that needs it names what is missing.
// The PyTorch export state: names unchanged, conv weights OIHW, linear [out, in].
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/safetensors.h"
#include "models/factory.h"
#include "models/model_file.h"
#include "models/pytorch_export.h"
#include "tests/error_of.h"

namespace fs = std::filesystem;
using namespace rf;
using namespace rf::models;
using rf::test::error_of;

namespace {

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("rf_test_model_file_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(root); }
  ~Scratch() { fs::remove_all(root); }
};

DataDescription three_classes() {
  DataDescription d;
  d.height = 8;
  d.width = 6;
  d.channels = 3;
  d.mean = {0.49f, 0.48f, 0.45f};
  d.stddev = {0.25f, 0.24f, 0.26f};
  d.class_names = {"cat", "dog", "eel, \"electric\""};
  return d;
}

}  // namespace

TEST_CASE("model file: the data description round-trips; checkpoints written by save_model carry it too") {
  Scratch s;
  auto m = make_model("resnet8", {.classes = 3, .in_channels = 3, .seed = 1});
  m->set_description(three_classes());
  save_model(*m, s.root / "m.safetensors");
  const SafetensorsFile f = SafetensorsFile::read(s.root / "m.safetensors");
  CHECK(f.meta("class_names") == R"(["cat","dog","eel, \"electric\""])");
  CHECK(f.meta("input_height") == "8");
  CHECK(f.meta("input_width") == "6");
  CHECK(f.meta("in_channels") == "3");
  const auto back = load_model(s.root / "m.safetensors");
  REQUIRE(back->description());
  CHECK(*back->description() == three_classes());  // floats bit-exact through their JSON text
  // A checkpoint's metadata is a model file's plus its own keys.
  save_model(*m, s.root / "c.safetensors", {{"format", kCheckpointFileFormat}, {"epochs_done", "0"}});
  CHECK(*load_described_model(s.root / "c.safetensors", Device::CPU, "predict")->description() == three_classes());
}

TEST_CASE("model file: an older file without a description loads for training; predict says what is missing") {
  Scratch s;
  auto m = make_model("resnet8", {.classes = 3, .in_channels = 3, .seed = 1});
  save_model(*m, s.root / "old.safetensors");  // no description set: as files were written before
  const auto back = load_model(s.root / "old.safetensors");
  CHECK_FALSE(back->description());
  CHECK(back->state().front().second.to_host() == m->state().front().second.to_host());
  const std::string e = error_of([&] { load_described_model(s.root / "old.safetensors", Device::CPU, "predict"); });
  CHECK(e.find("old.safetensors") != std::string::npos);
  CHECK(e.find("predict needs") != std::string::npos);
  CHECK(e.find("input_height, input_width, input_layout, normalization_mean, normalization_std, class_names") != std::string::npos);
  // A description that does not fit the model is refused.
  DataDescription two = three_classes();
  two.class_names.pop_back();
  CHECK(error_of([&] { m->set_description(two); }).find("2 class names for a model of 3 classes") != std::string::npos);
}

TEST_CASE("model file: a file that is not a model is named") {
  Scratch s;
  std::ofstream(s.root / "notes.safetensors") << "hello";
  CHECK(error_of([&] { load_model(s.root / "notes.safetensors"); }).find("notes.safetensors") != std::string::npos);
  write_safetensors(s.root / "other.safetensors", {{"x", Tensor::zeros({2})}}, {{"format", "pt"}});
  const std::string e = error_of([&] { load_model(s.root / "other.safetensors"); });
  CHECK(e.find("other.safetensors: not a refinery model file") != std::string::npos);
}

TEST_CASE("pytorch state: our names, conv weights OIHW, linear [out, in], everything else as is") {
  auto m = make_model("resnet8", {.classes = 3, .in_channels = 3, .seed = 2});
  const NamedTensors ours = m->state();
  const NamedTensors theirs = pytorch_state(*m);
  REQUIRE(theirs.size() == ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    CAPTURE(ours[i].first);
    CHECK(theirs[i].first == ours[i].first);
    const Shape& s = ours[i].second.shape();
    const std::vector<float> a = ours[i].second.to_host(), b = theirs[i].second.to_host();
    if (s.size() != 4) {
      CHECK(theirs[i].second.shape() == s);
      CHECK(a == b);
      continue;
    }
    const int64_t k = s[0], r = s[1], w = s[2], c = s[3];
    REQUIRE(theirs[i].second.shape() == Shape{k, c, r, w});
    for (int64_t o = 0; o < k; ++o)
      for (int64_t y = 0; y < r; ++y)
        for (int64_t x = 0; x < w; ++x)
          for (int64_t ch = 0; ch < c; ++ch)
            REQUIRE(b[size_t(((o * c + ch) * r + y) * w + x)] == a[size_t(((o * r + y) * w + x) * c + ch)]);
  }
}
