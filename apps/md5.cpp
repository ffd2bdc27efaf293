#include "apps/md5.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "engine/check.h"

namespace rf::app {

void Md5::Free::operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
  RF_CHECK(ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr) == 1, "MD5: OpenSSL could not start a digest");
}

void Md5::update(const void* data, size_t bytes) {
  RF_CHECK(EVP_DigestUpdate(ctx_.get(), data, bytes) == 1, "MD5: OpenSSL digest update failed");
}

std::string Md5::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  RF_CHECK(EVP_DigestFinal_ex(ctx_.get(), digest, &n) == 1, "MD5: OpenSSL digest failed");
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", digest[i]);
    hex += b;
  }
  return hex;
}

std::string md5_hex(const void* data, size_t bytes) {
  Md5 h;
  h.update(data, bytes);
  return h.hex_digest();
}

std::string md5_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  RF_CHECK(in, file.string() << ": cannot open to checksum");
  Md5 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h.update(buf.data(), size_t(in.gcount()));
  }
  RF_CHECK(in.eof(), file.string() << ": read error while checksumming");
  return h.hex_digest();
}

}  // namespace rf::app
