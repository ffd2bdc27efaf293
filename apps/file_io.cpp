#include "apps/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

void sync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  RF_CHECK(fd >= 0, p.string() << ": cannot open to sync: " << std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  RF_CHECK(rc == 0, p.string() << ": fsync failed: " << std::strerror(errno));
}

}  // namespace

void write_file_atomic(const fs::path& file, std::string_view contents) {
  fs::path temp = file;
  temp += ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  RF_CHECK(fd >= 0, temp.string() << ": cannot create: " << std::strerror(errno));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      RF_CHECK(false, temp.string() << ": write failed: " << why);
    }
    done += size_t(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  RF_CHECK(synced, temp.string() << ": fsync failed: " << std::strerror(errno));
  std::error_code ec;
  fs::rename(temp, file, ec);
  RF_CHECK(!ec, file.string() << ": cannot rename " << temp.string() << " over it: " << ec.message());
  sync_path(file.parent_path().empty() ? fs::path(".") : file.parent_path(), O_RDONLY | O_DIRECTORY);
}

std::string read_text_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  RF_CHECK(in, file.string() << ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace rf::app
