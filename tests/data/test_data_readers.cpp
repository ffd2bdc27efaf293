// Readers on generated files and committed fixtures: exact pixels and labels, and clear errors.
#include <doctest/doctest.h>
#include <zlib.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "data/bytes.h"
#include "data/cifar_binary.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/registry.h"
#include "data/sample_order.h"
#include "data/svhn_mat.h"
#include "tests/data/test_util.h"

using namespace rf::data;
using rf::data::test::TempDir;
using rf::data::test::write_bytes;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = RF_TEST_FIXTURES_DIR;

// Record i: label i % 10, channel ch of pixel p = (i + 3 p + 101 ch) % 256.
Bytes cifar_records(std::size_t n, std::size_t first = 0) {
  Bytes b;
  for (std::size_t i = first; i < first + n; ++i) {
    b.push_back(static_cast<std::uint8_t>(i % 10));
    for (std::size_t ch = 0; ch < 3; ++ch)
      for (std::size_t p = 0; p < 1024; ++p) b.push_back(static_cast<std::uint8_t>((i + 3 * p + 101 * ch) % 256));
  }
  return b;
}

void check_cifar_pixels(const Dataset& d, std::size_t first) {
  for (std::size_t i = 0; i < d.size(); ++i) {
    REQUIRE(d.labels[i] == static_cast<int>((first + i) % 10));
    for (std::size_t p = 0; p < 1024; p += 37)
      for (std::size_t ch = 0; ch < 3; ++ch)
        REQUIRE(d.image(i)[3 * p + ch] == (first + i + 3 * p + 101 * ch) % 256);
  }
}

Bytes idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes gzip_bytes(const Bytes& raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// The pixel formula of tests/data/fixtures/make_mat_fixtures.py.
int mat_pixel(int r, int c, int ch, int n) { return (7 * r + 13 * c + 50 * ch + 3 * n) % 256; }

void check_svhn_fixture(const Dataset& d) {
  REQUIRE(d.size() == 6);
  CHECK(d.height == 4);
  CHECK(d.width == 5);
  CHECK(d.channels == 3);
  CHECK(d.labels == std::vector<std::int32_t>{0, 1, 2, 9, 0, 5});  // 10 -> digit 0
  for (int n = 0; n < 6; ++n)
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 5; ++c)
        for (int ch = 0; ch < 3; ++ch)
          REQUIRE(d.image(static_cast<std::size_t>(n))[(r * 5 + c) * 3 + ch] == mat_pixel(r, c, ch, n));
}

// Runs f and requires a std::runtime_error whose message contains every fragment.
template <class F>
void require_error(F&& f, std::initializer_list<const char*> fragments) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    for (const char* frag : fragments) {
      INFO("message: " << msg);
      CHECK(msg.find(frag) != std::string::npos);
    }
    return;
  }
  FAIL("expected std::runtime_error");
}

void write_png(const fs::path& p, int w, int h, const std::vector<std::uint8_t>& rgb) {
  fs::create_directories(p.parent_path());
  REQUIRE(stbi_write_png(p.string().c_str(), w, h, 3, rgb.data(), w * 3) != 0);
}

bool same_dataset(const Dataset& a, const Dataset& b) { return a.images == b.images && a.labels == b.labels; }

std::vector<std::uint8_t> pattern(int w, int h, int seed) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * 3));
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 11 + static_cast<std::size_t>(seed) * 29) % 256);
  return px;
}

}  // namespace

TEST_CASE("cifar10 binary: planar records become NHWC images with exact pixels and labels") {
  const Dataset d = parse_cifar10_batch(cifar_records(25), "mem");
  CHECK(d.name == "cifar10");
  CHECK(d.height == 32);
  CHECK(d.width == 32);
  CHECK(d.channels == 3);
  CHECK(d.classes == cifar10_class_names());
  check_cifar_pixels(d, 0);
}

