#pragma once
// Byte-level helpers shared by the binary readers: whole-file reads, zlib/gzip inflation and a
// bounds-checked little/big-endian cursor. Every failure throws std::runtime_error naming the
// source ("name") so a bad file is reported as "<file>: <what is wrong>".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rf::data {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

[[noreturn]] void fail(const std::string& name, const std::string& what);

Bytes read_file(const std::filesystem::path& path);

bool is_gzip(ByteSpan bytes);
// gzip (RFC 1952) stream, concatenated members included.
Bytes gunzip(ByteSpan bytes, const std::string& name);
// zlib (RFC 1950) stream as used by MATLAB's miCOMPRESSED. Decompression stops at the end of
// the stream; trailing bytes are ignored as MATLAB writers never emit any inside an element.
Bytes inflate_zlib(ByteSpan bytes, const std::string& name);

// a * b, throwing when the product does not fit: sizes read from files are untrusted.
std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& name);

// CRC-32 (zlib's) of the bytes: the checksum that ends the project's own binary files.
std::uint32_t crc32_of(ByteSpan bytes);
// Little-endian appends, the byte order of every binary file the project writes.
void put_u32(Bytes& b, std::uint32_t v);
void put_u64(Bytes& b, std::uint64_t v);

class ByteReader {
 public:
  ByteReader(ByteSpan bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  const std::string& name() const { return name_; }

  ByteSpan take(std::size_t n, const char* what);
  void skip(std::size_t n, const char* what) { take(n, what); }
  std::uint8_t u8(const char* what) { return take(1, what)[0]; }
  std::uint16_t u16_le(const char* what);
  std::uint32_t u32_le(const char* what);
  std::uint64_t u64_le(const char* what);
  std::uint32_t u32_be(const char* what);

 private:
  ByteSpan bytes_;
  std::string name_;
  std::size_t pos_ = 0;
};

}  // namespace rf::data
