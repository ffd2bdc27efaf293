#pragma once
// --download: the official dataset files, fetched into a cache directory like keras.datasets
// and torchvision do, checked against the published MD5 and unpacked. A file only gets its
// final name after its checksum matched, so an interrupted or corrupt download never looks
// like a valid dataset later.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace rf::app {

struct RemoteFile {
  std::string name;  // file name under the base URL, and in the cache
  std::string md5;   // published checksum (lowercase hex)
};

struct DatasetSource {
  std::string dataset;
  std::string base_url;  // ends with '/'
  std::vector<RemoteFile> files;
  // Where the files end up under the downloads directory: a .tar.gz is unpacked there, other
  // files are stored in it.
  std::string subdir;
  bool unpack_tar_gz = false;
};

// The official sources (cifar10, svhn); throws for datasets that cannot be downloaded.
// $RF_DOWNLOAD_BASE_URL, when set, replaces the base URL (mirrors, and the tests' local server).
DatasetSource official_source(const std::string& dataset);

// Downloads, verifies and unpacks `source` into `downloads_dir` unless already there.
void download_dataset(const DatasetSource& source, const std::filesystem::path& downloads_dir,
                      const std::function<void(const std::string&)>& log);

// How to get a dataset by hand (official URLs and checksums), for "dataset not found" errors.
std::string download_hint(const std::string& dataset);

}  // namespace rf::app
