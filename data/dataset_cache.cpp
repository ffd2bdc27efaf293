#include "data/dataset_cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace rf::data {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'R', 'F', 'D', 'S', 'C', 'A', 'C', 'H'};
constexpr std::uint32_t kVersion = 1;

void put_string(Bytes& b, const std::string& s) {
  put_u32(b, static_cast<std::uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
std::string get_string(ByteReader& r, const char* what) {
  const std::uint32_t n = r.u32_le(what);
  ByteSpan s = r.take(n, what);
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

Bytes serialize_dataset(const Dataset& d, std::uint64_t fingerprint) {
  d.validate(d.name);
  Bytes b(std::begin(kMagic), std::end(kMagic));
  b.reserve(64 + d.images.size() + 4 * d.labels.size());
  put_u32(b, kVersion);
  put_u64(b, fingerprint);
  put_u32(b, static_cast<std::uint32_t>(d.height));
  put_u32(b, static_cast<std::uint32_t>(d.width));
  put_u32(b, static_cast<std::uint32_t>(d.channels));
  put_u64(b, d.size());
  put_u32(b, static_cast<std::uint32_t>(d.classes.size()));
  for (const auto& c : d.classes) put_string(b, c);
  put_string(b, d.name);
  for (std::int32_t l : d.labels) put_u32(b, static_cast<std::uint32_t>(l));
  b.insert(b.end(), d.images.begin(), d.images.end());
  put_u32(b, crc32_of(b));
  return b;
}

CachedDataset parse_dataset_cache(ByteSpan bytes, const std::string& name) {
  if (bytes.size() < sizeof kMagic + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(name, "not a dataset cache (bad magic)");
  ByteReader tail(bytes.subspan(bytes.size() - 4), name);
  const std::uint32_t stored_crc = tail.u32_le("checksum");
  if (crc32_of(bytes.first(bytes.size() - 4)) != stored_crc) fail(name, "checksum mismatch (corrupt cache)");

  ByteReader r(bytes.first(bytes.size() - 4), name);
  r.skip(sizeof kMagic, "magic");
  const std::uint32_t version = r.u32_le("version");
  if (version != kVersion) fail(name, "cache format version " + std::to_string(version) + " unsupported");
  CachedDataset out;
  out.fingerprint = r.u64_le("fingerprint");
  Dataset& d = out.dataset;
  const std::uint32_t h = r.u32_le("height"), w = r.u32_le("width"), c = r.u32_le("channels");
  if (h == 0 || w == 0 || c == 0 || h > 65535 || w > 65535 || c > 4)
    fail(name, "implausible image shape in cache header");
  d.height = static_cast<int>(h);
  d.width = static_cast<int>(w);
  d.channels = static_cast<int>(c);
  const std::uint64_t n = r.u64_le("sample count");
  const std::uint32_t num_classes = r.u32_le("class count");
  if (num_classes == 0 || num_classes > r.remaining() / 4) fail(name, "implausible class count");
  for (std::uint32_t i = 0; i < num_classes; ++i) d.classes.push_back(get_string(r, "class name"));
  d.name = get_string(r, "dataset name");
  const std::size_t label_bytes = checked_mul(n, 4, name);
  const std::size_t image_bytes = checked_mul(n, d.sample_bytes(), name);
  if (label_bytes > r.remaining() || image_bytes != r.remaining() - label_bytes)
    fail(name, "payload size does not match " + std::to_string(n) + " samples");
  ByteSpan labels = r.take(label_bytes, "labels");
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t v;
    std::memcpy(&v, labels.data() + 4 * i, 4);
    d.labels[i] = static_cast<std::int32_t>(v);
  }
  ByteSpan images = r.take(image_bytes, "images");
  d.images.assign(images.begin(), images.end());
  d.validate(name);
  return out;
}

void write_dataset_cache(const fs::path& file, const Dataset& d, std::uint64_t fingerprint) {
  const Bytes bytes = serialize_dataset(d, fingerprint);
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  // A temporary name of this writer's own: processes (a grid's cells, two runs started together)
  // and threads that decode the same source at once each write whole files, and the last rename
  // wins with identical contents.
  static std::atomic<unsigned> writes{0};
  fs::path tmp = file;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writes++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(tmp.string(), "cannot create cache file");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail(tmp.string(), "write error");
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail(file.string(), "cannot move the new cache file into place: " + ec.message());
  }
}

std::uint64_t source_fingerprint(const fs::path& source) {
  if (!fs::exists(source)) fail(source.string(), "source does not exist");
  std::vector<fs::path> files;
  if (fs::is_directory(source)) {
    for (const auto& e : fs::recursive_directory_iterator(source))
      if (e.is_regular_file()) files.push_back(e.path());
  } else {
    files.push_back(source);
  }
  std::sort(files.begin(), files.end());
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& f : files) {
    const std::string rel = f.lexically_relative(source).generic_string();
    const std::uint64_t size = fs::file_size(f);
    const std::int64_t mtime = fs::last_write_time(f).time_since_epoch().count();
    h = fnv1a(h, rel.data(), rel.size() + 1);
    h = fnv1a(h, &size, sizeof size);
    h = fnv1a(h, &mtime, sizeof mtime);
  }
  return h;
}

CacheResult load_or_build(const fs::path& file, std::uint64_t fingerprint,
                          const std::function<Dataset()>& build) {
  CacheResult result;
  if (!fs::exists(file)) {
    result.status = CacheStatus::Missing;
    result.reason = file.string() + ": no cache yet";
  } else {
    try {
      CachedDataset cached = parse_dataset_cache(read_file(file), file.string());
      if (cached.fingerprint == fingerprint) {
        result.dataset = std::move(cached.dataset);
        result.status = CacheStatus::Hit;
        return result;
      }
      result.status = CacheStatus::Stale;
      result.reason = file.string() + ": source changed since the cache was written";
    } catch (const std::runtime_error& e) {
      result.status = CacheStatus::Corrupt;
      result.reason = e.what();
    }
  }
  result.dataset = build();
  write_dataset_cache(file, result.dataset, fingerprint);
  return result;
}

}  // namespace rf::data
