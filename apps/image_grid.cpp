#include "apps/image_grid.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "engine/check.h"

namespace rf::app {

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* p = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

std::vector<std::uint8_t> encode_png(const std::vector<std::uint8_t>& pixels, int w, int h, int c) {
  std::vector<std::uint8_t> png;
  RF_CHECK(stbi_write_png_to_func(append_bytes, &png, w, h, c, pixels.data(), w * c) != 0,
           "PNG encoding failed for a " << w << "x" << h << " image");
  return png;
}

// Copies image i of d, zoomed, into an RGB canvas at (x0, y0); gray is replicated.
void blit(const data::Dataset& d, size_t i, int zoom, std::vector<std::uint8_t>& canvas, int canvas_w,
          int x0, int y0) {
  const std::uint8_t* src = d.image(i);
  for (int y = 0; y < d.height * zoom; ++y)
    for (int x = 0; x < d.width * zoom; ++x) {
      const std::uint8_t* px = src + (size_t(y / zoom) * size_t(d.width) + size_t(x / zoom)) * size_t(d.channels);
      std::uint8_t* dst = canvas.data() + (size_t(y0 + y) * size_t(canvas_w) + size_t(x0 + x)) * 3;
      for (int ch = 0; ch < 3; ++ch) dst[ch] = px[d.channels == 3 ? ch : 0];
    }
}

}  // namespace

std::vector<std::uint8_t> png_of_image(const data::Dataset& d, size_t i, int zoom) {
  const int w = d.width * zoom, h = d.height * zoom;
  std::vector<std::uint8_t> canvas(size_t(w) * size_t(h) * 3);
  blit(d, i, zoom, canvas, w, 0, 0);
  return encode_png(canvas, w, h, 3);
}

std::vector<std::uint8_t> png_contact_sheet(const data::Dataset& d, int zoom, int columns) {
  RF_CHECK(d.size() > 0 && columns > 0, "contact sheet of no images");
  constexpr int kGap = 2;
  const int rows = int((d.size() + size_t(columns) - 1) / size_t(columns));
  const int cell_w = d.width * zoom + kGap, cell_h = d.height * zoom + kGap;
  const int w = columns * cell_w + kGap, h = rows * cell_h + kGap;
  std::vector<std::uint8_t> canvas(size_t(w) * size_t(h) * 3, 255);
  for (size_t i = 0; i < d.size(); ++i)
    blit(d, i, zoom, canvas, w, kGap + int(i % size_t(columns)) * cell_w, kGap + int(i / size_t(columns)) * cell_h);
  return encode_png(canvas, w, h, 3);
}

std::string base64(std::span<const std::uint8_t> bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t n = std::uint32_t(bytes[i]) << 16 |
                            (i + 1 < bytes.size() ? std::uint32_t(bytes[i + 1]) << 8 : 0) |
                            (i + 2 < bytes.size() ? std::uint32_t(bytes[i + 2]) : 0);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? table[n & 63] : '=';
  }
  return out;
}

}  // namespace rf::app
