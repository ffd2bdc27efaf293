#pragma once
// Whole files in and out. Writes cannot be torn by a crash: a temporary file in the same
// directory, fsync, rename over the target, fsync of the directory; readers see the old file or
// the new one.
#include <filesystem>
#include <string>
#include <string_view>

namespace rf::app {

void write_file_atomic(const std::filesystem::path& file, std::string_view contents);
std::string read_text_file(const std::filesystem::path& file);

}  // namespace rf::app
