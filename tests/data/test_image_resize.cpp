// Resizing (data/image_resize.h) against a naive two-dimensional reference, channel conversion
// while decoding, and image folders of mixed sizes read with a requested size.
#include <doctest/doctest.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "data/image_folder.h"
#include "data/image_resize.h"
#include "data/registry.h"
#include "test_util.h"
#include "tests/error_of.h"

namespace fs = std::filesystem;
using namespace rf::data;
using rf::data::test::TempDir;
using rf::test::error_of;

namespace {

// The filter as the header states it, computed per output pixel over the whole image in double
// precision (no separability, no precomputed taps).
std::vector<double> reference_resize(const std::vector<std::uint8_t>& src, ImageSize from, int channels, ImageSize to) {
  auto weight = [](int i, int o, int n_in, int n_out) {
    const double s = double(n_in) / n_out, support = std::max(s, 1.0), centre = (o + 0.5) * s;
    return std::max(0.0, 1.0 - std::abs(i + 0.5 - centre) / support);
  };
  std::vector<double> out(size_t(to.height * to.width * channels));
  for (int y = 0; y < to.height; ++y)
    for (int x = 0; x < to.width; ++x)
      for (int c = 0; c < channels; ++c) {
        double sum = 0, total = 0;
        for (int i = 0; i < from.height; ++i)
          for (int j = 0; j < from.width; ++j) {
            const double w = weight(i, y, from.height, to.height) * weight(j, x, from.width, to.width);
            sum += w * src[size_t((i * from.width + j) * channels + c)];
            total += w;
          }
        out[size_t((y * to.width + x) * channels + c)] = sum / total;
      }
  return out;
}

std::vector<std::uint8_t> random_image(ImageSize s, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(size_t(s.height * s.width * channels));
  for (auto& x : v) x = std::uint8_t(rng() % 256);
  return v;
}

}  // namespace

TEST_CASE("resize: down, up, mixed and odd factors match the naive reference to rounding") {
  const std::vector<std::pair<ImageSize, ImageSize>> cases = {
      {{32, 32}, {28, 28}}, {{40, 30}, {32, 32}}, {{7, 5}, {16, 11}}, {{64, 48}, {9, 13}}, {{3, 17}, {5, 4}}};
  for (const int channels : {1, 3}) {
    unsigned seed = 1;
    for (const auto& [from, to] : cases) {
      const auto src = random_image(from, channels, seed++);
      const auto got = resize_image(src.data(), from, channels, to);
      const auto want = reference_resize(src, from, channels, to);
      REQUIRE(got.size() == want.size());
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
      INFO(from.height << "x" << from.width << " -> " << to.height << "x" << to.width << ", " << channels << " channels");
      CHECK(worst <= 0.5 + 1e-3);  // rounding to the nearest integer, float accumulation
    }
  }
}

TEST_CASE("resize: halving averages with weights 1,3,3,1; same size is the identity; constants stay") {
  // One row of 4 pixels to 2: output 0 is centred at input 1.0, so pixels 0..2 weigh 3, 3, 1
  // (pixel -1 is outside); output 1 weighs pixels 1..3 as 1, 3, 3.
  const std::vector<std::uint8_t> row = {0, 80, 160, 240};
  const auto half = resize_image(row.data(), {1, 4}, 1, {1, 2});
  CHECK(half == std::vector<std::uint8_t>{std::uint8_t(std::lround((3 * 0 + 3 * 80 + 1 * 160) / 7.0)),
                                          std::uint8_t(std::lround((1 * 80 + 3 * 160 + 3 * 240) / 7.0))});
  const auto img = random_image({6, 5}, 3, 9);
  CHECK(resize_image(img.data(), {6, 5}, 3, {6, 5}) == img);
  const std::vector<std::uint8_t> flat(10 * 7 * 3, 77);
  const auto scaled = resize_image(flat.data(), {10, 7}, 3, {4, 15});
  CHECK(std::all_of(scaled.begin(), scaled.end(), [](std::uint8_t v) { return v == 77; }));
}

