#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "engine/check.h"

namespace rf {

namespace {

namespace fs = std::filesystem;

void write_all(int fd, std::string_view bytes, const fs::path& file) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    RF_CHECK(n > 0, file.string() << ": write failed: " << std::strerror(errno));
    bytes.remove_prefix(size_t(n));
  }
}

constexpr std::string_view kTemporaryInfix = ".tmp.";

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// .NAME.tmp.PID.N, as create_temporary names them.
bool is_temporary_name(std::string_view name) {
  if (name.size() < 2 || name[0] != '.') return false;
  const size_t infix = name.rfind(kTemporaryInfix);
  if (infix == std::string_view::npos || infix < 2) return false;
  const std::string_view numbers = name.substr(infix + kTemporaryInfix.size());
  const size_t dot = numbers.find('.');
  return dot != std::string_view::npos && all_digits(numbers.substr(0, dot)) &&
         all_digits(numbers.substr(dot + 1));
}

// Creates a temporary file beside `file` that no other writer uses: this process's id and a
// count, the name taken only if it does not exist yet (a crashed process may have left one).
int create_temporary(const fs::path& file, fs::path& temp) {
  static std::atomic<unsigned> count{0};
  const fs::path dir = file.parent_path();
  for (;;) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "." + std::string&&.
    std::string name = ".";
    name += file.filename().string();
    name += kTemporaryInfix;
    name += std::to_string(::getpid()) + "." + std::to_string(count++);
    temp = dir / name;
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) {
      RF_CHECK(fd >= 0, file.string() << ": cannot create a temporary file in '"
                                      << (dir.empty() ? "." : dir.string())
                                      << "': " << std::strerror(errno));
      return fd;
    }
  }
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RF_CHECK(fd >= 0, dir.string() << ": cannot open directory to sync: " << std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  RF_CHECK(rc == 0, dir.string() << ": fsync failed: " << std::strerror(err));
}

}  // namespace

int remove_stale_temporaries(const fs::path& dir) {
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file() || !is_temporary_name(e.path().filename().string())) continue;
    RF_CHECK(fs::remove(e.path(), ec), e.path().string()
                                           << ": cannot remove this temporary file of an "
                                              "interrupted write: "
                                           << ec.message());
    ++removed;
  }
  RF_CHECK(!ec || ec == std::errc::no_such_file_or_directory,
           dir.string() << ": cannot list: " << ec.message());
  return removed;
}

void write_file_atomic(const fs::path& file, std::span<const std::string_view> parts) {
  fs::path temp;
  const int fd = create_temporary(file, temp);
  try {
    for (std::string_view part : parts) write_all(fd, part, temp);
    RF_CHECK(::fsync(fd) == 0, temp.string() << ": fsync failed: " << std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    RF_CHECK(false, temp.string() << ": close failed: " << std::strerror(err));
  }
  std::error_code ec;
  fs::rename(temp, file, ec);
  if (ec) {
    ::unlink(temp.c_str());
    RF_CHECK(false, file.string() << ": cannot rename the temporary file " << temp.string()
                                  << " over it: " << ec.message());
  }
  fsync_directory(file.parent_path());
}

}  // namespace rf
