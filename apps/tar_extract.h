#pragma once
// Unpacking a tar archive, plain or gzip-compressed, through libarchive (Debian libarchive-dev).
// Only regular files and directories are made, and only under the destination: absolute paths,
// ".." that would leave it and links (which could point anywhere) are refused, as is an archive
// cut short.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rf::app {

// A member's path made relative to the destination; throws naming the archive `name` when the
// path is empty, absolute or climbs out of the destination.
std::filesystem::path safe_member_path(const std::string& member, const std::string& name);

// Returns the regular files written, relative to `dest`. `name` names the archive in errors.
std::vector<std::string> extract_tar(std::span<const std::uint8_t> archive, const std::filesystem::path& dest,
                                     const std::string& name);
// The same, streaming from a file (the file's path names it in errors).
std::vector<std::string> extract_tar_file(const std::filesystem::path& archive, const std::filesystem::path& dest);

}  // namespace rf::app
