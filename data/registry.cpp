#include "data/registry.h"

#include <cstdlib>
#include <cstdio>

#include "data/bytes.h"
#include "data/cifar_binary.h"
#include "data/dataset_cache.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/svhn_mat.h"

namespace rf::data {

namespace fs = std::filesystem;

std::vector<fs::path> default_search_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("RF_DATA_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("../shared/data");
  dirs.emplace_back("/usr/share/datasets");
  return dirs;
}

namespace {

void note(const LoadOptions& o, const std::string& msg) {
  if (o.log) o.log(msg);
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Dataset image_split(const fs::path& split_dir, const std::string& name, const LoadOptions& o) {
  ImageFolderOptions fo;
  fo.threads = o.decode_threads;
  fo.size = o.image_size;
  fo.log = o.log;
  if (o.cache_dir.empty()) return read_image_folder_split(split_dir, name, fo);
  const fs::path abs = fs::weakly_canonical(split_dir);
  // A resized copy is cached apart from the images at their own size.
  std::string where = abs.generic_string();
  if (o.image_size) where += '@' + std::to_string(o.image_size->height) + 'x' + std::to_string(o.image_size->width);
  const fs::path file = o.cache_dir / (name + "-" + abs.filename().string() + "-" +
                                       hex(std::hash<std::string>{}(where)) + ".rfcache");
  CacheResult r = load_or_build(file, source_fingerprint(abs), [&] {
    return read_image_folder_split(abs, name, fo);
  });
  note(o, r.status == CacheStatus::Hit ? "cache hit: " + file.string()
                                       : "cache rebuilt (" + r.reason + ")");
  return std::move(r.dataset);
}

TrainTest image_tree(const fs::path& root, const std::string& name, const LoadOptions& o) {
  note(o, name + ": image folders under " + root.string());
  TrainTest t{image_split(root / "train", name, o), image_split(root / "test", name, o)};
  check_splits_match(t, root);
  // After the cache, so a cached and a freshly decoded tree come out in the same order.
  if (o.sample_order_seed) {
    t.train = in_sample_order(t.train, *o.sample_order_seed);
    t.test = in_sample_order(t.test, *o.sample_order_seed);
    note(o, name + ": files put in sample order " + std::to_string(*o.sample_order_seed) +
                " (they are listed class by class)");
  }
  return t;
}

// Reads `dir` if it is in one of the known layouts. `want` restricts the layouts to those of a
// named dataset ("" accepts any); `name` names an image-folder tree.
bool try_dir(const fs::path& dir, const std::string& want, const std::string& name,
             const LoadOptions& o, TrainTest& out) {
  const bool any = want.empty();
  if ((any || want == "cifar10") && is_cifar10_binary_dir(dir)) {
    note(o, "cifar10: binary batches in " + dir.string());
    out = read_cifar10_binary(dir);
  } else if ((any || want == "svhn") && is_svhn_dir(dir)) {
    note(o, "svhn: .mat files in " + dir.string());
    out = read_svhn(dir);
  } else if ((any || want == "fashion-mnist") && is_fashion_mnist_dir(dir)) {
    note(o, "fashion-mnist: IDX files in " + dir.string());
    out = read_fashion_mnist(dir);
  } else if ((any || want == "cifar10") && is_image_folder_root(dir)) {
    out = image_tree(dir, name, o);
  } else {
    return false;
  }
  // The binary formats come at their own size (image folders were resized while decoding).
  if (o.image_size && (out.train.height != o.image_size->height || out.train.width != o.image_size->width)) {
    note(o, name + ": images resized from " + size_text({out.train.height, out.train.width}) + " to " +
                size_text(*o.image_size) + " (HxW; antialiased bilinear, data/image_resize.h)");
    out.train = resize_dataset(out.train, *o.image_size);
    out.test = resize_dataset(out.test, *o.image_size);
  }
  return true;
}

}  // namespace

TrainTest load_dataset(const std::string& name_or_path, const LoadOptions& options) {
  TrainTest out;
  std::vector<std::string> subdirs;
  if (name_or_path == "cifar10") {
    subdirs = {"cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10"};
  } else if (name_or_path == "svhn") {
    subdirs = {"svhn"};
  } else if (name_or_path == "fashion-mnist") {
    subdirs = {"fashion-mnist"};
  } else {
    const fs::path dir(name_or_path);
    if (!fs::is_directory(dir))
      fail(name_or_path, "unknown dataset (expected cifar10, svhn, fashion-mnist or a directory)");
    if (!try_dir(dir, "", fs::weakly_canonical(dir).filename().string(), options, out))
      fail(name_or_path, "not a recognised dataset directory (want ROOT/{train,test}/<class>/ "
                         "images, CIFAR-10 binary batches, SVHN .mat or IDX files)");
    return out;
  }
  std::string looked;
  for (const auto& base : options.search_dirs)
    for (const auto& sub : subdirs) {
      const fs::path dir = base / sub;
      looked += ' ';
      looked += dir.string();
      if (try_dir(dir, name_or_path, name_or_path, options, out)) return out;
    }
  fail(name_or_path, "dataset not found; looked in" + looked);
}

}  // namespace rf::data
