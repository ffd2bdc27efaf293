#include "apps/tar_extract.h"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <memory>

#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

struct ReaderFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using Reader = std::unique_ptr<archive, ReaderFree>;

// tar (ustar, pax, GNU) only, plain or gzip: nothing else is ever unpacked here.
Reader tar_reader() {
  Reader a(archive_read_new());
  RF_CHECK(a && archive_read_support_filter_gzip(a.get()) == ARCHIVE_OK &&
               archive_read_support_format_tar(a.get()) == ARCHIVE_OK,
           "libarchive: cannot set up a tar reader");
  return a;
}

std::string error_of(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

std::vector<std::string> extract(archive* a, const fs::path& dest, const std::string& name) {
  std::vector<std::string> written;
  std::vector<char> buf(1 << 16);
  for (;;) {
    // Bytes of the (uncompressed) tar consumed so far: how much the end-of-archive check moves.
    const la_int64_t before = archive_filter_bytes(a, 0);
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) {
      // libarchive accepts a stream that simply stops after a member; a whole archive ends with
      // a block of zeros, so without one the download was cut short.
      RF_CHECK(archive_filter_bytes(a, 0) - before >= 512,
               name << ": tar archive truncated: no end-of-archive marker after " << written.size() << " files");
      return written;
    }
    RF_CHECK(r == ARCHIVE_OK || r == ARCHIVE_WARN,
             name << ": unreadable tar archive (truncated or corrupt) at member " << written.size() + 1 << ": "
                  << error_of(a));
    const char* path = archive_entry_pathname(entry);
    const std::string member = path ? path : "";
    const fs::path rel = safe_member_path(member, name);
    const auto type = archive_entry_filetype(entry);
    RF_CHECK(!archive_entry_hardlink(entry) && type != AE_IFLNK,
             name << ": refusing tar member '" << member << "': links are not unpacked (they could point outside the destination)");
    if (type == AE_IFDIR) {
      fs::create_directories(dest / rel);
      continue;
    }
    RF_CHECK(type == AE_IFREG, name << ": tar member '" << member << "' is not a regular file or directory");
    fs::create_directories((dest / rel).parent_path());
    std::ofstream out(dest / rel, std::ios::binary | std::ios::trunc);
    RF_CHECK(out, (dest / rel).string() << ": cannot create");
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      RF_CHECK(n >= 0, name << ": tar member '" << member << "' runs past the end of the archive or is corrupt: "
                            << error_of(a));
      if (n == 0) break;
      out.write(buf.data(), std::streamsize(n));
    }
    RF_CHECK(out.flush(), (dest / rel).string() << ": write failed");
    written.push_back(rel.generic_string());
  }
}

}  // namespace

fs::path safe_member_path(const std::string& member, const std::string& name) {
  const fs::path p = fs::path(member).lexically_normal();
  RF_CHECK(!member.empty() && p.is_relative() && !p.has_root_name() && *p.begin() != "..",
           name << ": refusing tar member '" << member << "' (absolute or outside the destination)");
  return p;
}

std::vector<std::string> extract_tar(std::span<const std::uint8_t> archive, const fs::path& dest,
                                     const std::string& name) {
  Reader a = tar_reader();
  RF_CHECK(archive_read_open_memory(a.get(), archive.data(), archive.size()) == ARCHIVE_OK,
           name << ": not a tar archive: " << error_of(a.get()));
  return extract(a.get(), dest, name);
}

std::vector<std::string> extract_tar_file(const fs::path& archive, const fs::path& dest) {
  Reader a = tar_reader();
  RF_CHECK(archive_read_open_filename(a.get(), archive.c_str(), 1 << 20) == ARCHIVE_OK,
           archive.string() << ": cannot open as a tar archive: " << error_of(a.get()));
  return extract(a.get(), dest, archive.string());
}

}  // namespace rf::app
