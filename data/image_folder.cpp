#include "data/image_folder.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#include <stb_image.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rf::data {

namespace fs = std::filesystem;

DecodedImage decode_image(ByteSpan bytes, const std::string& name) {
  if (bytes.empty()) fail(name, "empty image file");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) fail(name, "image file too large");
  int w = 0, h = 0, comp = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h,
                                          &comp, 3);
  if (!pixels) fail(name, std::string("cannot decode image (") + stbi_failure_reason() + ")");
  DecodedImage img;
  img.height = h;
  img.width = w;
  img.rgb.assign(pixels, pixels + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  stbi_image_free(pixels);
  return img;
}

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::string> class_dirs(const fs::path& split_dir) {
  if (!fs::is_directory(split_dir)) fail(split_dir.string(), "missing split directory");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(split_dir))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  if (classes.empty()) fail(split_dir.string(), "no class sub-directories");
  std::sort(classes.begin(), classes.end());
  return classes;
}

}  // namespace

Dataset read_image_folder_split(const fs::path& split_dir, const std::string& name,
                                unsigned threads) {
  Dataset d;
  d.name = name;
  d.classes = class_dirs(split_dir);
  std::vector<fs::path> files;
  for (std::size_t c = 0; c < d.classes.size(); ++c) {
    const fs::path dir = split_dir / d.classes[c];
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && is_image_file(e.path())) found.push_back(e.path());
    if (found.empty()) fail(dir.string(), "empty class folder (no .png/.jpg/.jpeg/.bmp files)");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
    d.labels.insert(d.labels.end(), found.size(), static_cast<std::int32_t>(c));
  }

  // The first image fixes the dataset's size; every other image is checked against it.
  const DecodedImage first = decode_image(read_file(files[0]), files[0].string());
  d.height = first.height;
  d.width = first.width;
  d.channels = 3;
  const std::size_t sb = d.sample_bytes();
  d.images.resize(files.size() * sb);
  std::copy(first.rgb.begin(), first.rgb.end(), d.images.begin());

  std::atomic<std::size_t> next{1};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      try {
        const DecodedImage img = decode_image(read_file(files[i]), files[i].string());
        if (img.height != d.height || img.width != d.width)
          fail(files[i].string(), "image is " + std::to_string(img.width) + "x" +
                                      std::to_string(img.height) + " but the dataset's images are " +
                                      std::to_string(d.width) + "x" + std::to_string(d.height) +
                                      " (size taken from " + files[0].string() + ")");
        std::copy(img.rgb.begin(), img.rgb.end(), d.image(i));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = files.size();
      }
    }
  };
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return d;
}

bool is_image_folder_root(const fs::path& root) {
  return fs::is_directory(root / "train") && fs::is_directory(root / "test");
}

void check_splits_match(const TrainTest& t, const fs::path& root) {
  if (t.test.classes != t.train.classes)
    fail((root / "test").string(), "class folders differ from " + (root / "train").string());
  if (t.test.height != t.train.height || t.test.width != t.train.width)
    fail((root / "test").string(), "images differ in size from those in " + (root / "train").string());
}

TrainTest read_image_folder(const fs::path& root, const std::string& name, unsigned threads) {
  TrainTest out{read_image_folder_split(root / "train", name, threads),
                read_image_folder_split(root / "test", name, threads)};
  check_splits_match(out, root);
  return out;
}

}  // namespace rf::data
