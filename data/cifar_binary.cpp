#include "data/cifar_binary.h"

namespace rf::data {

namespace {
constexpr int kSide = 32;
constexpr std::size_t kPlane = kSide * kSide;
constexpr std::size_t kRecord = 1 + 3 * kPlane;
}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

Dataset parse_cifar10_batch(ByteSpan bytes, const std::string& name,
                            const std::vector<std::string>& classes) {
  if (bytes.empty()) fail(name, "empty CIFAR-10 batch file");
  if (bytes.size() % kRecord != 0)
    fail(name, "size " + std::to_string(bytes.size()) + " is not a multiple of the " +
                   std::to_string(kRecord) + "-byte CIFAR-10 record (truncated or not CIFAR-10)");
  const std::size_t n = bytes.size() / kRecord;
  Dataset d;
  d.name = "cifar10";
  d.height = d.width = kSide;
  d.channels = 3;
  d.classes = classes;
  d.labels.resize(n);
  d.images.resize(n * 3 * kPlane);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* rec = bytes.data() + i * kRecord;
    if (rec[0] >= classes.size())
      fail(name, "record " + std::to_string(i) + " has label " + std::to_string(rec[0]) +
                     ", outside [0, " + std::to_string(classes.size()) + ")");
    d.labels[i] = rec[0];
    const std::uint8_t* planes = rec + 1;
    std::uint8_t* out = d.image(i);
    for (std::size_t p = 0; p < kPlane; ++p) {
      out[3 * p + 0] = planes[p];
      out[3 * p + 1] = planes[kPlane + p];
      out[3 * p + 2] = planes[2 * kPlane + p];
    }
  }
  return d;
}

std::vector<std::string> parse_cifar10_meta(std::string_view text, const std::string& name) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (!line.empty()) names.emplace_back(line);
    start = end + 1;
  }
  if (names.size() != 10)
    fail(name, "expected 10 class names, found " + std::to_string(names.size()));
  return names;
}

bool is_cifar10_binary_dir(const std::filesystem::path& dir) {
  return std::filesystem::is_regular_file(dir / "data_batch_1.bin");
}

TrainTest read_cifar10_binary(const std::filesystem::path& dir) {
  std::vector<std::string> classes = cifar10_class_names();
  const auto meta = dir / "batches.meta.txt";
  if (std::filesystem::exists(meta)) {
    const Bytes text = read_file(meta);
    classes = parse_cifar10_meta(
        std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), meta.string());
  }
  auto read_batch = [&](const std::string& file) {
    const auto path = dir / file;
    return parse_cifar10_batch(read_file(path), path.string(), classes);
  };
  TrainTest out;
  out.train = read_batch("data_batch_1.bin");
  for (int b = 2; b <= 5; ++b) append(out.train, read_batch("data_batch_" + std::to_string(b) + ".bin"));
  out.test = read_batch("test_batch.bin");
  return out;
}

}  // namespace rf::data
