// GribForecastSink: files read back with ecCodes (keys of every message,
// values within the simple-packing error or exact with IEEE packing, the SST
// land mask as bitmap-missing points), variable subsets, option checks, and
// the atomicity contract (no final file unless close() succeeded).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/grib_forecast_sink.h"
#include "io/grib_handle.h"
#include "io/grib_params.h"
#include "test_temp_dir.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::vector<int64_t> kLevels = {50,  100, 150, 200, 250, 300, 400,
                                      500, 600, 700, 850, 925, 1000};
const std::vector<std::string> kSurface = {"10m_u_component_of_wind", "10m_v_component_of_wind",
                                           "2m_temperature",          "mean_sea_level_pressure",
                                           "sea_surface_temperature", "total_precipitation_12hr"};
const std::vector<std::string> kAtmospheric = {"geopotential",        "specific_humidity",
                                               "temperature",         "u_component_of_wind",
                                               "v_component_of_wind", "vertical_velocity"};

// The 84 target channels in the model's order: variables sorted by name, levels within.
std::vector<ChannelSlot> target_channels() {
  std::vector<std::string> names = kSurface;
  names.insert(names.end(), kAtmospheric.begin(), kAtmospheric.end());
  std::sort(names.begin(), names.end());
  std::vector<ChannelSlot> out;
  for (const auto& name : names) {
    if (std::find(kAtmospheric.begin(), kAtmospheric.end(), name) != kAtmospheric.end()) {
      for (int k = 0; k < static_cast<int>(kLevels.size()); ++k) out.push_back({name, 0, k});
    } else {
      out.push_back({name, 0, -1});
    }
  }
  return out;
}

// A 4-degree forecast: members 3 and 7 (ids, not indices), 3 lead times.
ForecastOutputSpec small_spec(const fs::path& file) {
  ForecastOutputSpec spec;
  spec.path = file.string();
  for (int i = 0; i < 46; ++i) spec.lat.push_back(-90.0f + 4.0f * static_cast<float>(i));
  for (int i = 0; i < 90; ++i) spec.lon.push_back(4.0f * static_cast<float>(i));
  spec.levels = kLevels;
  spec.init_time_s = 1553860800;  // 2019-03-29T12:00:00Z
  spec.lead_hours = {12, 24, 36};
  spec.member_ids = {3, 7};
  spec.channels = target_channels();
  return spec;
}

// Random fields per (member, lead): each channel has its own offset and scale
// (precipitation ~1e-3 m, geopotential ~1e5), SST is NaN on a "land" mask.
std::vector<std::vector<float>> random_fields(const ForecastOutputSpec& spec, unsigned seed) {
  const size_t n_grid = spec.lat.size() * spec.lon.size(), n_ch = spec.channels.size();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> out;
  for (size_t s = 0; s < spec.member_ids.size() * spec.lead_hours.size(); ++s) {
    std::vector<float> step(n_grid * n_ch);
    for (size_t c = 0; c < n_ch; ++c) {
      const float scale = std::pow(10.0f, static_cast<float>(c % 9) - 4.0f);
      const float offset = 3.0f * scale * static_cast<float>(c % 5);
      for (size_t g = 0; g < n_grid; ++g) {
        float v = offset + scale * normal(rng);
        if (spec.channels[c].variable == "sea_surface_temperature" && (g * 7919) % 3 == 0)
          v = std::numeric_limits<float>::quiet_NaN();
        step[g * n_ch + c] = v;
      }
    }
    out.push_back(std::move(step));
  }
  return out;
}

void write_all(GribForecastSink& sink, const ForecastOutputSpec& spec,
               const std::vector<std::vector<float>>& f) {
  const int n_m = static_cast<int>(spec.member_ids.size());
  const int n_l = static_cast<int>(spec.lead_hours.size());
  for (int l = n_l - 1; l >= 0; --l)
    for (int m = n_m - 1; m >= 0; --m) sink.write_step(m, l, f[static_cast<size_t>(m * n_l + l)].data());
}

struct ReadMessage {
  std::map<std::string, long> longs;
  std::map<std::string, std::string> strings;
  std::vector<double> values;
};

