#include "apps/file_io.h"

#include <fstream>
#include <sstream>
#include <string>

#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

std::string read_text_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  RF_CHECK(in, file.string() << ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace rf::app
