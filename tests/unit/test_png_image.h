// Test helper: decodes a PNG (cairo's reader) into RGB pixels, and counts
// what the map tests look for in a box of the picture.
#pragma once

#include <cairo.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "io/colour_map.h"
#include "io/png_map.h"

namespace gencast::testing {

struct PngImage {
  int width = 0, height = 0;
  std::vector<Rgb> pixels;  // row-major, top row first
  Rgb at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

// Empty image (width 0) when the file is missing or not a PNG.
inline PngImage read_png(const std::string& path) {
  PngImage img;
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush(s);
    img.width = cairo_image_surface_get_width(s);
    img.height = cairo_image_surface_get_height(s);
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    for (int y = 0; y < img.height; ++y) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
      for (int x = 0; x < img.width; ++x)
        img.pixels.push_back({static_cast<uint8_t>(row[x] >> 16), static_cast<uint8_t>(row[x] >> 8),
                              static_cast<uint8_t>(row[x])});
    }
  }
  cairo_surface_destroy(s);
  return img;
}

inline size_t distinct_colours(const PngImage& img, const PixelBox& b) {
  std::set<uint32_t> seen;
  for (int y = b.y; y < b.y + b.h; ++y)
    for (int x = b.x; x < b.x + b.w; ++x) {
      const Rgb c = img.at(x, y);
      seen.insert((uint32_t{c.r} << 16) | (uint32_t{c.g} << 8) | c.b);
    }
  return seen.size();
}

// Pixels dark in every channel: text (near-black) and coastlines; no colour
// of the palettes is this dark in all three channels.
inline size_t dark_pixels(const PngImage& img, const PixelBox& b, int below = 80) {
  size_t n = 0;
  for (int y = b.y; y < b.y + b.h; ++y)
    for (int x = b.x; x < b.x + b.w; ++x) {
      const Rgb c = img.at(x, y);
      if (c.r < below && c.g < below && c.b < below) ++n;
    }
  return n;
}

}  // namespace gencast::testing