std::vector<ReadMessage> read_all(const std::string& path) {
  std::vector<ReadMessage> out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f);
  while (GribHandle h = GribHandle::next_in_file(f, path)) {
    ReadMessage m;
    for (const char* k : {"edition", "centre", "paramId", "level", "perturbationNumber",
                          "numberOfForecastsInEnsemble", "dataDate", "dataTime",
                          "productDefinitionTemplateNumber", "startStep", "endStep", "Ni", "Nj",
                          "jScansPositively", "typeOfProcessedData"})
      m.longs[k] = h.get_long(k);
    for (const char* k : {"shortName", "typeOfLevel", "stepRange", "stepType", "dataType",
                          "packingType", "gridType"})
      m.strings[k] = h.get_string(k);
    m.longs["lat_first"] = std::lround(h.get_double("latitudeOfFirstGridPointInDegrees"));
    m.longs["lat_last"] = std::lround(h.get_double("latitudeOfLastGridPointInDegrees"));
    m.longs["lon_last"] = std::lround(h.get_double("longitudeOfLastGridPointInDegrees"));
    m.values = h.get_values();
    out.push_back(std::move(m));
  }
  std::fclose(f);
  return out;
}

// The written value of channel `c` at GRIB point `p` (north-to-south rows).
float source_value(const ForecastOutputSpec& spec, const std::vector<float>& step, size_t c,
                   size_t p) {
  const size_t n_lat = spec.lat.size(), n_lon = spec.lon.size();
  const size_t row = p / n_lon, col = p % n_lon;
  return step[((n_lat - 1 - row) * n_lon + col) * spec.channels.size() + c];
}

// Checks every message against the source fields; `exact` for IEEE packing.
void check_messages(const ForecastOutputSpec& spec, const std::vector<std::vector<float>>& f,
                    const std::vector<ReadMessage>& msgs, bool exact) {
  const size_t n_l = spec.lead_hours.size();
  std::set<std::tuple<long, long, std::string, long>> seen;
  for (const ReadMessage& m : msgs) {
    const std::string& sn = m.strings.at("shortName");
    INFO(sn << " level " << m.longs.at("level") << " step " << m.strings.at("stepRange"));
    CHECK(m.longs.at("edition") == 2);
    CHECK(m.longs.at("centre") == 98);
    CHECK(m.strings.at("dataType") == "pf");
    CHECK(m.longs.at("numberOfForecastsInEnsemble") == 2);
    CHECK(m.longs.at("dataDate") == 20190329);
    CHECK(m.longs.at("dataTime") == 1200);
    CHECK(m.strings.at("gridType") == "regular_ll");
    CHECK(m.longs.at("Ni") == 90);
    CHECK(m.longs.at("Nj") == 46);
    CHECK(m.longs.at("lat_first") == 90);
    CHECK(m.longs.at("lat_last") == -90);
    CHECK(m.longs.at("lon_last") == 356);
    CHECK(m.strings.at("packingType") == (exact ? "grid_ieee" : "grid_simple"));
    // Which channel: the param table's variable with this paramId and level type.
    const GribParam* param = nullptr;
    for (const auto& p : grib_params())
      if (p.param_id == m.longs.at("paramId") && p.type_of_level == m.strings.at("typeOfLevel") &&
          p.variable != "geopotential_at_surface" && p.variable != "land_sea_mask")
        param = &p;
    REQUIRE(param);
    CHECK(sn == param->short_name);
    const long level = m.longs.at("level");
    if (!param->pressure_levels) CHECK(level == param->level);
    size_t c = 0;
    while (c < spec.channels.size() &&
           !(spec.channels[c].variable == param->variable &&
             (spec.channels[c].level < 0 || spec.levels[static_cast<size_t>(spec.channels[c].level)] == level)))
      ++c;
    REQUIRE(c < spec.channels.size());
    const long member = m.longs.at("perturbationNumber");
    const auto mi = static_cast<size_t>(
        std::find(spec.member_ids.begin(), spec.member_ids.end(), member) - spec.member_ids.begin());
    REQUIRE(mi < spec.member_ids.size());
    const long end = m.longs.at("endStep");
    const auto li = static_cast<size_t>(
        std::find(spec.lead_hours.begin(), spec.lead_hours.end(), end) - spec.lead_hours.begin());
    REQUIRE(li < n_l);
    if (param->accumulation_12h) {
      CHECK(m.longs.at("productDefinitionTemplateNumber") == 11);
      CHECK(m.strings.at("stepType") == "accum");
      CHECK(m.strings.at("stepRange") == std::to_string(end - 12) + "-" + std::to_string(end));
    } else {
      CHECK(m.longs.at("productDefinitionTemplateNumber") == 1);
      CHECK(m.strings.at("stepType") == "instant");
      CHECK(m.longs.at("startStep") == end);
    }
    CHECK(seen.insert({member, end, sn + m.strings.at("typeOfLevel"), level}).second);

    const std::vector<float>& step = f[mi * n_l + li];
    REQUIRE(m.values.size() == spec.lat.size() * spec.lon.size());
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < m.values.size(); ++p) {
      const float v = source_value(spec, step, c, p);
      if (!std::isnan(v)) lo = std::min(lo, double{v}), hi = std::max(hi, double{v});
    }
    // Simple packing: values are R + X * 2^E with 2^E the smallest power of two
    // >= range / 65535, rounded to the nearest: error <= 2^E / 2 < range / 65535.
    const double tol = exact ? 0.0 : (hi - lo) / 65535.0;
    double worst = 0;
    for (size_t p = 0; p < m.values.size(); ++p) {
      const float v = source_value(spec, step, c, p);
      REQUIRE(std::isnan(m.values[p]) == std::isnan(v));
      if (!std::isnan(v)) worst = std::max(worst, std::fabs(m.values[p] - v));
    }
    CHECK(worst <= tol);
    if (!exact) CHECK(worst > 0);  // 16 bits cannot hold these random floats exactly
  }
  CHECK(seen.size() == msgs.size());
}

}  // namespace

