#include "data/soft_labels.h"

#include <cmath>
#include <cstring>
#include <fstream>

namespace rf::data {

namespace {
constexpr char kMagic[8] = {'R', 'F', 'S', 'O', 'F', 'T', 'L', 'B'};
constexpr std::uint32_t kVersion = 1;

}  // namespace

SoftLabels one_hot(std::span<const std::int32_t> labels, int classes) {
  SoftLabels s;
  s.rows = labels.size();
  s.classes = classes;
  s.values.assign(s.rows * static_cast<std::size_t>(classes), 0.0f);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      fail("one_hot", "label " + std::to_string(labels[i]) + " outside [0, " + std::to_string(classes) + ")");
    s.values[i * static_cast<std::size_t>(classes) + static_cast<std::size_t>(labels[i])] = 1.0f;
  }
  return s;
}

void check_soft_labels(const SoftLabels& s, const std::string& name) {
  if (s.classes <= 0) fail(name, "soft labels need at least one class");
  if (s.values.size() != s.rows * static_cast<std::size_t>(s.classes))
    fail(name, "soft label buffer size does not match rows x classes");
  for (std::size_t i = 0; i < s.rows; ++i) {
    double sum = 0.0;
    for (float v : s.row(i)) {
      if (!std::isfinite(v) || v < 0.0f)
        fail(name, "row " + std::to_string(i) + " has a negative or non-finite value");
      sum += v;
    }
    if (std::abs(sum - 1.0) > 1e-3)
      fail(name, "row " + std::to_string(i) + " sums to " + std::to_string(sum) + ", not 1");
  }
}

Bytes serialize_soft_labels(const SoftLabels& s) {
  check_soft_labels(s, "serialize_soft_labels");
  Bytes b(kMagic, kMagic + sizeof kMagic);
  put_u32(b, kVersion);
  put_u64(b, s.rows);
  put_u32(b, static_cast<std::uint32_t>(s.classes));
  const std::size_t at = b.size();
  b.resize(at + s.values.size() * 4);
  static_assert(sizeof(float) == 4);
  std::memcpy(b.data() + at, s.values.data(), s.values.size() * 4);  // little-endian hosts only
  put_u32(b, crc32_of(b));
  return b;
}

SoftLabels parse_soft_labels(ByteSpan bytes, const std::string& name) {
  if (bytes.size() < sizeof kMagic + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(name, "not a soft-label file (bad magic)");
  ByteReader tail(bytes.subspan(bytes.size() - 4), name);
  if (crc32_of(bytes.first(bytes.size() - 4)) != tail.u32_le("checksum"))
    fail(name, "checksum mismatch (corrupt soft-label file)");
  ByteReader r(bytes.first(bytes.size() - 4), name);
  r.skip(sizeof kMagic, "magic");
  if (r.u32_le("version") != kVersion) fail(name, "unsupported soft-label format version");
  SoftLabels s;
  s.rows = r.u64_le("rows");
  const std::uint32_t classes = r.u32_le("classes");
  if (classes == 0 || classes > 1000000) fail(name, "implausible class count");
  s.classes = static_cast<int>(classes);
  const std::size_t count = checked_mul(s.rows, classes, name);
  if (checked_mul(count, 4, name) != r.remaining())
    fail(name, "payload size does not match " + std::to_string(s.rows) + " x " + std::to_string(classes));
  ByteSpan payload = r.take(count * 4, "values");
  s.values.resize(count);
  std::memcpy(s.values.data(), payload.data(), payload.size());
  check_soft_labels(s, name);
  return s;
}

void save_soft_labels(const std::filesystem::path& file, const SoftLabels& s) {
  const Bytes bytes = serialize_soft_labels(s);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) fail(file.string(), "cannot create soft-label file");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail(file.string(), "write error");
}

SoftLabels load_soft_labels(const std::filesystem::path& file, const Dataset& d) {
  SoftLabels s = parse_soft_labels(read_file(file), file.string());
  if (s.rows != d.size() || s.classes != d.num_classes())
    fail(file.string(), "soft labels are " + std::to_string(s.rows) + " x " + std::to_string(s.classes) +
                            " but dataset '" + d.name + "' has " + std::to_string(d.size()) +
                            " samples of " + std::to_string(d.num_classes()) + " classes");
  return s;
}

}  // namespace rf::data
