// Checkpoint files: atomic writes, the strict JSON parser, safetensors layout, a model round trip
// giving identical outputs, and clear errors (never garbage weights) for truncated or corrupt
// files.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/check.h"
#include "engine/json.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "models/model_file.h"

using namespace rf;

namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("rf_test_ckpt_" + std::to_string(::getpid()) + "_" + name);
}

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

Variable probe_images() {
  std::vector<float> v(2 * 8 * 8 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 17) / 17.f - 0.4f;
  return Variable(Tensor::from_host(v, {2, 8, 8, 3}));
}

std::vector<float> eval_logits(models::Model& m) {
  m.set_training(false);
  NoGrad ng;
  return m.forward(probe_images()).value().to_host();
}

}  // namespace

TEST_CASE("JSON: strict parsing and exact number round trip") {
  const Json j = parse_json(R"( {"a": [1, -2.5e3, true, null], "s": "x\"\u00e9\ud83d\ude00"} )", "t");
  CHECK(j.at("a").size() == 4);
  CHECK(j.at("a")[1].get<double>() == -2500);
  CHECK(j.at("s").get<std::string>() == "x\"\xc3\xa9\xf0\x9f\x98\x80");
  for (const char* bad : {"{\"a\":1,}", "[1 2]", "01", "{'a':1}", "\"\x01\"", "[1]x", "", "{\"a\":1,\"a\":2}",
                          "tru", "1.", "\"\\ud800\""})
    CHECK_THROWS_AS(parse_json(bad, "t"), Error);
  const double x = 0.1 + 0.2;
  CHECK(parse_json(Json(x).dump(), "t").get<double>() == x);
  CHECK(parse_json(Json(float(0.3f)).dump(), "t").get<double>() == double(0.3f));
}

TEST_CASE("JSON: errors name the file and what is wrong") {
  CHECK_THROWS_WITH_AS(parse_json("{\"a\":1,\"a\":2}", "run/config.json"),
                       doctest::Contains("run/config.json: invalid JSON: duplicate key \"a\""), Error);
  CHECK_THROWS_WITH_AS(parse_json("[1 2]", "run/stats.json"), doctest::Contains("run/stats.json: invalid JSON at byte"), Error);
  CHECK_THROWS_WITH_AS(parse_json(std::string(65, '[') + std::string(65, ']'), "deep.json"),
                       doctest::Contains("deep.json: invalid JSON: nesting deeper than 64"), Error);
  const Json j = parse_json(R"({"epochs": 2.5, "lr": "x"})", "t");
  CHECK_THROWS_WITH_AS(read_json("run/metrics.jsonl", [&] { return j.at("missing").get<double>(); }),
                       doctest::Contains("run/metrics.jsonl: [json.exception.out_of_range.403] key 'missing' not found"), Error);
  CHECK_THROWS_WITH_AS(read_json("f", [&] { return j.at("lr").get<double>(); }), doctest::Contains("f: "), Error);
  CHECK_THROWS_WITH_AS(json_integer(j.at("epochs")), doctest::Contains("expected an integer"), Error);
  CHECK(json_integer<int>(parse_json("-3", "t")) == -3);
  CHECK_THROWS_AS(json_integer<int>(parse_json("4294967296", "t")), Error);
}

