// The parallel plane reads of NetCDF-4 inputs (io/netcdf_plane_reads.h):
// which stored layouts take that path, that they read bit for bit what
// netCDF-C reads (every filter combination, transposed and flipped planes,
// CF fill values), and that a chunk that does not decode falls back to
// netCDF, whose error names the file and the variable.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "config/variables.h"
#include "core/error.h"
#include "io/hdf5_chunk_reader.h"
#include "io/netcdf_input.h"
#include "io/netcdf_plane_reads.h"
#include "io/netcdf_util.h"
#include "test_input_files.h"

using namespace gencast;
using gencast::testing::TempDir;
using gencast::testing::TestNcFile;
using gencast::testing::TestNcVar;
using gencast::testing::tiny_fixture;

namespace {

const char* kInit = "2019-03-29T12:00";

// Restores the default (parallel reads on) however a test ends.
struct ParallelReads {
  explicit ParallelReads(bool on) { set_parallel_plane_reads(on); }
  ~ParallelReads() { set_parallel_plane_reads(true); }
};

InputDataset read_with(bool parallel, const std::string& path) {
  ParallelReads scope(parallel);
  return read_input_dataset(path, default_gencast_task(), kInit);
}

// Bit-for-bit equal fields (NaN payloads included).
void require_identical(const InputDataset& a, const InputDataset& b) {
  REQUIRE(a.fields.size() == b.fields.size());
  for (const auto& [name, field] : a.fields) {
    INFO(name);
    REQUIRE(b.fields.count(name) == 1);
    const ArrayF& other = b.fields.at(name);
    REQUIRE(field.shape == other.shape);
    CHECK(std::memcmp(field.ptr(), other.ptr(), sizeof(float) * field.data.size()) == 0);
  }
}

// Chunks of one whole (lat, lon) plane for every gridded float variable,
// with the given filters; values perturbed with fresh random noise so that
// every plane differs (never the fixture's exact values alone).
TestNcFile plane_chunked(const TestNcFile& original, int deflate, bool shuffle, uint32_t seed) {
  TestNcFile f = original;
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1e-3);
  for (TestNcVar& v : f.vars) {
    const bool gridded = std::find(v.dims.begin(), v.dims.end(), "lat") != v.dims.end() &&
                         std::find(v.dims.begin(), v.dims.end(), "lon") != v.dims.end();
    if (!gridded || v.type != NC_FLOAT) continue;
    v.chunks.clear();
    for (const std::string& d : v.dims)
      v.chunks.push_back(d == "lat" || d == "lon" ? f.dim_size(d) : 1);
    v.deflate = deflate;
    v.shuffle = shuffle;
    for (double& x : v.values)
      if (!std::isnan(x)) x = static_cast<float>(x * (1.0 + noise(rng)));
  }
  return f;
}

}  // namespace

TEST_CASE("plane-chunked inputs read the same through the parallel path as through netCDF",
          "[data][input][plane_reads]") {
  const TestNcFile original = TestNcFile::load(tiny_fixture("source_tiny.nc"));
  TempDir dir;
  struct Variant {
    const char* name;
    int deflate;
    bool shuffle;
  };
  const Variant variants[] = {{"deflate1_shuffle", 1, true},
                              {"deflate5", 5, false},
                              {"shuffle_only", 0, true},
                              {"unfiltered", 0, false}};
  uint32_t seed = 11;
  for (const Variant& v : variants) {
    SECTION(v.name) {
      TestNcFile f = plane_chunked(original, v.deflate, v.shuffle, seed++);
      // Transposed, flipped and rolled planes, and CF fill values, too.
      f.transpose_var("2m_temperature", {"batch", "time", "lon", "lat"});
      f.var("2m_temperature").chunks = {1, 1, f.dim_size("lon"), f.dim_size("lat")};
      std::vector<size_t> lat(f.dim_size("lat"));
      for (size_t i = 0; i < lat.size(); ++i) lat[i] = lat.size() - 1 - i;
      f.select_along("lat", lat);
      std::vector<size_t> lon(f.dim_size("lon"));
      for (size_t i = 0; i < lon.size(); ++i) lon[i] = (i + lon.size() / 2) % lon.size();  // from 180
      f.select_along("lon", lon);
      for (double& x : f.var("lon").values)
        if (x >= 180.0) x -= 360.0;
      f.var("sea_surface_temperature").number_attrs["_FillValue"] = -9999.0;
      for (double& x : f.var("sea_surface_temperature").values)
        if (std::isnan(x)) x = -9999.0;
      const std::string path = dir.file(std::string(v.name) + ".nc");
      f.write(path);
      const InputDataset parallel = read_with(true, path);
      const InputDataset serial = read_with(false, path);
      require_identical(parallel, serial);
      size_t sst_nan = 0;
      for (float x : parallel.field("sea_surface_temperature").data) sst_nan += std::isnan(x) ? 1 : 0;
      CHECK(sst_nan > 0);  // the fill value became NaN on both paths
    }
  }
}

