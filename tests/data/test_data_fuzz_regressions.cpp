// Inputs kept from fuzzing (tests/data/fixtures/fuzz/<parser>/): each must parse or throw
// std::runtime_error, never crash. The fuzz targets themselves live in tests/fuzz/.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>

#include "data/bytes.h"
#include "data/cifar_binary.h"
#include "data/dataset_cache.h"
#include "data/idx.h"
#include "data/svhn_mat.h"

using namespace rf::data;
namespace fs = std::filesystem;

TEST_CASE("fuzz regressions: kept inputs parse or fail cleanly") {
  const std::map<std::string, std::function<void(ByteSpan, const std::string&)>> parsers = {
      {"cifar", [](ByteSpan b, const std::string& n) { parse_cifar10_batch(b, n); }},
      {"idx", [](ByteSpan b, const std::string& n) { parse_idx(b, n); }},
      {"mat", [](ByteSpan b, const std::string& n) { parse_svhn_mat(b, n); }},
      {"cache", [](ByteSpan b, const std::string& n) { parse_dataset_cache(b, n); }},
  };
  const fs::path root = fs::path(RF_TEST_FIXTURES_DIR) / "fuzz";
  int inputs = 0;
  for (const auto& [dir, parse] : parsers) {
    if (!fs::is_directory(root / dir)) continue;
    for (const auto& e : fs::directory_iterator(root / dir)) {
      CAPTURE(e.path());
      ++inputs;
      try {
        parse(read_file(e.path()), e.path().string());
      } catch (const std::runtime_error&) {
      }
    }
  }
  MESSAGE(inputs << " kept fuzz inputs checked");
}