TEST_CASE("atomic files: replaced whole, parts in order, the umask's permissions, no temporary left") {
  const auto dir = temp_file("atomic");
  std::filesystem::create_directories(dir);
  const auto file = dir / "f.bin";
  write_file_atomic(file, "old contents");
  const std::vector<std::string_view> parts{"ab", "", "cde"};
  write_file_atomic(file, parts);
  CHECK(read_bytes(file) == "abcde");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);

  const mode_t old_mask = ::umask(022);
  write_file_atomic(file, "x");
  ::umask(old_mask);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);  // as any new file: readable by others (mkstemp gave 0600)

  // Writers on several threads at once each write a whole file; the last rename wins.
  std::vector<std::thread> writers;
  for (char c : std::string("pqrs"))
    writers.emplace_back([&file, c] { write_file_atomic(file, std::string(100000, c)); });
  for (std::thread& t : writers) t.join();
  const std::string last = read_bytes(file);
  CHECK(last.size() == 100000);
  CHECK(last == std::string(100000, last[0]));

  CHECK_THROWS_WITH_AS(write_file_atomic(dir / "missing" / "f.bin", "x"),
                       doctest::Contains("missing/f.bin: cannot create a temporary file"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("atomic files: the temporaries of killed writers are removed, nothing else") {
  const auto dir = temp_file("stale");
  std::filesystem::create_directories(dir);
  const std::vector<std::string> stale{".checkpoint.safetensors.tmp.4242.0", ".x.tmp.1.17"};
  const std::vector<std::string> kept{"checkpoint.safetensors", ".hidden", "a.tmp.1.2",
                                      ".b.tmp.12x.3", ".c.tmp.1.", ".tmp.1.2", ".d.tmp.5"};
  for (const auto& names : {stale, kept})
    for (const std::string& n : names) write_bytes(dir / n, "x");
  CHECK(remove_stale_temporaries(dir) == 2);
  for (const std::string& n : stale) CHECK_MESSAGE(!std::filesystem::exists(dir / n), n);
  for (const std::string& n : kept) CHECK_MESSAGE(std::filesystem::exists(dir / n), n);
  CHECK(remove_stale_temporaries(dir / "none") == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: 8-byte length, JSON header padded to 8, F32 data in order") {
  const auto file = temp_file("layout.safetensors");
  write_safetensors(file, {{"a", Tensor::from_host({1, 2, 3}, {3})}, {"b", Tensor::from_host({4, 5}, {1, 2})}},
                    {{"k", "v"}});
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 5 * 4);
  const Json h = parse_json(bytes.substr(8, n), "header");
  CHECK(h.at("a").at("dtype").get<std::string>() == "F32");
  CHECK(h.at("b").at("data_offsets")[0].get<int64_t>() == 12);
  CHECK(h.at("__metadata__").at("k").get<std::string>() == "v");
  const SafetensorsFile f = SafetensorsFile::read(file);
  CHECK(f.tensor("b").to_host() == std::vector<float>{4, 5});
  CHECK(f.meta("k") == "v");
  std::filesystem::remove(file);
}

TEST_CASE("a model saved and loaded gives identical outputs") {
  const auto file = temp_file("model.safetensors");
  auto a = models::make_model("resnet8", {.classes = 3, .seed = 1});
  {  // move the BN statistics away from their initial values
    Variable y = a->forward(probe_images());
  }
  models::save_model(*a, file);
  auto b = models::load_model(file);
  CHECK(b->arch() == "resnet8");
  CHECK(eval_logits(*b) == eval_logits(*a));
  std::filesystem::remove(file);
}

TEST_CASE("truncated or corrupt checkpoints give errors naming the file and the problem") {
  const auto file = temp_file("good.safetensors");
  const auto bad = temp_file("bad.safetensors");
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 1});
  models::save_model(*model, file);
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const std::vector<float> before = model->parameters().values().to_host();

  auto expect_error = [&](const std::string& contents, const std::string& what) {
    write_bytes(bad, contents);
    CAPTURE(what);
    try {
      auto target = models::make_model("resnet8", {.classes = 3, .seed = 1});
      models::load_model_state(*target, SafetensorsFile::read(bad));
      FAIL("no error");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find(bad.string()) != std::string::npos);
      CHECK(msg.find(what) != std::string::npos);
    }
  };
  expect_error(bytes.substr(0, 5), "truncated");
  expect_error(bytes.substr(0, 8 + n / 2), "truncated");
  expect_error(bytes.substr(0, bytes.size() - 4), "outside");  // data cut short
  std::string garbled = bytes;
  garbled[8 + n / 2] = '\x01';  // invalid inside and outside strings
  expect_error(garbled, "invalid JSON");
  std::string huge = bytes;
  const uint64_t big = uint64_t(1) << 40;
  std::memcpy(huge.data(), &big, 8);
  expect_error(huge, "implausible");
  expect_error(bytes + "xx", "trailing");

  // The right file for another model: named mismatch, nothing loaded.
  auto other = models::make_model("resnet20", {.classes = 3});
  CHECK_THROWS_WITH_AS(models::load_model_state(*other, SafetensorsFile::read(file)),
                       doctest::Contains("cannot be loaded into a 'resnet20'"), Error);
  auto classes = models::make_model("resnet8", {.classes = 4});
  CHECK_THROWS_WITH_AS(models::load_model_state(*classes, SafetensorsFile::read(file)),
                       doctest::Contains("classes"), Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::read(temp_file("missing.safetensors")),
                       doctest::Contains("cannot open"), Error);
  CHECK(model->parameters().values().to_host() == before);
  std::filesystem::remove(file);
  std::filesystem::remove(bad);
}

TEST_CASE("a shape mismatch inside a well-formed file is an error before anything is copied") {
  const auto file = temp_file("shape.safetensors");
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 1});
  models::NamedTensors state = model->state();
  state[0].second = Tensor::zeros({1, 2, 3});
  TensorMetadata meta = models::model_metadata(*model);
  write_safetensors(file, state, meta);
  auto target = models::make_model("resnet8", {.classes = 3, .seed = 2});
  const std::vector<float> before = target->parameters().values().to_host();
  CHECK_THROWS_WITH_AS(models::load_model_state(*target, SafetensorsFile::read(file)),
                       doctest::Contains("stem.conv.weight' has shape [1, 2, 3]"), Error);
  CHECK(target->parameters().values().to_host() == before);
  std::filesystem::remove(file);
}
