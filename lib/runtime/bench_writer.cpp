#include "runtime/bench_writer.h"

#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numbers>
#include <sstream>
#include <vector>

#include "config/model_config.h"
#include "config/stacking.h"
#include "core/error.h"
#include "core/json.h"
#include "core/parallel.h"
#include "core/stopwatch.h"
#include "io/chunk_codec.h"
#include "io/netcdf_forecast_writer.h"
#include "io/netcdf_input.h"
#include "io/netcdf_util.h"
#include "numerics/philox.h"
#include "core/text.h"
#include "runtime/bench.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;
// CPU seconds used so far by this process (every thread counted) or by the
// calling thread.
double cpu_seconds(clockid_t clock) {
  timespec t{};
  ::clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// A variable's typical value and spread at a pressure level (hPa; 0 = surface),
// roughly as in ERA5, so that each field has its real exponent range.
struct Scale {
  double mean, spread;
  bool non_negative = false;
};

Scale variable_scale(const std::string& name, double hpa) {
  const double height = hpa > 0 ? 7400.0 * std::log(1000.0 / hpa) : 0.0;  // m, scale height
  if (name == "2m_temperature") return {280, 20};
  if (name == "sea_surface_temperature") return {290, 10};
  if (name == "mean_sea_level_pressure") return {101000, 1200};
  if (name == "total_precipitation_12hr") return {0.0005, 0.002, true};
  if (name == "geopotential") return {9.81 * height, 400 + 0.1 * height};
  if (name == "temperature") return {std::max(288.0 - 6.5e-3 * height, 215.0), 12};
  if (name == "specific_humidity") {
    const double q = 0.012 * std::pow(hpa / 1000.0, 3.0);
    return {q, 0.6 * q, true};
  }
  if (name == "vertical_velocity") return {0, 0.15};
  if (name.find("wind") != std::string::npos) return {0, 6 + height / 1500};
  return {0, 1};
}

// The fields of member-step `step`: [n_grid, channels], grid-node-major.
// Per channel a pattern of a few waves (phases move with the step) at the
// variable's scale plus uniform noise of 1 % of the spread, which fills the
// low mantissa bits; SST is NaN on a fixed "land" third of the globe.
void synthesize_step(const std::vector<float>& lat, const std::vector<float>& lon,
                     const std::vector<ChannelSlot>& channels, const std::vector<Scale>& scales,
                     int step, std::vector<float>& out) {
  const size_t n_lat = lat.size(), n_lon = lon.size(), n_ch = channels.size();
  // Separable waves: tables per channel over lat and lon keep this cheap.
  std::vector<float> a_lat(n_ch * n_lat), b_lat(n_ch * n_lat), a_lon(n_ch * n_lon),
      b_lon(n_ch * n_lon);
  for (size_t c = 0; c < n_ch; ++c) {
    const double k = 1.0 + static_cast<double>(c % 4), phase = 0.37 * static_cast<double>(c + step);
    for (size_t i = 0; i < n_lat; ++i) {
      const double y = lat[i] * std::numbers::pi / 180.0;
      a_lat[c * n_lat + i] = static_cast<float>(std::cos(y));
      b_lat[c * n_lat + i] = static_cast<float>(0.4 * std::sin(k * y + phase));
    }
    for (size_t j = 0; j < n_lon; ++j) {
      const double x = lon[j] * std::numbers::pi / 180.0;
      a_lon[c * n_lon + j] = static_cast<float>(std::sin(2.0 * x + phase));
      b_lon[c * n_lon + j] = static_cast<float>(std::cos((3.0 + k) * x - phase));
    }
  }
  int sst = -1;
  for (size_t c = 0; c < n_ch; ++c) {
    if (channels[c].variable == "sea_surface_temperature") sst = static_cast<int>(c);
  }
  out.resize(n_lat * n_lon * n_ch);
  parallel_for(
      static_cast<int64_t>(n_lat * n_lon),
      [&](int64_t begin, int64_t end) {
        for (auto g = static_cast<size_t>(begin); g < static_cast<size_t>(end); ++g) {
          const size_t i = g / n_lon, j = g % n_lon;
          float* row = out.data() + g * n_ch;
          for (size_t c = 0; c < n_ch; c += 4) {
            const uint32_t counter[4] = {static_cast<uint32_t>(g), static_cast<uint32_t>(c),
                                         static_cast<uint32_t>(step), 0};
            const uint32_t key[2] = {0x5eed, 0xbe7c};
            const Philox4x32 bits = philox4x32_10(counter, key);
            for (size_t q = 0; q < 4 && c + q < n_ch; ++q) {
              const size_t ch = c + q;
              const double wave = a_lat[ch * n_lat + i] * a_lon[ch * n_lon + j] +
                                  b_lat[ch * n_lat + i] * b_lon[ch * n_lon + j];
              const double noise = 0.02 * (philox_uniform_closed_open(bits.v[q]) - 0.5);
              double v = scales[ch].mean + scales[ch].spread * (wave + noise);
              if (scales[ch].non_negative) v = std::max(v, 0.0);
              row[ch] = static_cast<float>(v);
            }
          }
          if (sst >= 0 && a_lat[i] * a_lon[j] > 0.35f) {  // land
            row[sst] = std::numeric_limits<float>::quiet_NaN();
          }
        }
      },
      parallel_min_rows(static_cast<int64_t>(n_ch) * 4));
}

// netCDF's own path for the same chunks: HDF5's shuffle, then zlib's
// compress2 at `level` (what H5Z's deflate filter calls), on one thread, for
// the channels marked in `written`; `seconds` is that thread's CPU time (its
// wall time on an idle host).
void zlib_reference(const std::vector<float>& fields, size_t n_grid,
                    const std::vector<bool>& written, int level, double& bytes, double& seconds) {
  const size_t n_ch = written.size();
  std::vector<float> field(n_grid);
  std::vector<uint8_t> shuffled(n_grid * sizeof(float));
  std::vector<uint8_t> out(compressBound(static_cast<uLong>(shuffled.size())));
  bytes = 0;
  seconds = 0;
  for (size_t c = 0; c < n_ch; ++c) {
    if (!written[c]) continue;
    for (size_t g = 0; g < n_grid; ++g) field[g] = fields[g * n_ch + c];
    const double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    shuffle_bytes(field.data(), n_grid, sizeof(float), shuffled.data());
    uLongf size = static_cast<uLongf>(out.size());
    if (compress2(out.data(), &size, shuffled.data(), static_cast<uLong>(shuffled.size()), level) !=
        Z_OK) {
      throw RuntimeFailure("bench --writer: zlib compress2 failed");
    }
    seconds += cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
    bytes += static_cast<double>(size);
  }
}

// Member-step `step` from an input file: frame step % frames of every target
// variable the file has (the others, e.g. precipitation, which is no input,
// stay 0 and are not written: see `written`).
void input_step(const InputDataset& input, const std::vector<ChannelSlot>& channels, int step,
                std::vector<float>& out) {
  const auto n_grid = static_cast<size_t>(input.n_grid());
  const size_t n_ch = channels.size(), n_levels = input.levels.size();
  out.assign(n_grid * n_ch, 0.0f);
  for (size_t c = 0; c < n_ch; ++c) {
    const auto it = input.fields.find(channels[c].variable);
    if (it == input.fields.end()) continue;
    const ArrayF& field = it->second;
    const auto frames = static_cast<size_t>(field.shape[0]);
    const size_t frame = static_cast<size_t>(step) % frames;
    const size_t plane = channels[c].level >= 0 ? frame * n_levels + channels[c].level : frame;
    const float* src = field.ptr() + plane * n_grid;
    for (size_t g = 0; g < n_grid; ++g) out[g * n_ch + c] = src[g];
  }
}

}  // namespace

