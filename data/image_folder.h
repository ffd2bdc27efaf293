#pragma once
// Image-folder datasets: ROOT/{train,test}/<class>/*.{png,jpg,jpeg,bmp} (extensions matched
// case-insensitively), decoded with stb_image. Classes are the sorted sub-directory names, so
// the label order is stable across machines. The readers here return the files class by class,
// in sorted order; load_dataset (registry.h) then puts them in a seeded order (sample_order.h).
// Every image is decoded to RGB (grayscale replicated, alpha dropped; the log says so once per
// split). Images must have the size of the first image in sorted order, unless a size is given
// (--image-size), to which every image is then resized (image_resize.h): resampling changes
// what a model is evaluated on, so it is never done unasked.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "data/bytes.h"
#include "data/dataset.h"
#include "data/image_resize.h"

namespace rf::data {

struct DecodedImage {
  int height = 0;
  int width = 0;
  int channels = 0;
  int source_channels = 0;  // in the file: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
  Bytes pixels;             // height * width * channels, interleaved
};

// Decodes one PNG/JPEG/BMP from memory to `channels` channels: 3 (RGB: gray replicated, alpha
// dropped) or 1 (gray: alpha dropped; a color image is accepted only when its R, G and B are
// equal everywhere, since turning color into gray would change what a model sees). Throws
// naming `name` on corrupt data or a color image for 1 channel.
DecodedImage decode_image(ByteSpan bytes, const std::string& name, int channels = 3);

// Image files (.png/.jpg/.jpeg/.bmp, any case) by extension.
bool is_image_file(const std::filesystem::path& file);

struct ImageFolderOptions {
  unsigned threads = 0;            // decoding threads; 0 = hardware concurrency
  std::optional<ImageSize> size;   // resize every image to this size; nullopt: keep, all equal
  std::function<void(const std::string&)> log;  // told of channel conversions and resizing
};

// One split directory (ROOT/train or ROOT/test). The dataset's name is `name`.
Dataset read_image_folder_split(const std::filesystem::path& split_dir, const std::string& name,
                                const ImageFolderOptions& options = {});

bool is_image_folder_root(const std::filesystem::path& root);
// Throws unless the test split has the train split's classes and image size.
void check_splits_match(const TrainTest& t, const std::filesystem::path& root);
// Both splits; test classes must equal train classes.
TrainTest read_image_folder(const std::filesystem::path& root, const std::string& name,
                            const ImageFolderOptions& options = {});

}  // namespace rf::data
