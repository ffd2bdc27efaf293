#include "apps/download.h"

#include <cstdlib>

#include "apps/http_fetch.h"
#include "apps/md5.h"
#include "apps/tar_extract.h"
#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

// Published by the dataset authors: https://www.cs.toronto.edu/~kriz/cifar.html and
// http://ufldl.stanford.edu/housenumbers/ (the same values keras.datasets / torchvision check).
DatasetSource official(const std::string& dataset) {
  if (dataset == "cifar10")
    return {"cifar10", "https://www.cs.toronto.edu/~kriz/",
            {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"}}, "", true};
  if (dataset == "svhn")
    return {"svhn", "http://ufldl.stanford.edu/housenumbers/",
            {{"train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"},
             {"test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"}},
            "svhn", false};
  throw Error("--download: only cifar10 and svhn can be downloaded ('" + dataset +
              "'); fashion-mnist comes from Debian: apt-get install dataset-fashion-mnist");
}

// Fetches `f` to `dest` via `dest`.part, renaming only after the checksum matched.
void fetch_verified(const std::string& url, const RemoteFile& f, const fs::path& dest,
                    const std::function<void(const std::string&)>& log) {
  fs::path part = dest;
  part += ".part";
  log("downloading " + url + " -> " + dest.string());
  try {
    http_fetch(url, part);
  } catch (...) {
    fs::remove(part);
    throw;
  }
  const std::string got = md5_file(part);
  if (got != f.md5) {
    fs::remove(part);
    throw Error(url + ": MD5 " + got + " does not match the published " + f.md5 +
                " (corrupt or wrong file; nothing was kept)");
  }
  fs::rename(part, dest);
  log("verified MD5 " + got + ": " + dest.string());
}

// A file already in the cache is trusted only if its checksum still matches.
bool present_and_valid(const fs::path& file, const RemoteFile& f) {
  return fs::is_regular_file(file) && md5_file(file) == f.md5;
}

}  // namespace

DatasetSource official_source(const std::string& dataset) {
  DatasetSource s = official(dataset);
  if (const char* base = std::getenv("RF_DOWNLOAD_BASE_URL"); base && *base) {
    s.base_url = base;
    if (s.base_url.back() != '/') s.base_url += '/';
  }
  return s;
}

void download_dataset(const DatasetSource& source, const fs::path& downloads_dir,
                      const std::function<void(const std::string&)>& log) {
  const fs::path dir = downloads_dir / source.subdir;
  fs::create_directories(dir);
  for (const RemoteFile& f : source.files) {
    const fs::path file = dir / f.name;
    if (!source.unpack_tar_gz) {
      if (present_and_valid(file, f)) {
        log("already downloaded: " + file.string());
        continue;
      }
      fetch_verified(source.base_url + f.name, f, file, log);
      continue;
    }
    // Archives: a ".done" marker, written after a complete extraction, says the unpacked files
    // are whole; without it they are unpacked again.
    fs::path done = file;
    done += ".done";
    if (fs::exists(done)) {
      log("already downloaded and unpacked: " + file.string());
      continue;
    }
    if (!present_and_valid(file, f)) fetch_verified(source.base_url + f.name, f, file, log);
    // Unpacked into a scratch folder first and moved into place whole, so a half-unpacked
    // tree never sits where the readers look.
    fs::path scratch = file;
    scratch += ".unpacking";
    fs::remove_all(scratch);
    const std::vector<std::string> members = extract_tar_file(file, scratch);
    for (const auto& entry : fs::directory_iterator(scratch)) {
      fs::remove_all(dir / entry.path().filename());
      fs::rename(entry.path(), dir / entry.path().filename());
    }
    fs::remove_all(scratch);
    log("unpacked " + std::to_string(members.size()) + " files from " + file.string() + " into " + dir.string());
    std::FILE* marker = std::fopen(done.c_str(), "wb");
    RF_CHECK(marker && std::fclose(marker) == 0, done.string() << ": cannot create");
  }
}

std::string download_hint(const std::string& dataset) {
  if (dataset == "fashion-mnist")
    return "Get it with: apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist),\n"
           "or put the four *-ubyte.gz IDX files in DIR/fashion-mnist and pass --data DIR.";
  const DatasetSource s = official(dataset);
  std::string hint = "Get it with --download (into the cache), or by hand from the official site:\n";
  for (const RemoteFile& f : s.files) hint += "  " + s.base_url + f.name + "  (MD5 " + f.md5 + ")\n";
  hint += dataset == "cifar10"
              ? "then unpack it so that DIR/cifar-10-batches-bin/data_batch_1.bin exists and pass --data DIR."
              : "into DIR/svhn/ and pass --data DIR.";
  return hint;
}

}  // namespace rf::app
