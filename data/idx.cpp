#include "data/idx.h"

namespace rf::data {

IdxArray parse_idx(ByteSpan bytes, const std::string& name) {
  Bytes inflated;
  if (is_gzip(bytes)) {
    inflated = gunzip(bytes, name);
    bytes = inflated;
  }
  ByteReader r(bytes, name);
  const std::uint32_t magic = r.u32_be("IDX magic");
  if ((magic >> 16) != 0) fail(name, "bad IDX magic (first two bytes must be zero)");
  const std::uint32_t type = (magic >> 8) & 0xff;
  const std::uint32_t ndims = magic & 0xff;
  if (type != 0x08)
    fail(name, "IDX element type code " + std::to_string(type) +
                   " unsupported (only 8, unsigned byte, is used by image/label files)");
  if (ndims == 0 || ndims > 4) fail(name, "IDX has " + std::to_string(ndims) + " dimensions");
  IdxArray a;
  std::size_t count = 1;
  for (std::uint32_t i = 0; i < ndims; ++i) {
    a.dims.push_back(r.u32_be("IDX dimension"));
    count = checked_mul(count, a.dims.back(), name);
  }
  if (r.remaining() != count)
    fail(name, "IDX header promises " + std::to_string(count) + " bytes of data, file has " +
                   std::to_string(r.remaining()));
  ByteSpan data = r.take(count, "IDX data");
  a.data.assign(data.begin(), data.end());
  return a;
}

Dataset idx_dataset(const IdxArray& images, const IdxArray& labels, const std::string& images_name,
                    const std::string& labels_name, std::vector<std::string> classes) {
  if (images.dims.size() != 3)
    fail(images_name, "expected a 3-dimensional image array, got " +
                          std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1)
    fail(labels_name, "expected a 1-dimensional label array, got " +
                          std::to_string(labels.dims.size()) + " dimensions");
  if (images.dims[0] != labels.dims[0])
    fail(labels_name, std::to_string(labels.dims[0]) + " labels for " +
                          std::to_string(images.dims[0]) + " images in " + images_name);
  if (images.dims[0] == 0) fail(images_name, "no images");
  if (images.dims[1] == 0 || images.dims[2] == 0 || images.dims[1] > 65535 || images.dims[2] > 65535)
    fail(images_name, "implausible image size");
  Dataset d;
  d.height = static_cast<int>(images.dims[1]);
  d.width = static_cast<int>(images.dims[2]);
  d.channels = 1;
  d.classes = std::move(classes);
  d.images = images.data;
  d.labels.resize(labels.data.size());
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.classes.size())
      fail(labels_name, "label " + std::to_string(labels.data[i]) + " of sample " +
                            std::to_string(i) + " is outside [0, " +
                            std::to_string(d.classes.size()) + ")");
    d.labels[i] = labels.data[i];
  }
  return d;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

namespace {

std::filesystem::path find_idx(const std::filesystem::path& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    const auto p = dir / (stem + suffix);
    if (std::filesystem::is_regular_file(p)) return p;
  }
  fail((dir / stem).string(), "missing (looked for it with and without .gz)");
}

Dataset read_split(const std::filesystem::path& dir, const std::string& prefix) {
  const auto images_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  Dataset d = idx_dataset(parse_idx(read_file(images_path), images_path.string()),
                          parse_idx(read_file(labels_path), labels_path.string()),
                          images_path.string(), labels_path.string(), fashion_mnist_class_names());
  d.name = "fashion-mnist";
  return d;
}

}  // namespace

bool is_fashion_mnist_dir(const std::filesystem::path& dir) {
  for (const char* suffix : {"", ".gz"})
    if (std::filesystem::is_regular_file(dir / (std::string("train-images-idx3-ubyte") + suffix)))
      return true;
  return false;
}

TrainTest read_fashion_mnist(const std::filesystem::path& dir) {
  return {read_split(dir, "train"), read_split(dir, "t10k")};
}

}  // namespace rf::data
