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

namespace {

// stb's pixels (comp channels) as `channels` channels; see decode_image.
Bytes convert_channels(const stbi_uc* px, std::size_t pixels, int comp, int channels,
                       const std::string& name) {
  Bytes out(pixels * static_cast<std::size_t>(channels));
  const auto c = static_cast<std::size_t>(comp);
  for (std::size_t p = 0; p < pixels; ++p) {
    const stbi_uc* s = px + p * c;
    if (channels == 1) {
      if (comp >= 3 && (s[0] != s[1] || s[0] != s[2]))
        fail(name, "color image (" + std::to_string(comp) +
                       " channels) but the model takes 1-channel (grayscale) images");
      out[p] = s[0];
    } else {
      const bool gray = comp < 3;
      out[3 * p] = s[0];
      out[3 * p + 1] = gray ? s[0] : s[1];
      out[3 * p + 2] = gray ? s[0] : s[2];
    }
  }
  return out;
}

}  // namespace

DecodedImage decode_image(ByteSpan bytes, const std::string& name, int channels) {
  if (channels != 1 && channels != 3)
    fail(name, "images decode to 1 or 3 channels, not " + std::to_string(channels));
  if (bytes.empty()) fail(name, "empty image file");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) fail(name, "image file too large");
  int w = 0, h = 0, comp = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h,
                                          &comp, 0);
  if (!pixels) fail(name, std::string("cannot decode image (") + stbi_failure_reason() + ")");
  DecodedImage img;
  img.height = h;
  img.width = w;
  img.channels = channels;
  img.source_channels = comp;
  try {
    img.pixels = convert_channels(pixels, static_cast<std::size_t>(w) * static_cast<std::size_t>(h),
                                  comp, channels, name);
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  stbi_image_free(pixels);
  return img;
}

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

namespace {

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

namespace {

// What read_image_folder_split did to the files, told once per split.
struct Conversions {
  std::atomic<std::size_t> gray{0}, alpha{0}, resized{0};

  void count(const DecodedImage& img, bool resized_now) {
    if (img.source_channels < 3) ++gray;
    if (img.source_channels == 2 || img.source_channels == 4) ++alpha;
    if (resized_now) ++resized;
  }
  void report(const fs::path& split_dir, const Dataset& d, const ImageFolderOptions& o) const {
    if (!o.log) return;
    if (gray || alpha)
      o.log(split_dir.string() + ": " + std::to_string(gray) + " grayscale images replicated to RGB, " +
            std::to_string(alpha) + " images with alpha had it dropped");
    if (resized)
      o.log(split_dir.string() + ": " + std::to_string(resized) + " images resized to " +
            size_text({d.height, d.width}) + " (HxW; antialiased bilinear, data/image_resize.h)");
  }
};

}  // namespace

Dataset read_image_folder_split(const fs::path& split_dir, const std::string& name,
                                const ImageFolderOptions& options) {
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

  // The requested size, or that of the first image, which every other image is checked against.
  Conversions conversions;
  const DecodedImage first = decode_image(read_file(files[0]), files[0].string());
  const ImageSize size = options.size.value_or(ImageSize{first.height, first.width});
  d.height = size.height;
  d.width = size.width;
  d.channels = 3;
  const std::size_t sb = d.sample_bytes();
  d.images.resize(files.size() * sb);

  // Image i (decoded) into its slot, resized when a size was given.
  auto place = [&](std::size_t i, const DecodedImage& img) {
    const ImageSize from{img.height, img.width};
    const bool resize = from != size;
    if (resize && !options.size)
      fail(files[i].string(), "image is " + size_text(from) + " (HxW) but the dataset's images are " +
                                  size_text(size) + " (size taken from " + files[0].string() +
                                  "); --image-size HxW resizes every image on load");
    conversions.count(img, resize);
    if (resize) {
      const Bytes px = resize_image(img.pixels.data(), from, 3, size);
      std::copy(px.begin(), px.end(), d.image(i));
    } else {
      std::copy(img.pixels.begin(), img.pixels.end(), d.image(i));
    }
  };
  place(0, first);

  std::atomic<std::size_t> next{1};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      try {
        place(i, decode_image(read_file(files[i]), files[i].string()));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = files.size();
      }
    }
  };
  unsigned threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  conversions.report(split_dir, d, options);
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

TrainTest read_image_folder(const fs::path& root, const std::string& name,
                            const ImageFolderOptions& options) {
  TrainTest out{read_image_folder_split(root / "train", name, options),
                read_image_folder_split(root / "test", name, options)};
  check_splits_match(out, root);
  return out;
}

}  // namespace rf::data
