// Noise schedule and churn rates against the reference fixture.
#include <catch2/catch.hpp>
#include <netcdf.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampler/schedule.h"

using namespace gencast;

namespace {

std::vector<float> read_root_floats(const std::string& path, const char* name) {
  int nc = 0, var = 0, ndims = 0;
  REQUIRE(nc_open(path.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  REQUIRE(nc_inq_varid(nc, name, &var) == NC_NOERR);
  REQUIRE(nc_inq_varndims(nc, var, &ndims) == NC_NOERR);
  REQUIRE(ndims == 1);
  int dim = 0;
  size_t len = 0;
  REQUIRE(nc_inq_vardimid(nc, var, &dim) == NC_NOERR);
  REQUIRE(nc_inq_dimlen(nc, dim, &len) == NC_NOERR);
  std::vector<float> v(len);
  REQUIRE(nc_get_var_float(nc, var, v.data()) == NC_NOERR);
  nc_close(nc);
  return v;
}

// Distance in units in the last place between two finite floats of equal sign.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(int64_t{ia} - int64_t{ib});
}

SamplerConfig fixture_config() {
  SamplerConfig c;  // defaults = the official SamplerConfig
  c.num_noise_levels = 5;
  return c;
}

}  // namespace

TEST_CASE("schedule matches the reference noise levels and churn rates", "[sampler]") {
  const std::string path = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/sampler_case_churn.nc";
  const std::vector<float> levels = read_root_floats(path, "noise_levels");
  const std::vector<float> churn = read_root_floats(path, "per_step_churn_rate");
  const SamplerSchedule s = make_schedule(fixture_config());
  REQUIRE(s.sigmas.size() == levels.size());
  REQUIRE(s.churn.size() == churn.size());
  // Both are float32 casts of double computations; the C library's pow may
  // differ from numpy's by a double ulp, which can move the float by at most 1 ulp.
  for (size_t i = 0; i < levels.size(); ++i) {
    INFO("level " << i << ": " << s.sigmas[i] << " vs " << levels[i]);
    CHECK(ulps(s.sigmas[i], levels[i]) <= 1);
  }
  for (size_t i = 0; i < churn.size(); ++i) {
    INFO("churn " << i << ": " << s.churn[i] << " vs " << churn[i]);
    CHECK(s.churn[i] == churn[i]);
  }
  CHECK(s.sigmas.back() == 0.f);
  CHECK(denoiser_calls_per_step(s) == 9);  // 2 * 5 - 1

  // Churn off: same levels, every rate 0.
  SamplerConfig off = fixture_config();
  off.stochastic_churn_rate = 0;
  const SamplerSchedule s0 = make_schedule(off);
  CHECK(s0.sigmas == s.sigmas);
  for (float r : s0.churn) CHECK(r == 0.f);
}

TEST_CASE("default 20-level schedule follows the rho formula", "[sampler]") {
  // Independent evaluation in long double of
  // sigma_i = (min^(1/rho) + (1 - i/(N-1)) (max^(1/rho) - min^(1/rho)))^rho.
  const SamplerConfig c;
  const SamplerSchedule s = make_schedule(c);
  REQUIRE(s.steps() == 20);
  REQUIRE(s.sigmas.size() == 21);
  const long double lo = std::pow(0.03L, 1 / 7.0L), hi = std::pow(80.0L, 1 / 7.0L);
  for (int i = 0; i < 20; ++i) {
    const long double q = 1 - static_cast<long double>(i) / 19;
    const auto want = static_cast<float>(std::pow(lo + q * (hi - lo), 7.0L));
    INFO("level " << i);
    CHECK(ulps(s.sigmas[i], want) <= 1);
    // Churn 2.5 / 20 = 0.125 (below the sqrt(2) - 1 clamp) where the level is >= 0.75.
    CHECK(s.churn[i] == (s.sigmas[i] >= 0.75f ? 0.125f : 0.f));
  }
  CHECK(s.sigmas[0] == 80.f);
  CHECK(s.sigmas[19] == 0.03f);
  CHECK(s.sigmas[20] == 0.f);
  CHECK(denoiser_calls_per_step(s) == 39);
}

TEST_CASE("a single-level schedule takes one denoiser call", "[sampler]") {
  SamplerConfig c;
  c.num_noise_levels = 1;
  const SamplerSchedule s = make_schedule(c);
  CHECK(s.sigmas == std::vector<float>{80.f, 0.f});
  CHECK(s.churn == std::vector<float>{static_cast<float>(std::sqrt(2.0) - 1)});  // 2.5 clamped
  CHECK(denoiser_calls_per_step(s) == 1);
}

TEST_CASE("invalid sampler configs are reported with their fields", "[sampler]") {
  SamplerConfig c;
  c.num_noise_levels = 0;
  c.min_noise_level = -1;
  c.rho = std::numeric_limits<double>::quiet_NaN();
  try {
    make_schedule(c, "ckpt.npz");
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(e.problems().size() == 3);
    CHECK(msg.find("ckpt.npz: sampler_config:num_noise_levels") != std::string::npos);
    CHECK(msg.find("sampler_config:min_noise_level") != std::string::npos);
    CHECK(msg.find("sampler_config:rho") != std::string::npos);
  }
  SamplerConfig d;
  d.churn_min_noise_level = 100;
  d.churn_max_noise_level = 10;
  CHECK_THROWS_AS(make_schedule(d), InputError);
  SamplerConfig e;
  e.num_noise_levels = kMaxNoiseLevels + 1;
  CHECK_THROWS_AS(make_schedule(e), InputError);
}
