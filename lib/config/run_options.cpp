#include "config/run_options.h"

#include <cctype>
#include <charconv>
#include <string>

#include "core/error.h"

namespace gencast {

const char* edge_cache_name(EdgeCache mode) {
  switch (mode) {
    case EdgeCache::automatic: return "auto";
    case EdgeCache::on: return "on";
    case EdgeCache::off: return "off";
  }
  return "?";
}

std::optional<EdgeCache> find_edge_cache(std::string_view text) {
  for (auto mode : {EdgeCache::automatic, EdgeCache::on, EdgeCache::off})
    if (text == edge_cache_name(mode)) return mode;
  return std::nullopt;
}

EdgeCache parse_edge_cache(const std::string& text) {
  if (auto mode = find_edge_cache(text)) return *mode;
  fail_input("", "edge_cache", kEdgeCacheChoices, "'" + text + "'");
}

const char* output_layout_name(OutputLayout layout) {
  switch (layout) {
    case OutputLayout::predictions: return "predictions";
    case OutputLayout::wb2: return "wb2";
  }
  return "?";
}

const char* default_ensemble_dim(OutputLayout layout) {
  return layout == OutputLayout::wb2 ? "number" : "sample";
}

std::optional<OutputLayout> parse_output_layout(std::string_view text) {
  for (auto layout : {OutputLayout::predictions, OutputLayout::wb2})
    if (text == output_layout_name(layout)) return layout;
  return std::nullopt;
}

std::optional<int64_t> parse_batch(std::string_view text) {
  if (text == "auto") return kBatchAuto;
  int64_t v = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size() || v < 1 || v > kMaxBatch)
    return std::nullopt;
  return v;
}

std::string batch_name(int64_t batch) {
  return batch == kBatchAuto ? std::string("auto") : std::to_string(batch);
}

const char* output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::netcdf: return "netcdf";
    case OutputFormat::grib: return "grib";
  }
  return "?";
}

std::optional<OutputFormat> parse_output_format(std::string_view text) {
  for (auto format : {OutputFormat::netcdf, OutputFormat::grib})
    if (text == output_format_name(format)) return format;
  return std::nullopt;
}

std::optional<OutputFormat> output_format_from_extension(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "nc" || ext == "nc4" || ext == "netcdf") return OutputFormat::netcdf;
  if (ext == "grib" || ext == "grib2" || ext == "grb" || ext == "grb2") return OutputFormat::grib;
  return std::nullopt;
}

const char* grib_packing_name(GribPacking packing) {
  switch (packing) {
    case GribPacking::simple: return "simple";
    case GribPacking::ieee: return "ieee";
  }
  return "?";
}

std::optional<GribPacking> parse_grib_packing(std::string_view text) {
  for (auto packing : {GribPacking::simple, GribPacking::ieee})
    if (text == grib_packing_name(packing)) return packing;
  return std::nullopt;
}

}  // namespace gencast
