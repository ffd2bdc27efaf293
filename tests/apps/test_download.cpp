// --download against a server on loopback: MD5, tar.gz unpacking, refusal of bad checksums and
// of unsafe archives, and no partial file left that could later look valid.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "apps/download.h"
#include "apps/md5.h"
#include "apps/tar_extract.h"
#include "data/registry.h"
#include "loopback_http_server.h"

namespace fs = std::filesystem;
using namespace rf::app;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("rf_test_download_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// One ustar member (regular file or directory).
void tar_member(std::string& tar, const std::string& name, const std::string& body, char type = '0') {
  std::string h(512, '\0');
  h.replace(0, name.size(), name);
  auto octal = [&](size_t at, size_t width, unsigned long v) {
    char b[32];
    std::snprintf(b, sizeof b, "%0*lo", int(width - 1), v);
    h.replace(at, width - 1, b);
  };
  octal(100, 8, 0644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, body.size());
  octal(136, 12, 0);
  h[156] = type;
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(263, 2, "00");
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char b[16];
  std::snprintf(b, sizeof b, "%06o", sum);
  h.replace(148, 7, std::string(b, 6) + '\0');
  tar += h + body + std::string((512 - body.size() % 512) % 512, '\0');
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, uLong(raw.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = uInt(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A tiny CIFAR-10 binary release: 3 records per batch, labels 0..2, pixels from the record index.
std::string tiny_cifar_tar_gz() {
  std::string tar;
  tar_member(tar, "cifar-10-batches-bin/", "", '5');
  auto batch = [](int base) {
    std::string b;
    for (int r = 0; r < 3; ++r) {
      b += char(r);
      b += std::string(3072, char(base + r));
    }
    return b;
  };
  for (int i = 1; i <= 5; ++i) tar_member(tar, "cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin", batch(10 * i));
  tar_member(tar, "cifar-10-batches-bin/test_batch.bin", batch(100));
  tar += std::string(1024, '\0');
  return gzip(tar);
}

const auto quiet = [](const std::string&) {};

}  // namespace

TEST_CASE("md5 matches the RFC 1321 test suite") {
  CHECK(md5_hex("", 0) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_hex("abc", 3) == "900150983cd24fb0d6963f7d28e17f72");
  const std::string digits = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  CHECK(md5_hex(digits.data(), digits.size()) == "57edf4a22be3c955ac49da2e2107b67a");
  const std::string alpha = "abcdefghijklmnopqrstuvwxyz";
  CHECK(md5_hex(alpha.data(), alpha.size()) == "c3fcd3d76192e4007dfb496cca67e13b");
  Md5 split;  // the same bytes fed in odd pieces
  split.update(digits.data(), 7);
  split.update(digits.data() + 7, 70);
  split.update(digits.data() + 77, digits.size() - 77);
  CHECK(split.hex_digest() == "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("tar extraction refuses members outside the destination and truncated archives") {
  const fs::path dir = fresh_dir("tar");
  std::string evil;
  tar_member(evil, "../escape.txt", "x");
  evil += std::string(1024, '\0');
  const std::vector<std::uint8_t> bytes(evil.begin(), evil.end());
  CHECK_THROWS_WITH_AS(extract_tar(bytes, dir, "evil.tar"), doctest::Contains("outside the destination"), std::exception);
  CHECK_FALSE(fs::exists(dir.parent_path() / "escape.txt"));
  std::string big;
  tar_member(big, "a/b.txt", std::string(2000, 'x'));
  const std::vector<std::uint8_t> cut_body(big.begin(), big.begin() + 1000);
  CHECK_THROWS_WITH_AS(extract_tar(cut_body, dir, "cut.tar"), doctest::Contains("runs past the end"), std::exception);
  const std::vector<std::uint8_t> no_end_marker(big.begin(), big.end());
  CHECK_THROWS_WITH_AS(extract_tar(no_end_marker, dir, "cut.tar"), doctest::Contains("truncated"), std::exception);
  fs::remove_all(dir);
}

TEST_CASE("download of a CIFAR-10-style tar.gz from loopback: verified, unpacked, readable, cached") {
  const std::string archive = tiny_cifar_tar_gz();
  LoopbackHttpServer server(std::map<std::string, std::string>{{"cifar-10-binary.tar.gz", archive}});
  const fs::path dir = fresh_dir("cifar");
  DatasetSource s{"cifar10", server.base_url(), {{"cifar-10-binary.tar.gz", md5_hex(archive.data(), archive.size())}}, "", true};
  download_dataset(s, dir, quiet);
  CHECK(fs::exists(dir / "cifar-10-binary.tar.gz"));
  CHECK_FALSE(fs::exists(dir / "cifar-10-binary.tar.gz.part"));
  rf::data::LoadOptions o;
  o.search_dirs = {dir};
  const rf::data::TrainTest t = rf::data::load_dataset("cifar10", o);
  CHECK(t.train.size() == 15);
  CHECK(t.test.size() == 3);
  CHECK(t.test.labels[2] == 2);
  CHECK(int(t.test.image(1)[0]) == 101);
  const int before = server.requests();
  download_dataset(s, dir, quiet);  // already there: no second transfer
  CHECK(server.requests() == before);
  fs::remove_all(dir);
}

TEST_CASE("a checksum mismatch or a missing file leaves nothing behind") {
  LoopbackHttpServer server(std::map<std::string, std::string>{{"train_32x32.mat", "not really a mat file"}});
  const fs::path dir = fresh_dir("bad");
  DatasetSource bad{"svhn", server.base_url(), {{"train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"}}, "svhn", false};
  CHECK_THROWS_WITH_AS(download_dataset(bad, dir, quiet), doctest::Contains("does not match the published"), std::exception);
  CHECK(fs::is_empty(dir / "svhn"));
  DatasetSource missing{"svhn", server.base_url(), {{"test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"}}, "svhn", false};
  CHECK_THROWS_WITH_AS(download_dataset(missing, dir, quiet), doctest::Contains("404"), std::exception);
  CHECK(fs::is_empty(dir / "svhn"));
  fs::remove_all(dir);
}

TEST_CASE("SVHN .mat files are fetched by name and kept only when their MD5 matches") {
  std::ifstream in(std::string(RF_DATA_FIXTURES_DIR) + "/svhn_plain.mat", std::ios::binary);
  REQUIRE(in);
  const std::string mat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LoopbackHttpServer server({{"train_32x32.mat", mat}, {"test_32x32.mat", mat}});
  const fs::path dir = fresh_dir("svhn");
  const std::string sum = md5_hex(mat.data(), mat.size());
  DatasetSource s{"svhn", server.base_url(), {{"train_32x32.mat", sum}, {"test_32x32.mat", sum}}, "svhn", false};
  download_dataset(s, dir, quiet);
  rf::data::LoadOptions o;
  o.search_dirs = {dir};
  CHECK(rf::data::load_dataset("svhn", o).train.size() > 0);
  fs::remove_all(dir);
}

TEST_CASE("the official sources carry the published checksums; RF_DOWNLOAD_BASE_URL overrides the host") {
  ::unsetenv("RF_DOWNLOAD_BASE_URL");
  const DatasetSource c = official_source("cifar10");
  CHECK(c.base_url + c.files.at(0).name == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  CHECK(c.files.at(0).md5 == "c32a1d4ab5d03f1284b67883e8d87530");
  const DatasetSource s = official_source("svhn");
  CHECK(s.files.at(0).md5 == "e26dedcc434d2e4c54c9b2d4a06d8373");
  CHECK(s.files.at(1).md5 == "eb5a983be6a315427106f1b164d9cef3");
  ::setenv("RF_DOWNLOAD_BASE_URL", "http://127.0.0.1:1/mirror", 1);
  CHECK(official_source("svhn").base_url == "http://127.0.0.1:1/mirror/");
  ::unsetenv("RF_DOWNLOAD_BASE_URL");
  CHECK_THROWS_WITH_AS(official_source("fashion-mnist"), doctest::Contains("apt-get install dataset-fashion-mnist"), std::exception);
}