WriterBenchResult run_writer_bench(const WriterBenchOptions& options) {
  if (options.threads < 0 || options.threads > kMaxParallelWorkers) {
    fail_input("command line", "--threads", "0 (all cores) to " + std::to_string(kMaxParallelWorkers),
               std::to_string(options.threads));
  }
  if (options.steps < 1) {
    fail_input("command line", "--steps", "at least 1 member-step", std::to_string(options.steps));
  }
  const TaskConfig task = default_gencast_task();
  std::vector<float> lat, lon;
  InputDataset input;
  if (options.fields_from.empty()) {
    bench_grid(options.grid, lat, lon);
  } else {
    input = read_input_dataset(options.fields_from, task);
    lat = input.lat;
    lon = input.lon;
  }

  ForecastOutputSpec spec;
  const bool temporary = options.output.empty();
  spec.path = temporary ? (fs::temp_directory_path() /
                           ("gencast-bench-writer-" + std::to_string(::getpid()) + ".nc"))
                              .string()
                        : options.output;
  spec.lat = lat;
  spec.lon = lon;
  spec.levels = task.pressure_levels;
  spec.init_time_s = 1553817600;  // 2019-03-29T00:00Z
  for (int s = 0; s < options.steps; ++s) spec.lead_hours.push_back(12 * (s + 1));
  spec.member_ids = {0};
  spec.channels = target_channels(task);
  spec.compression = options.compression;
  spec.keep_bits = options.keep_bits;
  spec.spec_file = "command line";
  spec.model_description = "gencast-run bench --writer: synthetic fields";

  std::vector<Scale> scales;
  for (const auto& ch : spec.channels) {
    scales.push_back(variable_scale(
        ch.variable, ch.level >= 0 ? static_cast<double>(task.pressure_levels[ch.level]) : 0.0));
  }
  const size_t n_grid = lat.size() * lon.size(), n_ch = spec.channels.size();
  // Which channels are written: all, or those of the target variables the
  // input file has.
  std::vector<bool> written(n_ch, true);
  if (!options.fields_from.empty()) {
    for (size_t c = 0; c < n_ch; ++c) {
      const std::string& name = spec.channels[c].variable;
      written[c] = input.fields.count(name) > 0;
      if (written[c] && std::find(spec.variables.begin(), spec.variables.end(), name) ==
                            spec.variables.end()) {
        spec.variables.push_back(name);
      }
    }
    if (spec.variables.empty()) {
      fail_input(options.fields_from, "--fields-from", "an input file with target variables",
                 "none of them");
    }
  }
  const auto n_written = static_cast<size_t>(std::count(written.begin(), written.end(), true));

  WriterBenchResult r;
  r.grid = options.fields_from.empty() ? options.grid : options.fields_from;
  r.n_lat = static_cast<int64_t>(lat.size());
  r.n_lon = static_cast<int64_t>(lon.size());
  r.fields = static_cast<int64_t>(n_written);
  r.steps = options.steps;
  r.compression = options.compression;
  r.keep_bits = options.keep_bits;
  r.raw_bytes_per_step = static_cast<double>(n_grid * n_written * sizeof(float));

  const ScopedParallelWorkers workers(options.threads == 0 ? parallel_worker_count()
                                                           : options.threads);
  r.threads = parallel_worker_count();
  std::vector<float> fields, first;
  std::vector<double> step_seconds;
  {
    NetcdfForecastWriter writer(spec);
    for (int s = 0; s < options.steps; ++s) {
      if (options.fields_from.empty()) {  // not timed
        synthesize_step(lat, lon, spec.channels, scales, s, fields);
      } else {
        input_step(input, spec.channels, s, fields);
      }
      if (s == 0) first = fields;
      Stopwatch write;
      const double cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
      writer.write_step(0, s, fields.data());
      step_seconds.push_back(write.lap());
      r.cpu_seconds_per_step += (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / options.steps;
    }
    Stopwatch close;
    writer.close();
    r.close_seconds = close.lap();
    const WriterTimings& t = writer.timings();
    r.gather_seconds = t.gather / options.steps;
    r.encode_seconds = t.encode / options.steps;
    r.store_seconds = t.store / options.steps;
    r.stored_bytes = static_cast<double>(t.stored_bytes);
  }
  r.file_bytes = static_cast<double>(fs::file_size(spec.path));
  std::vector<double> sorted = step_seconds;
  std::sort(sorted.begin(), sorted.end());
  r.step_seconds_median = sorted[sorted.size() / 2];
  r.step_seconds_max = sorted.back();
  double total = 0;
  for (double s : step_seconds) total += s;
  r.megabytes_per_second = r.raw_bytes_per_step * options.steps / total / 1e6;

  // The first step read back through netCDF: the error keep_bits costs (and a
  // check that a lossless file gives back every bit).
  {
    const NcFile nc = NcFile::open_read(spec.path);
    std::vector<float> field(n_grid);
    for (size_t c = 0; c < n_ch; ++c) {
      if (!written[c]) continue;
      const auto var = nc_find_var(nc.id(), spec.channels[c].variable);
      if (!var) throw RuntimeFailure(spec.path + ": bench --writer: variable missing on read-back");
      std::vector<size_t> start = {0, 0, 0}, count = {1, 1, 1};
      if (spec.channels[c].level >= 0) {
        start.push_back(static_cast<size_t>(spec.channels[c].level));
        count.push_back(1);
      }
      start.insert(start.end(), {0, 0});
      count.insert(count.end(), {lat.size(), lon.size()});
      nc_read_f32(*var, start, count, field.data());
      for (size_t g = 0; g < n_grid; ++g) {
        const double want = first[g * n_ch + c], got = field[g];
        if (std::isnan(want) != std::isnan(got)) {
          throw RuntimeFailure(spec.path + ": bench --writer: NaN pattern changed on read-back");
        }
        if (std::isnan(want)) continue;
        const double err = std::abs(got - want);
        r.max_abs_error = std::max(r.max_abs_error, err);
        if (want != 0) r.max_rel_error = std::max(r.max_rel_error, err / std::abs(want));
      }
    }
  }
  if (temporary) fs::remove(spec.path);
  if (options.zlib_reference && options.compression > 0) {
    // Compare like with like: the same (rounded) values netCDF would be given.
    if (options.keep_bits > 0) bitround(first.data(), first.size(), static_cast<int>(options.keep_bits));
    zlib_reference(first, n_grid, written, static_cast<int>(options.compression),
                   r.zlib_bytes_per_step, r.zlib_seconds_per_step);
  }
  return r;
}

std::string writer_bench_json(const WriterBenchResult& r) {
  JsonWriter json;
  json.begin_object()
      .key("grid").value(r.grid)
      .key("n_lat").value(r.n_lat)
      .key("n_lon").value(r.n_lon)
      .key("fields_per_step").value(r.fields)
      .key("threads").value(r.threads)
      .key("steps").value(r.steps)
      .key("compression").value(r.compression)
      .key("keep_bits").value(r.keep_bits)
      .key("step_seconds_median").value(r.step_seconds_median)
      .key("step_seconds_max").value(r.step_seconds_max)
      .key("cpu_seconds_per_step").value(r.cpu_seconds_per_step)
      .key("gather_seconds").value(r.gather_seconds)
      .key("encode_seconds").value(r.encode_seconds)
      .key("store_seconds").value(r.store_seconds)
      .key("close_seconds").value(r.close_seconds)
      .key("raw_bytes_per_step").value(static_cast<int64_t>(r.raw_bytes_per_step))
      .key("stored_bytes").value(static_cast<int64_t>(r.stored_bytes))
      .key("file_bytes").value(static_cast<int64_t>(r.file_bytes))
      .key("megabytes_per_second").value(r.megabytes_per_second)
      .key("zlib_bytes_per_step").value(static_cast<int64_t>(r.zlib_bytes_per_step))
      .key("zlib_seconds_per_step").value(r.zlib_seconds_per_step)
      .key("max_abs_error").value(r.max_abs_error)
      .key("max_rel_error").value(r.max_rel_error)
      .end_object();
  return json.str();
}

std::string writer_bench_table(const WriterBenchResult& r) {
  std::ostringstream o;
  auto row = [&o](const char* key, const std::string& value) { o << table_row(key, value); };
  const auto num = format_number;
  const double stored_per_step = r.stored_bytes / r.steps;
  o << "gencast-run bench --writer\n";
  row("grid", r.grid + " (" + std::to_string(r.n_lat) + " x " + std::to_string(r.n_lon) + "), " +
                  std::to_string(r.fields) + " fields per member-step");
  row("threads", std::to_string(r.threads));
  row("compression / keep_bits",
      std::to_string(r.compression) + " / " +
          (r.keep_bits > 0 ? std::to_string(r.keep_bits) : std::string("lossless")));
  row("member-steps", std::to_string(r.steps));
  row("write_step (median, max)", num("%.3f s", r.step_seconds_median) + ", " +
                                      num("%.3f s", r.step_seconds_max));
  row("  gather / encode / store", num("%.3f", r.gather_seconds) + " / " +
                                       num("%.3f", r.encode_seconds) + " / " +
                                       num("%.3f s per step", r.store_seconds));
  row("  CPU time, all threads", num("%.3f s per step", r.cpu_seconds_per_step));
  row("close", num("%.3f s", r.close_seconds));
  row("throughput", num("%.0f MB/s of float32 fields", r.megabytes_per_second));
  row("stored per step", num("%.1f MB", stored_per_step / 1e6) + " (" +
                             num("%.1f %% of raw", 100.0 * stored_per_step / r.raw_bytes_per_step) +
                             ")");
  row("file", num("%.1f MB", r.file_bytes / 1e6));
  if (r.zlib_bytes_per_step > 0) {
    row("netCDF's zlib path, 1 thread",
        num("%.1f MB per step", r.zlib_bytes_per_step / 1e6) + " (ours " +
            num("%.2f %%", 100.0 * stored_per_step / r.zlib_bytes_per_step) + " of it), " +
            num("%.2f CPU s per step", r.zlib_seconds_per_step));
  }
  row("max error (abs, rel)", num("%.3g", r.max_abs_error) + ", " + num("%.3g", r.max_rel_error));
  return o.str();
}

std::string writer_bench_summary(const WriterBenchResult& r) {
  const double stored_per_step = r.stored_bytes / r.steps;
  const std::string bits = r.keep_bits > 0 ? ", keep_bits " + std::to_string(r.keep_bits) : "";
  char zlib[96] = "";
  if (r.zlib_bytes_per_step > 0) {
    std::snprintf(zlib, sizeof zlib, " (%.2f %% of netCDF's zlib %lld, which takes %.2f CPU s/step)",
                  100.0 * stored_per_step / r.zlib_bytes_per_step,
                  static_cast<long long>(r.compression), r.zlib_seconds_per_step);
  }
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "summary: writer %s, %d threads, compression %lld%s: %.3f s/step (median; "
                "CPU %.2f s), %.0f MB/s, stored %.1f %% of raw%s",
                r.grid.c_str(), r.threads, static_cast<long long>(r.compression), bits.c_str(),
                r.step_seconds_median, r.cpu_seconds_per_step, r.megabytes_per_second,
                100.0 * stored_per_step / r.raw_bytes_per_step, zlib);
  return buf;
}

}  // namespace gencast
