#pragma once
// Files that a crash cannot tear: the bytes go to a temporary file of this writer's own in the
// same directory (hidden, .NAME.tmp.PID.N), which is fsynced and renamed over the target, and
// the directory is fsynced; readers see the old file or the new one, never part of either. The
// file gets the permissions any new file gets (0666 less the umask). Every error names the file
// and what failed. Safe to call from several threads at once.
#include <filesystem>
#include <span>
#include <string_view>

namespace rf {

// Removes the temporaries that writers killed mid-write left in `dir` (a checkpoint's is as large
// as the checkpoint): call it only where no other writer is at work in `dir`. Returns how many.
int remove_stale_temporaries(const std::filesystem::path& dir);

// Writes `parts`, one after another, as `file`.
void write_file_atomic(const std::filesystem::path& file, std::span<const std::string_view> parts);
inline void write_file_atomic(const std::filesystem::path& file, std::string_view contents) {
  write_file_atomic(file, std::span<const std::string_view>(&contents, 1));
}

}  // namespace rf
