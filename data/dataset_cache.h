#pragma once
// A decoded dataset stored as one binary file, so 60,000 JPEGs are decoded once, not per run.
//
// Layout (little-endian): "RFDSCACH" magic, u32 format version, u64 source fingerprint,
// u32 height, width, channels, u64 sample count, u32 class count, then length-prefixed class
// names and dataset name, int32 labels, uint8 NHWC images, and a trailing CRC-32 of all
// preceding bytes. The fingerprint identifies the source files (paths, sizes, mtimes): a cache
// whose fingerprint differs, or whose checksum or structure is wrong, is rebuilt.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

Bytes serialize_dataset(const Dataset& d, std::uint64_t fingerprint);

struct CachedDataset {
  Dataset dataset;
  std::uint64_t fingerprint = 0;
};
CachedDataset parse_dataset_cache(ByteSpan bytes, const std::string& name);

// Written to a temporary file then renamed, so a crash never leaves a half-written cache.
void write_dataset_cache(const std::filesystem::path& file, const Dataset& d,
                         std::uint64_t fingerprint);

// Hash of the relative paths, sizes and modification times of a file or every file under a
// directory (in sorted order). Cheap: no file contents are read.
std::uint64_t source_fingerprint(const std::filesystem::path& source);

enum class CacheStatus { Hit, Missing, Stale, Corrupt };

struct CacheResult {
  Dataset dataset;
  CacheStatus status = CacheStatus::Missing;
  std::string reason;  // why the cache was not used (empty on a hit)
};

// Returns the cached dataset when `file` is valid and matches `fingerprint`; otherwise calls
// `build`, writes the cache and reports why it had to.
CacheResult load_or_build(const std::filesystem::path& file, std::uint64_t fingerprint,
                          const std::function<Dataset()>& build);

}  // namespace rf::data
