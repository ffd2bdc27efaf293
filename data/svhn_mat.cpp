#include "data/svhn_mat.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

namespace rf::data {

namespace {

enum : std::uint32_t {
  miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6,
  miSINGLE = 7, miDOUBLE = 9, miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15,
};

std::size_t storage_size(std::uint32_t type) {
  switch (type) {
    case miINT8: case miUINT8: return 1;
    case miINT16: case miUINT16: return 2;
    case miINT32: case miUINT32: case miSINGLE: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
  }
}

struct Element {
  std::uint32_t type;
  ByteSpan data;
};

// Sub-elements of a matrix are 8-byte aligned; the "small data element" form packs up to 4
// bytes into the tag itself.
Element read_element(ByteReader& r, bool pad) {
  const std::uint32_t first = r.u32_le("element tag");
  if ((first >> 16) != 0) {
    const std::uint32_t n = first >> 16;
    if (n > 4) fail(r.name(), "small data element claims " + std::to_string(n) + " bytes (max 4)");
    ByteSpan packed = r.take(4, "small data element");
    return {first & 0xffff, packed.first(n)};
  }
  const std::uint32_t n = r.u32_le("element size");
  Element e{first, r.take(n, "element data")};
  if (pad && n % 8 != 0) r.skip(std::min<std::size_t>(8 - n % 8, r.remaining()), "padding");
  return e;
}

bool is_numeric(MatClass c) {
  const auto v = static_cast<std::uint8_t>(c);
  return v >= static_cast<std::uint8_t>(MatClass::Double) && v <= static_cast<std::uint8_t>(MatClass::Uint64);
}

MatVariable parse_matrix(ByteSpan content, const std::shared_ptr<const Bytes>& storage,
                         const std::string& name) {
  ByteReader r(content, name);
  MatVariable v;
  v.storage = storage;
  const Element flags = read_element(r, true);
  if (flags.type != miUINT32 || flags.data.size() != 8) fail(name, "bad array-flags element");
  const std::uint32_t f = flags.data[0] | (flags.data[1] << 8) | (flags.data[2] << 16);
  v.mx_class = static_cast<MatClass>(f & 0xff);
  v.complex = (f & 0x800) != 0;
  v.numeric = is_numeric(v.mx_class);
  const Element dims = read_element(r, true);
  if (dims.type != miINT32 || dims.data.size() < 8 || dims.data.size() % 4 != 0)
    fail(name, "bad dimensions element");
  for (std::size_t i = 0; i < dims.data.size(); i += 4) {
    std::int32_t d;
    std::memcpy(&d, dims.data.data() + i, 4);
    if (d < 0) fail(name, "negative dimension");
    v.dims.push_back(static_cast<std::size_t>(d));
  }
  const Element array_name = read_element(r, true);
  if (array_name.type != miINT8) fail(name, "bad array-name element");
  v.name.assign(reinterpret_cast<const char*>(array_name.data.data()), array_name.data.size());
  if (!v.numeric) return v;  // cells, structs, strings, sparse: not needed, only named
  const Element real = read_element(r, true);
  if (storage_size(real.type) == 0)
    fail(name, "variable '" + v.name + "' has unsupported storage type " + std::to_string(real.type));
  v.storage_type = real.type;
  v.real = real.data;
  if (v.real.size() % storage_size(v.storage_type) != 0 ||
      v.real.size() / storage_size(v.storage_type) != v.count())
    fail(name, "variable '" + v.name + "' holds " + std::to_string(v.real.size()) +
                   " bytes, inconsistent with its dimensions");
  return v;
}

// Parses a sequence of top-level elements; `allow_compressed` is false inside an inflated
// element because MATLAB never nests them.
void parse_elements(ByteSpan bytes, const std::shared_ptr<const Bytes>& storage,
                    const std::string& name, bool allow_compressed,
                    std::vector<MatVariable>& out) {
  ByteReader r(bytes, name);
  while (r.remaining() > 0) {
    const Element e = read_element(r, false);
    if (e.type == miMATRIX) {
      if (!e.data.empty()) out.push_back(parse_matrix(e.data, storage, name));
      // Top-level matrices are not padded by every writer; skip padding only if present.
      while (r.remaining() > 0 && r.offset() % 8 != 0) r.skip(1, "padding");
    } else if (e.type == miCOMPRESSED && allow_compressed) {
      auto inflated = std::make_shared<const Bytes>(inflate_zlib(e.data, name));
      parse_elements(*inflated, inflated, name, false, out);
    } else {
      fail(name, "unexpected top-level element type " + std::to_string(e.type) +
                     " at offset " + std::to_string(r.offset()));
    }
  }
}

}  // namespace

std::size_t MatVariable::count() const {
  std::size_t n = 1;
  for (std::size_t d : dims) n = checked_mul(n, d, name);
  return n;
}

double MatVariable::value_at(std::size_t i) const {
  const std::uint8_t* p = real.data() + i * storage_size(storage_type);
  auto load = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return static_cast<double>(v);
  };
  switch (storage_type) {
    case miINT8: return load(std::int8_t{});
    case miUINT8: return load(std::uint8_t{});
    case miINT16: return load(std::int16_t{});
    case miUINT16: return load(std::uint16_t{});
    case miINT32: return load(std::int32_t{});
    case miUINT32: return load(std::uint32_t{});
    case miSINGLE: return load(float{});
    case miDOUBLE: return load(double{});
    case miINT64: return load(std::int64_t{});
    case miUINT64: return load(std::uint64_t{});
    default: fail(name, "unsupported storage type");
  }
}