TEST_CASE("decode: grayscale and gray+alpha replicate to RGB, RGBA drops alpha, gray models refuse color") {
  TempDir tmp;
  const std::vector<std::uint8_t> ga = {10, 255, 20, 0, 30, 128, 40, 7};  // 2x2 gray + alpha
  const std::vector<std::uint8_t> rgba = {1, 2, 3, 4, 5, 6, 7, 8};        // 2x1 RGBA
  const std::vector<std::uint8_t> rgb_gray = {9, 9, 9, 200, 200, 200};    // 2x1 gray stored as RGB
  const std::vector<std::uint8_t> rgb = {9, 9, 10, 200, 200, 200};
  const fs::path f_ga = tmp.path() / "ga.png", f_rgba = tmp.path() / "rgba.png", f_rg = tmp.path() / "rg.png",
                 f_rgb = tmp.path() / "rgb.png";
  REQUIRE(stbi_write_png(f_ga.c_str(), 2, 2, 2, ga.data(), 4));
  REQUIRE(stbi_write_png(f_rgba.c_str(), 2, 1, 4, rgba.data(), 8));
  REQUIRE(stbi_write_png(f_rg.c_str(), 2, 1, 3, rgb_gray.data(), 6));
  REQUIRE(stbi_write_png(f_rgb.c_str(), 2, 1, 3, rgb.data(), 6));

  const DecodedImage a = decode_image(read_file(f_ga), f_ga.string());
  CHECK(a.source_channels == 2);
  CHECK(a.pixels == Bytes{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40});
  CHECK(decode_image(read_file(f_ga), f_ga.string(), 1).pixels == Bytes{10, 20, 30, 40});
  const DecodedImage b = decode_image(read_file(f_rgba), f_rgba.string());
  CHECK(b.source_channels == 4);
  CHECK(b.pixels == Bytes{1, 2, 3, 5, 6, 7});
  CHECK(decode_image(read_file(f_rg), f_rg.string(), 1).pixels == Bytes{9, 200});
  const std::string e = error_of([&] { decode_image(read_file(f_rgb), f_rgb.string(), 1); });
  CHECK(e.find("rgb.png") != std::string::npos);
  CHECK(e.find("color image") != std::string::npos);
}

TEST_CASE("image folder of mixed sizes and channel counts: --image-size resizes on load, said once") {
  TempDir tmp;
  const fs::path root = tmp.path() / "mine";
  auto write = [](const fs::path& p, ImageSize s, int channels, unsigned seed) {
    fs::create_directories(p.parent_path());
    const auto px = random_image(s, channels, seed);
    REQUIRE(stbi_write_png(p.c_str(), s.width, s.height, channels, px.data(), s.width * channels));
    return px;
  };
  const auto big = write(root / "train" / "a" / "1.png", {12, 10}, 3, 1);
  write(root / "train" / "a" / "2.png", {6, 6}, 1, 2);
  write(root / "train" / "b" / "1.png", {9, 14}, 4, 3);
  write(root / "test" / "a" / "1.png", {6, 6}, 3, 4);
  write(root / "test" / "b" / "1.png", {6, 6}, 3, 5);

  CHECK(error_of([&] { load_dataset(root.string()); }).find("--image-size") != std::string::npos);
  std::vector<std::string> said;
  LoadOptions o;
  o.image_size = ImageSize{6, 6};
  o.sample_order_seed.reset();
  o.log = [&](const std::string& m) { said.push_back(m); };
  const TrainTest t = load_dataset(root.string(), o);
  CHECK(t.train.height == 6);
  CHECK(t.train.width == 6);
  CHECK(t.train.channels == 3);
  REQUIRE(t.train.size() == 3);
  const auto want = resize_image(big.data(), {12, 10}, 3, {6, 6});
  CHECK(std::equal(want.begin(), want.end(), t.train.image(0)));
  // One line per split for the conversions, one for the resizing, each with its count.
  const auto count = [&](const std::string& needle) {
    return std::count_if(said.begin(), said.end(), [&](const std::string& m) { return m.find(needle) != std::string::npos; });
  };
  CHECK(count("1 grayscale images replicated to RGB, 1 images with alpha") == 1);
  CHECK(count("2 images resized to 6x6") == 1);
  CHECK(count("resized") == 1);  // the test split was already 6x6
}
