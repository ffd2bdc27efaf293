#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/check.h"
#include "engine/json.h"
#include "engine/safetensors_header.h"

namespace rf {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this build assumes a little-endian host");

namespace {

// Headers beyond this are not checkpoints of ours or anyone's (safetensors caps them at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

void write_all(int fd, const void* data, size_t bytes, const std::filesystem::path& file) {
  const char* p = static_cast<const char*>(data);
  while (bytes) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    RF_CHECK(n > 0, file.string() << ": write failed: " << std::strerror(errno));
    p += n;
    bytes -= size_t(n);
  }
}

void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  RF_CHECK(fd >= 0, dir.string() << ": cannot open directory to sync: " << std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  RF_CHECK(rc == 0, dir.string() << ": fsync failed: " << std::strerror(err));
}

}  // namespace

void write_safetensors(const std::filesystem::path& file,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const TensorMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RF_CHECK(name != "__metadata__" && !name.empty(),
             file.string() << ": invalid tensor name '" << name << "'");
    RF_CHECK(!header.contains(name), file.string() << ": duplicate tensor name '" << name << "'");
    const uint64_t bytes = uint64_t(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the tensor data 8-byte aligned

  const std::filesystem::path dir = file.parent_path();
  // Hidden, in the same directory (rename is atomic only within one filesystem).
  std::string tmp_name = file.filename().string();
  tmp_name.insert(tmp_name.begin(), '.');
  tmp_name += ".tmp.XXXXXX";
  std::string tmp_template = (dir / tmp_name).string();
  const int fd = ::mkstemp(tmp_template.data());
  RF_CHECK(fd >= 0, file.string() << ": cannot create a temporary file in '"
                                  << (dir.empty() ? "." : dir.string())
                                  << "': " << std::strerror(errno));
  const std::filesystem::path tmp = tmp_template;
  try {
    const uint64_t n = text.size();
    write_all(fd, &n, sizeof n, tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const auto& [name, t] : tensors) {
      const std::vector<float> values = t.to_host();
      write_all(fd, values.data(), values.size() * sizeof(float), tmp);
    }
    RF_CHECK(::fsync(fd) == 0, tmp.string() << ": fsync failed: " << std::strerror(errno));
    RF_CHECK(::close(fd) == 0, tmp.string() << ": close failed: " << std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(tmp);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    RF_CHECK(false, file.string() << ": cannot rename the temporary file into place: " << ec.message());
  }
  fsync_directory(dir);
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  RF_CHECK(in, where << ": cannot open checkpoint: " << std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in.tellg());
  in.seekg(0);
  RF_CHECK(size >= 8, where << ": truncated safetensors file: " << size
                            << " bytes, fewer than the 8-byte header length");
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  RF_CHECK(header_len <= kMaxHeaderBytes,
           where << ": corrupt safetensors file: header length " << header_len << " is implausible");
  RF_CHECK(header_len <= size - 8, where << ": truncated safetensors file: header of "
                                         << header_len << " bytes but only " << size - 8
                                         << " bytes follow the length");
  std::string text(header_len, '\0');
  in.read(text.data(), std::streamsize(header_len));
  RF_CHECK(in, where << ": read error in the header");

  SafetensorsFile f;
  f.path_ = file;
  const uint64_t data_bytes = size - 8 - header_len;
  SafetensorsHeader header = parse_safetensors_header(text, data_bytes, where);
  f.metadata_ = std::move(header.metadata);
  for (SafetensorsHeader::Tensor& t : header.tensors) {
    f.order_.push_back(t.name);
    f.entries_.emplace(t.name, Entry{std::move(t.shape), t.begin, t.end});
  }
  f.data_.resize(data_bytes);
  in.read(f.data_.data(), std::streamsize(data_bytes));
  RF_CHECK(in, where << ": read error in the tensor data");
  return f;
}

const std::string& SafetensorsFile::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  RF_CHECK(it != metadata_.end(), path_.string() << ": no '" << key << "' in the metadata");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const { return order_; }

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  RF_CHECK(it != entries_.end(), path_.string() << ": no tensor named '" << name << "'");
  return it->second;
}

const Shape& SafetensorsFile::shape(const std::string& name) const { return entry(name).shape; }

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const Entry& e = entry(name);
  std::vector<float> values(size_t(shape_numel(e.shape)));
  std::memcpy(values.data(), data_.data() + e.begin, e.end - e.begin);
  return Tensor::from_host(values, e.shape);
}

void SafetensorsFile::copy_into(const std::string& name, const Tensor& dst) const {
  const Entry& e = entry(name);
  RF_CHECK(e.shape == dst.shape(), path_.string() << ": tensor '" << name << "' has shape "
                                                  << shape_str(e.shape) << ", the model expects "
                                                  << shape_str(dst.shape()));
  dst.copy_from(tensor(name));
}

}  // namespace rf
