#pragma once
// PNG images for the report's Figure-4-like grid, encoded with stb_image_write.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace rf::app {

// Image `i` of `d`, each pixel repeated `zoom` x `zoom` times, as PNG bytes.
std::vector<std::uint8_t> png_of_image(const data::Dataset& d, size_t i, int zoom);
// Every image of `d` in a grid of `columns` columns with 2-pixel white gaps, as PNG bytes.
std::vector<std::uint8_t> png_contact_sheet(const data::Dataset& d, int zoom, int columns);
std::string base64(std::span<const std::uint8_t> bytes);

}  // namespace rf::app
