#pragma once
// MD5 through OpenSSL's EVP interface, only to check downloads against the checksums the dataset
// authors publish; not for anything that needs collision resistance.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

using EVP_MD_CTX = struct evp_md_ctx_st;

namespace rf::app {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t bytes);
  std::string hex_digest();  // finishes the hash; lowercase hex

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string md5_hex(const void* data, size_t bytes);
std::string md5_file(const std::filesystem::path& file);

}  // namespace rf::app
