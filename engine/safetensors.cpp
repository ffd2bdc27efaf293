#include "engine/safetensors.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "engine/atomic_file.h"
#include "engine/check.h"
#include "engine/json.h"
#include "engine/safetensors_header.h"

namespace rf {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this build assumes a little-endian host");

namespace {

// Headers beyond this are not checkpoints of ours or anyone's (safetensors caps them at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

}  // namespace

SafetensorsContents safetensors_contents(const std::filesystem::path& file,
                                         const std::vector<std::pair<std::string, Tensor>>& tensors,
                                         const TensorMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  SafetensorsContents c;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RF_CHECK(name != "__metadata__" && !name.empty(),
             file.string() << ": invalid tensor name '" << name << "'");
    RF_CHECK(!header.contains(name), file.string() << ": duplicate tensor name '" << name << "'");
    const uint64_t bytes = uint64_t(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    c.values.push_back(t.to_host());
  }
  c.header = header.dump();
  c.header.append((8 - c.header.size() % 8) % 8, ' ');  // keeps the tensor data 8-byte aligned
  return c;
}

void write_safetensors(const std::filesystem::path& file, const SafetensorsContents& contents) {
  const uint64_t n = contents.header.size();
  std::vector<std::string_view> parts{{reinterpret_cast<const char*>(&n), sizeof n}, contents.header};
  for (const std::vector<float>& v : contents.values)
    parts.emplace_back(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  write_file_atomic(file, parts);
}

void write_safetensors(const std::filesystem::path& file,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const TensorMetadata& metadata) {
  write_safetensors(file, safetensors_contents(file, tensors, metadata));
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
