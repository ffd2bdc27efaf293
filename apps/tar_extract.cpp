#include "apps/tar_extract.h"

#include <cstdint>
#include <fstream>

#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 512;

std::string field(const std::uint8_t* p, size_t n) {
  size_t len = 0;
  while (len < n && p[len] != 0) ++len;
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::uint64_t octal(const std::uint8_t* p, size_t n, const std::string& where) {
  std::uint64_t v = 0;
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == 0)) ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + std::uint64_t(p[i] - '0');
  for (; i < n; ++i)
    RF_CHECK(p[i] == ' ' || p[i] == 0, where << ": bad octal number in a tar header");
  return v;
}

bool all_zero(const std::uint8_t* p) {
  for (size_t i = 0; i < kBlock; ++i)
    if (p[i]) return false;
  return true;
}

// Rejects names that would land outside the destination.
fs::path safe_relative(const std::string& name, const std::string& where) {
  const fs::path p = fs::path(name).lexically_normal();
  RF_CHECK(!name.empty() && p.is_relative() && *p.begin() != "..",
           where << ": refusing tar member '" << name << "' (absolute or outside the destination)");
  return p;
}

}  // namespace

std::vector<std::string> extract_tar(std::span<const std::uint8_t> tar, const fs::path& dest,
                                     const std::string& name) {
  std::vector<std::string> written;
  std::string long_name;
  size_t pos = 0;
  for (;;) {
    RF_CHECK(pos + kBlock <= tar.size(), name << ": tar archive truncated at byte " << pos);
    const std::uint8_t* h = tar.data() + pos;
    if (all_zero(h)) break;  // end-of-archive marker
    std::uint64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    RF_CHECK(sum == octal(h + 148, 8, name), name << ": tar header checksum mismatch at byte " << pos);
    const std::uint64_t size = octal(h + 124, 12, name);
    const char type = char(h[156]);
    const size_t data_at = pos + kBlock;
    RF_CHECK(size <= tar.size() - data_at, name << ": tar member at byte " << pos << " runs past the end");
    std::string member = field(h, 100);
    if (field(h + 257, 6) == "ustar" && h[345] != 0) member = field(h + 345, 155) + "/" + member;
    if (!long_name.empty()) {
      member = long_name;
      long_name.clear();
    }
    const auto* body = tar.data() + data_at;
    if (type == 'L') {
      long_name = field(body, size_t(size));
    } else if (type == '0' || type == '\0') {
      const fs::path rel = safe_relative(member, name);
      fs::create_directories((dest / rel).parent_path());
      std::ofstream out(dest / rel, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(body), std::streamsize(size));
      RF_CHECK(out.flush(), (dest / rel).string() << ": write failed");
      written.push_back(rel.generic_string());
    } else if (type == '5') {
      fs::create_directories(dest / safe_relative(member, name));
    } else {
      RF_CHECK(type == 'x' || type == 'g',
               name << ": tar member '" << member << "' has unsupported type '" << type << "'");
    }
    pos = data_at + (size_t(size) + kBlock - 1) / kBlock * kBlock;
  }
  return written;
}

}  // namespace rf::app
