#pragma once
// Image-folder datasets: ROOT/{train,test}/<class>/*.{png,jpg,jpeg,bmp} (extensions matched
// case-insensitively), decoded with stb_image. Classes are the sorted sub-directory names, so
// the label order is stable across machines. The readers here return the files class by class,
// in sorted order; load_dataset (registry.h) then puts them in a seeded order (sample_order.h). Every image is decoded to RGB (grayscale files are
// replicated) and must have the size of the first image in sorted order; a differing size is
// rejected with an error naming the file rather than silently resized, since resampling would
// change what a model is evaluated on.

#include <filesystem>
#include <string>

#include "data/bytes.h"
#include "data/dataset.h"

namespace rf::data {

struct DecodedImage {
  int height = 0;
  int width = 0;
  Bytes rgb;  // height * width * 3
};

// Decodes one PNG/JPEG/BMP from memory to RGB; throws naming `name` on corrupt data.
DecodedImage decode_image(ByteSpan bytes, const std::string& name);

// One split directory (ROOT/train or ROOT/test). Decoding runs on `threads` threads
// (0 = hardware concurrency). The dataset's name is `name`.
Dataset read_image_folder_split(const std::filesystem::path& split_dir, const std::string& name,
                                unsigned threads = 0);

bool is_image_folder_root(const std::filesystem::path& root);
// Throws unless the test split has the train split's classes and image size.
void check_splits_match(const TrainTest& t, const std::filesystem::path& root);
// Both splits; test classes must equal train classes.
TrainTest read_image_folder(const std::filesystem::path& root, const std::string& name,
                            unsigned threads = 0);

}  // namespace rf::data
