#include "data/bytes.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace rf::data {

void fail(const std::string& name, const std::string& what) {
  throw std::runtime_error(name + ": " + what);
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path.string(), "cannot determine file size");
  in.seekg(0, std::ios::beg);
  Bytes bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    fail(path.string(), "read error");
  return bytes;
}

bool is_gzip(ByteSpan bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

namespace {

// Output grows as data actually arrives, never from a size field in the input: a corrupt
// header cannot make us allocate gigabytes up front.
Bytes inflate_stream(ByteSpan bytes, const std::string& name, int window_bits, bool multi_member) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) fail(name, "zlib initialisation failed");
  Bytes out;
  std::size_t in_pos = 0;
  int ret = Z_OK;
  for (;;) {
    const std::size_t produced = out.size();
    out.resize(produced + std::max<std::size_t>(64 * 1024, produced / 2));
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced,
                                                           std::numeric_limits<uInt>::max()));
    const std::size_t in_chunk =
        std::min<std::size_t>(bytes.size() - in_pos, std::numeric_limits<uInt>::max());
    zs.next_in = const_cast<Bytef*>(bytes.data() + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    const uInt avail_out_before = zs.avail_out;
    ret = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out.resize(produced + (avail_out_before - zs.avail_out));
    if (ret == Z_STREAM_END) {
      // gzip files may hold several members (e.g. made with `cat a.gz b.gz`).
      if (multi_member && in_pos < bytes.size() && is_gzip(bytes.subspan(in_pos))) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(ret);
      inflateEnd(&zs);
      fail(name, "corrupt compressed data (" + msg + ")");
    }
    if (ret == Z_BUF_ERROR && in_pos >= bytes.size()) {
      inflateEnd(&zs);
      fail(name, "compressed data is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace

Bytes gunzip(ByteSpan bytes, const std::string& name) {
  return inflate_stream(bytes, name, 16 + MAX_WBITS, true);
}

Bytes inflate_zlib(ByteSpan bytes, const std::string& name) {
  return inflate_stream(bytes, name, MAX_WBITS, false);
}

std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& name) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) fail(name, "size overflows");
  return a * b;
}

ByteSpan ByteReader::take(std::size_t n, const char* what) {
  if (n > remaining())
    fail(name_, std::string("truncated: ") + what + " needs " + std::to_string(n) +
                    " bytes at offset " + std::to_string(pos_) + ", only " +
                    std::to_string(remaining()) + " left");
  ByteSpan s = bytes_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::uint16_t ByteReader::u16_le(const char* what) {
  ByteSpan b = take(2, what);
  return static_cast<std::uint16_t>(b[0] | (b[1] << 8));
}

std::uint32_t ByteReader::u32_le(const char* what) {
  ByteSpan b = take(4, what);
  return std::uint32_t(b[0]) | (std::uint32_t(b[1]) << 8) | (std::uint32_t(b[2]) << 16) |
         (std::uint32_t(b[3]) << 24);
}

std::uint64_t ByteReader::u64_le(const char* what) {
  const std::uint64_t lo = u32_le(what);
  const std::uint64_t hi = u32_le(what);
  return lo | (hi << 32);
}

std::uint32_t ByteReader::u32_be(const char* what) {
  ByteSpan b = take(4, what);
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
         std::uint32_t(b[3]);
}

std::uint32_t crc32_of(ByteSpan bytes) {
  return static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), bytes.data(), bytes.size()));
}

void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_u64(Bytes& b, std::uint64_t v) {
  put_u32(b, static_cast<std::uint32_t>(v));
  put_u32(b, static_cast<std::uint32_t>(v >> 32));
}

}  // namespace rf::data