TEST_CASE("which stored layouts the parallel plane reads take", "[data][input][plane_reads]") {
  const TestNcFile original = TestNcFile::load(tiny_fixture("source_tiny.nc"));
  TempDir dir;
  TestNcFile f = plane_chunked(original, 1, true, 3);
  f.var("10m_u_component_of_wind").fletcher32 = true;               // checksums: no
  f.var("10m_v_component_of_wind").chunks = {1, 1, 23, 90};          // half planes: no
  f.var("mean_sea_level_pressure").chunks.clear();                   // netCDF's default: no
  f.var("mean_sea_level_pressure").deflate = 0;
  f.var("mean_sea_level_pressure").shuffle = false;
  const std::string path = dir.file("layouts.nc");
  f.write(path);
  const NcFile file = NcFile::open_read(path);
  auto eligible = [&](const std::string& name) {
    const auto var = nc_find_var(file.id(), name);
    REQUIRE(var.has_value());
    return NetcdfPlaneReads::eligible(*var, file.id(), var->dim_index("lat"), var->dim_index("lon"));
  };
  CHECK(eligible("2m_temperature"));
  CHECK(eligible("temperature"));
  CHECK_FALSE(eligible("10m_u_component_of_wind"));
  CHECK_FALSE(eligible("10m_v_component_of_wind"));
  CHECK_FALSE(eligible("mean_sea_level_pressure"));
  {
    ParallelReads off(false);
    CHECK_FALSE(eligible("2m_temperature"));
  }

  // The queued planes of an eligible variable: read here, equal to netCDF's.
  const auto var = nc_find_var(file.id(), "temperature");
  const size_t n_lat = f.dim_size("lat"), n_lon = f.dim_size("lon");
  PlaneLayout layout;
  layout.n_lat = n_lat;
  layout.n_lon = n_lon;
  std::vector<float> mine(2 * n_lat * n_lon), theirs(2 * n_lat * n_lon);
  NetcdfPlaneReads reads;
  std::vector<size_t> start(var->dims.size(), 0), count(var->dims.size(), 1);
  const int lat = var->dim_index("lat"), lon = var->dim_index("lon");
  count[static_cast<size_t>(lat)] = n_lat;
  count[static_cast<size_t>(lon)] = n_lon;
  for (size_t k = 0; k < 2; ++k) {
    start[static_cast<size_t>(var->dim_index("level"))] = 3 + 5 * k;
    start[static_cast<size_t>(var->dim_index("time"))] = k;
    reads.add(*var, start, lat, lon, layout, mine.data() + k * n_lat * n_lon);
    nc_read_f32(*var, start, count, theirs.data() + k * n_lat * n_lon);
  }
  CHECK(reads.run(path).empty());
  CHECK(std::memcmp(mine.data(), theirs.data(), sizeof(float) * mine.size()) == 0);
}

TEST_CASE("a chunk that does not decode falls back to netCDF, which names the file and variable",
          "[data][input][plane_reads]") {
  const TestNcFile original = TestNcFile::load(tiny_fixture("source_tiny.nc"));
  TempDir dir;
  const std::string path = dir.file("corrupt.nc");
  plane_chunked(original, 1, true, 5).write(path);
  // Find the stored bytes of one plane of 2m_temperature in the file and
  // damage the middle of its deflate stream.
  std::vector<uint8_t> stored;
  {
    Hdf5ChunkReader reader(path);
    const Hdf5ChunkReader::Dataset ds = reader.open_dataset("2m_temperature");
    REQUIRE(ds.filters.size() == 2);
    uint32_t mask = 0;
    reader.read_chunk(ds, {0, 1, 0, 0}, stored, mask);
    REQUIRE(mask == 0);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto at = std::search(bytes.begin(), bytes.end(), stored.begin(), stored.end());
  REQUIRE(at != bytes.end());
  for (size_t k = stored.size() / 2; k < stored.size() / 2 + 16; ++k) at[static_cast<long>(k)] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));

  ProblemList problems;
  check_input_dataset(path, default_gencast_task(), kInit, problems);
  REQUIRE_FALSE(problems.empty());
  bool named = false;
  for (const Problem& p : problems.problems()) {
    INFO(p.file << ": " << p.field << ": " << p.found);
    named = named || (p.file == path && p.field == "2m_temperature");
  }
  CHECK(named);
}
