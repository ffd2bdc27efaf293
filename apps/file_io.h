#pragma once
// Whole text files in (out: engine/atomic_file.h).
#include <filesystem>
#include <string>

namespace rf::app {

std::string read_text_file(const std::filesystem::path& file);

}  // namespace rf::app
