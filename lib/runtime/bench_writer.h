// `gencast-run bench --writer`: the forecast sink alone, at a real grid size.
// Writes synthetic member-steps -- every target variable at plausible values
// (smooth large-scale patterns at each variable's scale, with small-scale
// noise filling the low mantissa bits as a model's output does, SST NaN on a
// land mask), or the target variables of an input file's frames (e.g. ERA5,
// or make-demo's source.nc) -- through the real NetcdfForecastWriter on this
// thread, and
// reports seconds per step, throughput and the stored size, next to what
// netCDF's own zlib path (HDF5's shuffle + zlib at the same level, one
// thread) would store and take for the same chunks.
#pragma once

#include <cstdint>
#include <string>

namespace gencast {

struct WriterBenchOptions {
  std::string grid = "0p25";  // 0p25, 1p0 or 4p0
  std::string fields_from;    // input NetCDF whose frames are written instead ("" = synthetic)
  int threads = 0;            // cores for the encoding (0 = all, up to 16)
  int steps = 4;              // member-steps written (2 members x ceil(steps / 2) lead times)
  int64_t compression = 1;    // output.compression
  int64_t keep_bits = 0;      // output.keep_bits (0 = lossless)
  std::string output;         // file to write ("" = a temporary file, removed after)
  bool zlib_reference = true; // also time netCDF's zlib path on one step's chunks
};

struct WriterBenchResult {
  std::string grid;         // or the --fields-from file
  int64_t n_lat = 0, n_lon = 0, fields = 0;  // fields per member-step
  int threads = 0, steps = 0;
  int64_t compression = 0, keep_bits = 0;
  double step_seconds_median = 0, step_seconds_max = 0;
  // CPU time of the whole process per write_step, all threads: what a step
  // costs whatever else runs on the host (wall times on a shared host vary).
  double cpu_seconds_per_step = 0;
  double gather_seconds = 0, encode_seconds = 0, store_seconds = 0;  // per step, mean
  double close_seconds = 0;
  double raw_bytes_per_step = 0;
  double stored_bytes = 0;  // chunk bytes of all steps
  double file_bytes = 0;    // the closed file
  double megabytes_per_second = 0;  // raw float32 MB per second of write_step
  // netCDF's own path on the first step's chunks (0 when not measured);
  // seconds of CPU on its one thread = its wall time on an idle host.
  double zlib_bytes_per_step = 0, zlib_seconds_per_step = 0;
  double max_abs_error = 0, max_rel_error = 0;  // keep_bits vs the written values (0 lossless)
};

// InputError for a bad grid, threads outside 0..16, steps < 1, or
// compression / keep_bits the writer refuses.
WriterBenchResult run_writer_bench(const WriterBenchOptions& options);

std::string writer_bench_table(const WriterBenchResult& r);
std::string writer_bench_json(const WriterBenchResult& r);
// One line for logs and scripts/gpu-check.sh.
std::string writer_bench_summary(const WriterBenchResult& r);

}  // namespace gencast
