#pragma once
// MD5 (RFC 1321), only to check downloads against the checksums the dataset authors publish;
// not for anything that needs collision resistance.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rf::app {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t bytes);
  std::string hex_digest();  // finishes the hash; lowercase hex

 private:
  void block(const std::uint8_t* p);
  std::uint32_t state_[4];
  std::uint64_t length_ = 0;  // bytes
  std::uint8_t buffer_[64];
  size_t buffered_ = 0;
};

std::string md5_hex(const void* data, size_t bytes);
std::string md5_file(const std::filesystem::path& file);

}  // namespace rf::app
