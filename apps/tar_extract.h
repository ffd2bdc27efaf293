#pragma once
// Unpacking a tar archive (POSIX ustar, with GNU long names and pax headers skipped) already in
// memory: enough for the CIFAR-10 tarball. Only regular files and directories are made, and
// only under the destination (absolute paths and ".." are refused).
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rf::app {

// Returns the regular files written, relative to `dest`. `name` names the archive in errors.
std::vector<std::string> extract_tar(std::span<const std::uint8_t> tar, const std::filesystem::path& dest,
                                     const std::string& name);

}  // namespace rf::app
