// Small enumerated run options shared by the spec, the CLI and the runtime,
// each with its one name table (YAML, flags and messages use the same words),
// and the one constant for the denoiser's scratch chunk size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gencast {

// Keep the static edge embeddings on the device (faster, more memory).
// automatic = on when the cache takes at most a quarter of the free memory.
enum class EdgeCache { automatic, on, off };
const char* edge_cache_name(EdgeCache mode);  // "auto", "on", "off"
std::optional<EdgeCache> find_edge_cache(std::string_view text);
EdgeCache parse_edge_cache(const std::string& text);  // InputError naming the choices
inline constexpr const char* kEdgeCacheChoices = "auto, on or off";

// Output file layouts (io/forecast_sink.h describes them).
enum class OutputLayout { predictions, wb2 };
const char* output_layout_name(OutputLayout layout);  // "predictions", "wb2"
// The member dimension a layout uses when output.ensemble_dim is empty.
const char* default_ensemble_dim(OutputLayout layout);  // "sample" / "number"
std::optional<OutputLayout> parse_output_layout(std::string_view text);

// Output file formats; the sink factory (runtime/output_sinks.h) maps each to
// an io/ implementation.
enum class OutputFormat { netcdf, grib };
const char* output_format_name(OutputFormat format);  // "netcdf", "grib"
std::optional<OutputFormat> parse_output_format(std::string_view text);
inline constexpr const char* kOutputFormatChoices = "netcdf or grib";
// The format a file name's extension names: .nc/.nc4/.netcdf -> netcdf,
// .grib/.grib2/.grb/.grb2 -> grib (case-insensitive); nullopt for any other.
std::optional<OutputFormat> output_format_from_extension(std::string_view path);

// How GRIB output values are packed: simple packing with 16 bits per value
// (ERA5's packing; error at most the field's range / 65535), or 32-bit IEEE
// floats (lossless for the float32 forecast, twice the size).
enum class GribPacking { simple, ieee };
const char* grib_packing_name(GribPacking packing);  // "simple", "ieee"
std::optional<GribPacking> parse_grib_packing(std::string_view text);
inline constexpr const char* kGribPackingChoices = "simple (16 bits per value) or ieee (32-bit floats)";
inline constexpr long kGribSimpleBitsPerValue = 16;

// output.keep_bits: BitRound keeps 1..kMaxKeepBits explicit mantissa bits of
// the float32 output (23 = all of them); absent (0) = lossless.
inline constexpr int kMaxKeepBits = 23;

// Members per denoiser call (runtime.batch): 0 = auto (chosen from the free
// device memory), else 1..kMaxBatch.
inline constexpr int64_t kBatchAuto = 0;
inline constexpr int64_t kMaxBatch = 64;
inline constexpr const char* kBatchChoices = "auto or a member count from 1 to 64";
// "auto" -> kBatchAuto, "N" -> N in 1..kMaxBatch, else nullopt.
std::optional<int64_t> parse_batch(std::string_view text);
std::string batch_name(int64_t batch);  // "auto" / "4"

// Rows of the denoiser's per-edge / per-grid-node scratch tensors: edges and
// grid nodes are processed in chunks of this many rows, so that per-edge
// latents never exist for the whole edge set (2^17 rows x 512 latents is
// 128 MB in bf16, large enough to fill an H100/H200).
inline constexpr int64_t kDefaultChunkRows = int64_t{1} << 17;

}  // namespace gencast
