// libFuzzer target: tar/tar.gz extraction through libarchive (apps/tar_extract.h) and its path
// check. The input is unpacked into a fresh folder; whatever it holds, nothing may appear beside
// that folder, and every path the check lets through must stay under it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "apps/tar_extract.h"
#include "engine/check.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The path check alone, on the input as a member name.
  try {
    const fs::path p = rf::app::safe_member_path(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    if (p.is_absolute() || p.has_root_path() || (!p.empty() && *p.begin() == "..")) std::abort();
  } catch (const rf::Error&) {
  }

  static const fs::path box = fs::temp_directory_path() / ("rf_fuzz_archive_" + std::to_string(::getpid()));
  const fs::path dest = box / "dest";
  fs::remove_all(box);
  fs::create_directories(dest);
  try {
    rf::app::extract_tar({data, size}, dest, "fuzz.tar");
  } catch (const rf::Error&) {
  } catch (const fs::filesystem_error&) {  // e.g. a file member named like an existing folder
  }
  for (const auto& e : fs::directory_iterator(box))
    if (e.path().filename() != "dest") std::abort();  // something escaped the destination
  fs::remove_all(box);
  return 0;
}