TEST_CASE("cifar10 binary: a batches directory with class names from batches.meta.txt") {
  TempDir tmp;
  for (int b = 1; b <= 5; ++b)
    write_bytes(tmp.path() / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records(4, static_cast<std::size_t>(b - 1) * 4));
  write_bytes(tmp.path() / "test_batch.bin", cifar_records(3, 100));
  const std::string meta = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
  write_bytes(tmp.path() / "batches.meta.txt", Bytes(meta.begin(), meta.end()));
  CHECK(is_cifar10_binary_dir(tmp.path()));
  const TrainTest t = read_cifar10_binary(tmp.path());
  REQUIRE(t.train.size() == 20);
  REQUIRE(t.test.size() == 3);
  CHECK(t.train.classes[9] == "j");
  check_cifar_pixels(t.train, 0);
  check_cifar_pixels(t.test, 100);
  // The registry treats this directory as cifar10, whatever the directory is called, and keeps
  // the published order (no sample order is applied).
  const TrainTest via_path = load_dataset(tmp.path().string());
  CHECK(via_path.train.name == "cifar10");
  CHECK(via_path.train.images == t.train.images);
}

TEST_CASE("cifar10 binary: bad input is reported with the file name") {
  Bytes truncated = cifar_records(2);
  truncated.pop_back();
  require_error([&] { parse_cifar10_batch(truncated, "b.bin"); }, {"b.bin", "multiple"});
  require_error([&] { parse_cifar10_batch({}, "e.bin"); }, {"e.bin", "empty"});
  Bytes bad_label = cifar_records(2);
  bad_label[3073] = 10;
  require_error([&] { parse_cifar10_batch(bad_label, "l.bin"); }, {"l.bin", "record 1", "label 10"});
  require_error([&] { parse_cifar10_meta("a\nb\n", "meta.txt"); }, {"meta.txt", "10 class names"});
  TempDir tmp;
  write_bytes(tmp.path() / "data_batch_1.bin", cifar_records(1));
  require_error([&] { read_cifar10_binary(tmp.path()); }, {"data_batch_2.bin", "cannot open"});
}

TEST_CASE("idx: raw and gzip files give the same exact images and labels") {
  Bytes pixels(3 * 2 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 9);
  const Bytes images = idx_bytes(8, {3, 2, 4}, pixels);
  const Bytes labels = idx_bytes(8, {3}, {7, 0, 9});
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    const IdxArray im = parse_idx(gz ? gzip_bytes(images) : images, "im");
    const IdxArray lb = parse_idx(gz ? gzip_bytes(labels) : labels, "lb");
    CHECK(im.dims == std::vector<std::uint32_t>{3, 2, 4});
    const Dataset d = idx_dataset(im, lb, "im", "lb", fashion_mnist_class_names());
    CHECK(d.height == 2);
    CHECK(d.width == 4);
    CHECK(d.channels == 1);
    CHECK(d.images == pixels);
    CHECK(d.labels == std::vector<std::int32_t>{7, 0, 9});
  }
  TempDir tmp;
  write_bytes(tmp.path() / "train-images-idx3-ubyte.gz", gzip_bytes(images));
  write_bytes(tmp.path() / "train-labels-idx1-ubyte", labels);
  write_bytes(tmp.path() / "t10k-images-idx3-ubyte", images);
  write_bytes(tmp.path() / "t10k-labels-idx1-ubyte.gz", gzip_bytes(labels));
  const TrainTest t = read_fashion_mnist(tmp.path());
  CHECK(t.train.images == pixels);
  CHECK(t.test.labels == std::vector<std::int32_t>{7, 0, 9});
  CHECK(t.train.name == "fashion-mnist");
}