TEST_CASE("GRIB sink: keys of every message and values within the packing error", "[grib][output]") {
  TempDir dir;
  ForecastOutputSpec spec = small_spec(dir.path() / "forecast.grib2");
  const auto fields = random_fields(spec, 11);
  const bool ieee = GENERATE(false, true);
  spec.grib_packing = ieee ? GribPacking::ieee : GribPacking::simple;
  {
    GribForecastSink sink(spec);
    write_all(sink, spec, fields);
    CHECK_FALSE(fs::exists(spec.path));  // only the temporary file so far
    sink.close();
  }
  REQUIRE(fs::exists(spec.path));
  CHECK(dir.entries() == std::vector<std::string>{"forecast.grib2"});
  const auto msgs = read_all(spec.path);
  CHECK(msgs.size() == 2 * 3 * 84);
  check_messages(spec, fields, msgs, ieee);
}

TEST_CASE("GRIB sink: a variable subset writes only those variables", "[grib][output]") {
  TempDir dir;
  ForecastOutputSpec spec = small_spec(dir.path() / "subset.grib");
  spec.variables = {"total_precipitation_12hr", "temperature"};
  const auto fields = random_fields(spec, 5);
  GribForecastSink sink(spec);
  write_all(sink, spec, fields);
  sink.close();
  const auto msgs = read_all(spec.path);
  CHECK(msgs.size() == 2 * 3 * (1 + 13));
  std::set<std::string> names;
  for (const auto& m : msgs) names.insert(m.strings.at("shortName"));
  CHECK(names == std::set<std::string>{"tp", "t"});
  check_messages(spec, fields, msgs, false);
}

TEST_CASE("GRIB sink: nothing is left behind without a successful close", "[grib][output]") {
  TempDir dir;
  const ForecastOutputSpec spec = small_spec(dir.path() / "f.grib2");
  const auto fields = random_fields(spec, 3);
  {
    GribForecastSink sink(spec);
    sink.write_step(0, 0, fields[0].data());
    CHECK(fs::exists(sink.temp_path()));
  }  // destroyed without close()
  CHECK(dir.entries().empty());
  {
    GribForecastSink sink(spec);
    sink.write_step(0, 0, fields[0].data());
    CHECK_THROWS_AS(sink.write_step(0, 0, fields[0].data()), std::logic_error);
    CHECK_THROWS_AS(sink.close(), RuntimeFailure);  // steps missing
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("GRIB sink: options GRIB cannot carry are input errors", "[grib][output]") {
  TempDir dir;
  ForecastOutputSpec spec = small_spec(dir.path() / "f.grib2");
  SECTION("member ids beyond one octet") {
    spec.member_ids = {3, 300};
    try {
      GribForecastSink sink(spec);
      FAIL("no InputError");
    } catch (const InputError& e) {
      const std::string text = e.what();
      CHECK(text.find("forecast.member_ids") != std::string::npos);
      CHECK(text.find("300") != std::string::npos);
    }
  }
  SECTION("an unknown variable") {
    spec.variables = {"total_precipitation_6hr"};
    CHECK_THROWS_AS(GribForecastSink(spec), InputError);
  }
  CHECK(dir.entries().empty());
}