std::vector<MatVariable> parse_mat(ByteSpan bytes, const std::string& name) {
  if (bytes.size() < 128) fail(name, "too short for a MAT-file header (" + std::to_string(bytes.size()) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), 116);
  if (text.starts_with("MATLAB 7.3"))
    fail(name, "MATLAB v7.3 (HDF5) file; save it with -v7 or -v6 to read it here");
  if (!text.starts_with("MATLAB 5.0 MAT-file")) fail(name, "not a MATLAB 5.0 MAT-file (bad header text)");
  if (bytes[126] == 'M' && bytes[127] == 'I') fail(name, "big-endian MAT-files are not supported");
  if (bytes[126] != 'I' || bytes[127] != 'M') fail(name, "bad MAT-file endian indicator");
  if ((bytes[124] | (bytes[125] << 8)) != 0x0100) fail(name, "unsupported MAT-file version");
  std::vector<MatVariable> vars;
  parse_elements(bytes.subspan(128), nullptr, name, true, vars);
  return vars;
}

Dataset parse_svhn_mat(ByteSpan bytes, const std::string& name) {
  const std::vector<MatVariable> vars = parse_mat(bytes, name);
  const MatVariable* x = nullptr;
  const MatVariable* y = nullptr;
  for (const auto& v : vars) {
    if (v.name == "X") x = &v;
    if (v.name == "y") y = &v;
  }
  if (!x) fail(name, "no variable 'X'");
  if (!y) fail(name, "no variable 'y'");
  if (!x->numeric || x->complex) fail(name, "'X' is not a real numeric array");
  if (!y->numeric || y->complex) fail(name, "'y' is not a real numeric array");
  // MATLAB drops trailing singleton dimensions, so a single image is H x W x 3.
  std::vector<std::size_t> xd = x->dims;
  if (xd.size() == 3) xd.push_back(1);
  if (xd.size() != 4 || xd[2] != 3)
    fail(name, "'X' must be H x W x 3 x N");
  const std::size_t h = xd[0], w = xd[1], n = xd[3];
  if (h == 0 || w == 0 || h > 65535 || w > 65535) fail(name, "'X' has an implausible image size");
  if (n == 0) fail(name, "'X' holds no images");
  if (y->count() != n || y->dims.size() != 2 || (y->dims[0] != 1 && y->dims[1] != 1))
    fail(name, "'y' must be N x 1 with N = " + std::to_string(n) + " (the number of images in 'X')");

  Dataset d;
  d.name = "svhn";
  d.height = static_cast<int>(h);
  d.width = static_cast<int>(w);
  d.channels = 3;
  d.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = y->value_at(i);
    if (!(v >= 1 && v <= 10) || v != std::floor(v))
      fail(name, "label " + std::to_string(v) + " of sample " + std::to_string(i) +
                     " is not an integer in 1..10");
    d.labels[i] = v == 10 ? 0 : static_cast<std::int32_t>(v);
  }
  d.images.resize(checked_mul(n, h * w * 3, name));
  const bool raw_u8 = x->storage_type == miUINT8;
  std::size_t src = 0;
  for (std::size_t img = 0; img < n; ++img)
    for (std::size_t ch = 0; ch < 3; ++ch)
      for (std::size_t col = 0; col < w; ++col)
        for (std::size_t row = 0; row < h; ++row, ++src) {
          std::uint8_t px;
          if (raw_u8) {
            px = x->real[src];
          } else {
            const double v = x->value_at(src);
            if (!(v >= 0 && v <= 255) || v != std::floor(v))
              fail(name, "'X' element " + std::to_string(src) + " is not an integer in 0..255");
            px = static_cast<std::uint8_t>(v);
          }
          d.images[((img * h + row) * w + col) * 3 + ch] = px;
        }
  return d;
}

bool is_svhn_dir(const std::filesystem::path& dir) {
  return std::filesystem::is_regular_file(dir / "train_32x32.mat");
}

TrainTest read_svhn(const std::filesystem::path& dir) {
  auto read = [&](const char* file) {
    const auto path = dir / file;
    return parse_svhn_mat(read_file(path), path.string());
  };
  return {read("train_32x32.mat"), read("test_32x32.mat")};
}

}  // namespace rf::data