TEST_CASE("idx: bad input is reported with the file name") {
  const Bytes images = idx_bytes(8, {2, 2, 2}, Bytes(8, 1));
  require_error([&] { parse_idx(Bytes{1, 2, 8, 1, 0, 0, 0, 0}, "m.idx"); }, {"m.idx", "magic"});
  require_error([&] { parse_idx(idx_bytes(0x0D, {2}, Bytes(8)), "f.idx"); }, {"f.idx", "type"});
  Bytes truncated = images;
  truncated.pop_back();
  require_error([&] { parse_idx(truncated, "t.idx"); }, {"t.idx", "7"});
  require_error([&] { parse_idx(Bytes{0, 0, 8, 3, 0, 0}, "h.idx"); }, {"h.idx", "truncated"});
  Bytes gz = gzip_bytes(images);
  gz.resize(gz.size() / 2);
  require_error([&] { parse_idx(gz, "g.gz"); }, {"g.gz", "truncated"});
  Bytes garbled = gzip_bytes(images);
  for (std::size_t i = 10; i < garbled.size(); ++i) garbled[i] = static_cast<std::uint8_t>(garbled[i] ^ 0x5a);
  require_error([&] { parse_idx(garbled, "c.gz"); }, {"c.gz", "corrupt"});
  const IdxArray im = parse_idx(images, "im");
  require_error([&] { idx_dataset(im, parse_idx(idx_bytes(8, {3}, {1, 2, 3}), "lb"), "im", "lb", fashion_mnist_class_names()); },
                {"lb", "3 labels for 2 images"});
  require_error([&] { idx_dataset(im, parse_idx(idx_bytes(8, {2}, {1, 10}), "lb"), "im", "lb", fashion_mnist_class_names()); },
                {"lb", "label 10", "sample 1"});
  TempDir tmp;
  require_error([&] { read_fashion_mnist(tmp.path()); }, {"train-images-idx3-ubyte", "missing"});
}

TEST_CASE("svhn mat: plain and compressed fixtures (scipy.io.savemat) give column-major pixels and 10 -> 0") {
  for (const char* file : {"svhn_plain.mat", "svhn_compressed.mat", "svhn_uint8_labels.mat"}) {
    CAPTURE(file);
    const Dataset d = parse_svhn_mat(read_file(kFixtures / file), file);
    CHECK(d.name == "svhn");
    CHECK(d.num_classes() == 10);
    check_svhn_fixture(d);
  }
  const auto vars = parse_mat(read_file(kFixtures / "svhn_uint8_labels.mat"), "u8");
  bool found_note = false;
  for (const auto& v : vars) found_note |= v.name == "note" && v.mx_class == MatClass::Char;
  CHECK(found_note);
}

TEST_CASE("svhn mat: a single image (trailing singleton dimension dropped)") {
  const Dataset d = parse_svhn_mat(read_file(kFixtures / "svhn_single.mat"), "single");
  REQUIRE(d.size() == 1);
  CHECK(d.labels[0] == 3);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 5; ++c)
      for (int ch = 0; ch < 3; ++ch) REQUIRE(d.image(0)[(r * 5 + c) * 3 + ch] == mat_pixel(r, c, ch, 2));
}

TEST_CASE("svhn mat: bad input is reported with the file name") {
  require_error([&] { parse_svhn_mat(read_file(kFixtures / "svhn_bad_label.mat"), "bad.mat"); },
                {"bad.mat", "label 0", "sample 2"});
  require_error([&] { parse_svhn_mat(read_file(kFixtures / "svhn_label_count.mat"), "cnt.mat"); },
                {"cnt.mat", "'y' must be N x 1"});
  for (const char* file : {"svhn_plain.mat", "svhn_compressed.mat"}) {
    const Bytes full = read_file(kFixtures / file);
    for (std::size_t len = 0; len < full.size(); len += 7) {
      CAPTURE(len);
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      require_error([&] { parse_svhn_mat(cut, "cut.mat"); }, {"cut.mat"});
    }
  }
  Bytes garbled = read_file(kFixtures / "svhn_compressed.mat");
  for (std::size_t i = 150; i < garbled.size(); ++i) garbled[i] = static_cast<std::uint8_t>(garbled[i] ^ 0xa5);
  require_error([&] { parse_svhn_mat(garbled, "garbled.mat"); }, {"garbled.mat"});
  Bytes v73 = read_file(kFixtures / "svhn_plain.mat");
  const std::string header = "MATLAB 7.3 MAT-file";
  std::copy(header.begin(), header.end(), v73.begin());
  require_error([&] { parse_svhn_mat(v73, "v73.mat"); }, {"v73.mat", "HDF5"});
  require_error([&] { parse_svhn_mat(Bytes(200, 'x'), "junk.mat"); }, {"junk.mat", "header"});
  TempDir tmp;
  require_error([&] { read_svhn(tmp.path()); }, {"train_32x32.mat", "cannot open"});
}

TEST_CASE("image folder: sorted classes, exact PNG/BMP pixels, grayscale replicated to RGB") {
  TempDir tmp;
  const fs::path root = tmp.path() / "shapes";
  write_png(root / "train" / "zebra" / "b.png", 3, 2, pattern(3, 2, 1));
  write_png(root / "train" / "zebra" / "a.png", 3, 2, pattern(3, 2, 2));
  fs::create_directories(root / "train" / "ant");
  REQUIRE(stbi_write_bmp((root / "train" / "ant" / "x.BMP").string().c_str(), 3, 2, 3, pattern(3, 2, 3).data()));
  const std::vector<std::uint8_t> gray = {0, 50, 100, 150, 200, 250};
  REQUIRE(stbi_write_png((root / "train" / "ant" / "y.png").string().c_str(), 3, 2, 1, gray.data(), 3));
  write_bytes(root / "train" / "ant" / "notes.txt", {'h', 'i'});
  write_png(root / "test" / "ant" / "t.png", 3, 2, pattern(3, 2, 4));
  write_png(root / "test" / "zebra" / "t.png", 3, 2, pattern(3, 2, 5));

  ImageFolderOptions two_threads;
  two_threads.threads = 2;
  const TrainTest t = read_image_folder(root, "shapes", two_threads);
  CHECK(t.train.classes == std::vector<std::string>{"ant", "zebra"});
  REQUIRE(t.train.size() == 4);
  CHECK(t.train.labels == std::vector<std::int32_t>{0, 0, 1, 1});
  CHECK(t.train.height == 2);
  CHECK(t.train.width == 3);
  auto same = [](const std::uint8_t* a, const std::vector<std::uint8_t>& b) { return std::equal(b.begin(), b.end(), a); };
  CHECK(same(t.train.image(0), pattern(3, 2, 3)));  // ant/x.BMP
  for (std::size_t p = 0; p < 6; ++p)
    for (std::size_t ch = 0; ch < 3; ++ch) CHECK(t.train.image(1)[3 * p + ch] == gray[p]);
  CHECK(same(t.train.image(2), pattern(3, 2, 2)));  // zebra/a.png before b.png
  CHECK(same(t.train.image(3), pattern(3, 2, 1)));
  CHECK(same(t.test.image(1), pattern(3, 2, 5)));

  // By path, the tree's directory name becomes the dataset name.
  LoadOptions file_order;
  file_order.sample_order_seed.reset();
  const TrainTest via_path = load_dataset(root.string(), file_order);
  CHECK(via_path.train.name == "shapes");
  CHECK(via_path.train.images == t.train.images);
}

TEST_CASE("image folder: files listed class by class are loaded in one seeded order that mixes the classes") {
  // 3 classes x 20 images; image k (in file order) is filled with the value k.
  TempDir tmp;
  const fs::path root = tmp.path() / "sorted";
  constexpr int kPerClass = 20;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < kPerClass; ++i) {
      const std::string name = std::to_string(100 + i) + ".png";
      write_png(root / "train" / ("class" + std::to_string(c)) / name, 2, 2,
                std::vector<std::uint8_t>(12, static_cast<std::uint8_t>(c * kPerClass + i)));
      if (i < 4)
        write_png(root / "test" / ("class" + std::to_string(c)) / name, 2, 2,
                  std::vector<std::uint8_t>(12, static_cast<std::uint8_t>(200 + c * 4 + i)));
    }
  LoadOptions files;
  files.sample_order_seed.reset();
  const TrainTest listed = load_dataset(root.string(), files);
  REQUIRE(listed.train.size() == 60);
  REQUIRE(std::is_sorted(listed.train.labels.begin(), listed.train.labels.end()));

  // The default: sample_order(n, kDefaultSampleOrderSeed) of the listed files, for both splits.
  const TrainTest t = load_dataset(root.string());
  const std::vector<std::size_t> order = sample_order(60, kDefaultSampleOrderSeed);
  std::vector<std::size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == i);  // a permutation
  for (std::size_t i = 0; i < 60; ++i) {
    CAPTURE(i);
    REQUIRE(t.train.image(i)[0] == order[i]);  // position i holds file order[i]
    REQUIRE(t.train.labels[i] == listed.train.labels[order[i]]);
  }
  CHECK(same_dataset(t.test, in_sample_order(listed.test, kDefaultSampleOrderSeed)));
  CHECK(!same_dataset(t.test, listed.test));

  // The classes are mixed: the blog's tail (the last 15%) and the first images (Figure 4) hold
  // more than one class each.
  const auto classes_in = [&](std::size_t from, std::size_t to) {
    return std::set<std::int32_t>(t.train.labels.begin() + std::ptrdiff_t(from), t.train.labels.begin() + std::ptrdiff_t(to)).size();
  };
  CHECK(classes_in(51, 60) >= 2);
  CHECK(classes_in(0, 12) == 3);

  // Repeatable, the same whether decoded or read from the cache, and decided by its seed.
  TempDir cache;
  LoadOptions cached;
  cached.cache_dir = cache.path();
  CHECK(same_dataset(load_dataset(root.string(), cached).train, t.train));  // decoded, cache written
  CHECK(same_dataset(load_dataset(root.string(), cached).train, t.train));  // from the cache
  LoadOptions other;
  other.sample_order_seed = 7;
  const TrainTest seven = load_dataset(root.string(), other);
  CHECK(same_dataset(seven.train, in_sample_order(listed.train, 7)));
  CHECK(seven.train.labels != t.train.labels);
  // The permutation is part of what a recorded run means: it must never change.
  CHECK(sample_order(10, 0) == std::vector<std::size_t>{6, 9, 2, 0, 4, 7, 3, 5, 1, 8});
}

TEST_CASE("image folder: JPEG decodes close to its source") {
  TempDir tmp;
  const auto src = pattern(8, 8, 0);
  std::vector<std::uint8_t> smooth(8 * 8 * 3);
  for (std::size_t i = 0; i < smooth.size(); ++i) smooth[i] = static_cast<std::uint8_t>(60 + (i / 3) * 2);
  const fs::path file = tmp.path() / "x.jpg";
  REQUIRE(stbi_write_jpg(file.string().c_str(), 8, 8, 3, smooth.data(), 100));
  const DecodedImage img = decode_image(read_file(file), file.string());
  REQUIRE(img.pixels.size() == smooth.size());
  for (std::size_t i = 0; i < smooth.size(); ++i) CHECK(std::abs(int(img.pixels[i]) - int(smooth[i])) <= 8);
}

TEST_CASE("image folder: bad input is reported with the file name") {
  TempDir tmp;
  const fs::path root = tmp.path();
  write_png(root / "train" / "a" / "1.png", 4, 4, pattern(4, 4, 0));
  write_png(root / "train" / "b" / "1.png", 4, 4, pattern(4, 4, 1));
  fs::create_directories(root / "train" / "c");
  require_error([&] { read_image_folder_split(root / "train", "x"); }, {"train/c", "empty class folder"});
  fs::remove(root / "train" / "c");
  write_png(root / "train" / "b" / "2.png", 5, 4, pattern(5, 4, 2));
  require_error([&] { read_image_folder_split(root / "train", "x"); }, {"b/2.png", "4x5 (HxW)", "4x4", "--image-size"});
  fs::remove(root / "train" / "b" / "2.png");
  write_bytes(root / "train" / "b" / "3.jpg", {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 3});
  require_error([&] { read_image_folder_split(root / "train", "x"); }, {"b/3.jpg", "cannot decode"});
  fs::remove(root / "train" / "b" / "3.jpg");
  require_error([&] { read_image_folder(root, "x"); }, {"test", "missing split directory"});
  write_png(root / "test" / "a" / "1.png", 4, 4, pattern(4, 4, 3));
  require_error([&] { read_image_folder(root, "x"); }, {"test", "class folders differ"});
  require_error([&] { load_dataset((root / "nowhere").string()); }, {"nowhere", "unknown dataset"});
  LoadOptions o;
  o.search_dirs = {root / "nowhere"};
  require_error([&] { load_dataset("svhn", o); }, {"svhn", "not found"});
}
