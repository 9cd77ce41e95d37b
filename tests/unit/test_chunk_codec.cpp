// The chunk encoder of the forecast writer (io/chunk_codec.h): bitround() is
// netCDF-C's own BitRound bit for bit (netCDF quantizes the same values on
// nc_put_var and we compare), keeps the error bound and NaN/Inf; the shuffle
// and the zlib stream decode with plain zlib to the input.
#include <netcdf.h>
#include <zlib.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "io/chunk_codec.h"
#include "test_temp_dir.h"

using namespace gencast;
using gencast::testing::TempDir;

namespace {

// Values of every kind BitRound meets: magnitudes from subnormal to near
// FLT_MAX, both signs, exact zeros, and values on rounding ties.
std::vector<float> awkward_values(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-140, 127);
  std::vector<float> v;
  for (int i = 0; i < 20000; ++i) {
    const float x = std::ldexp(mantissa(rng), exponent(rng));
    v.push_back(i % 2 ? x : -x);
  }
  for (uint32_t bits = 0; bits < 64; ++bits) {  // ties and near-ties at every keep_bits
    v.push_back(std::bit_cast<float>(0x3f800000u | (1u << (bits % 23))));
    v.push_back(std::bit_cast<float>(0x3f800000u | ((1u << (bits % 23)) - 1)));
  }
  v.push_back(0.0f);
  v.push_back(-0.0f);
  v.push_back(std::numeric_limits<float>::max());
  v.push_back(std::numeric_limits<float>::denorm_min());
  return v;
}

// What netCDF-C stores for `values` in a variable quantized with BitRound.
std::vector<float> netcdf_bitround(const std::vector<float>& values, int keep_bits,
                                   const std::string& path) {
  int nc = -1, dim = -1, var = -1;
  REQUIRE(nc_create(path.c_str(), NC_NETCDF4 | NC_CLOBBER, &nc) == NC_NOERR);
  REQUIRE(nc_def_dim(nc, "n", values.size(), &dim) == NC_NOERR);
  REQUIRE(nc_def_var(nc, "v", NC_FLOAT, 1, &dim, &var) == NC_NOERR);
  REQUIRE(nc_def_var_quantize(nc, var, NC_QUANTIZE_BITROUND, keep_bits) == NC_NOERR);
  REQUIRE(nc_put_var_float(nc, var, values.data()) == NC_NOERR);
  REQUIRE(nc_close(nc) == NC_NOERR);
  std::vector<float> out(values.size());
  REQUIRE(nc_open(path.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  REQUIRE(nc_get_var_float(nc, var, out.data()) == NC_NOERR);
  nc_close(nc);
  return out;
}

}  // namespace

TEST_CASE("bitround: the values netCDF-C's own BitRound stores, bit for bit", "[output][codec]") {
  TempDir dir;
  const auto values = awkward_values(11);
  for (int keep_bits : {1, 2, 5, 10, 16, 22, 23}) {
    const auto want = netcdf_bitround(values, keep_bits, dir.file("q.nc"));
    auto got = values;
    bitround(got.data(), got.size(), keep_bits);
    size_t mismatches = 0, changed = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i])) ++mismatches;
      if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(values[i])) ++changed;
    }
    INFO("keep_bits " << keep_bits);
    CHECK(mismatches == 0);
    if (keep_bits < 16) CHECK(changed > values.size() / 2);  // it did round
    if (keep_bits == 23) CHECK(changed == 0);                // all bits kept: lossless
  }
}

TEST_CASE("bitround: error within half a unit of the kept bits; NaN and Inf kept", "[output][codec]") {
  const auto values = awkward_values(12);
  for (int keep_bits = 1; keep_bits <= 23; ++keep_bits) {
    auto r = values;
    bitround(r.data(), r.size(), keep_bits);
    double worst = 0;
    size_t low_bits_set = 0;
    const uint32_t dropped_mask = (uint32_t{1} << (23 - keep_bits)) - 1;
    for (size_t i = 0; i < r.size(); ++i) {
      if (!std::isnormal(values[i]) || !std::isfinite(r[i])) continue;
      worst = std::max(worst, std::abs(double(r[i]) - values[i]) / std::abs(double(values[i])));
      if (std::bit_cast<uint32_t>(r[i]) & dropped_mask) ++low_bits_set;
    }
    INFO("keep_bits " << keep_bits);
    CHECK(worst <= std::ldexp(1.0, -(keep_bits + 1)));
    if (keep_bits < 23) CHECK(worst > 0.25 * std::ldexp(1.0, -(keep_bits + 1)));  // tight bound
    CHECK(low_bits_set == 0);
  }
  // NaNs (any payload, both signs) and infinities pass unchanged.
  std::vector<float> special = {std::numeric_limits<float>::quiet_NaN(),
                                std::bit_cast<float>(0x7fffffffu), std::bit_cast<float>(0xffc00001u),
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
  auto kept = special;
  bitround(kept.data(), kept.size(), 1);
  CHECK(std::memcmp(kept.data(), special.data(), special.size() * sizeof(float)) == 0);
  CHECK_THROWS_AS(bitround(kept.data(), kept.size(), 0), std::invalid_argument);
  CHECK_THROWS_AS(bitround(kept.data(), kept.size(), 24), std::invalid_argument);
}

TEST_CASE("chunk codec: shuffle + zlib stream decode with plain zlib to the input", "[output][codec]") {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(280.0f, 20.0f);
  std::vector<float> field(70001);  // odd length: no alignment luck
  for (auto& x : field) x = normal(rng);

  std::vector<uint8_t> shuffled(field.size() * 4);
  shuffle_bytes(field.data(), field.size(), 4, shuffled.data());
  // HDF5's layout: byte plane k holds byte k of every element.
  const auto* bytes = reinterpret_cast<const uint8_t*>(field.data());
  for (size_t i : {size_t{0}, size_t{1}, size_t{4567}, field.size() - 1}) {
    for (size_t k = 0; k < 4; ++k) CHECK(shuffled[k * field.size() + i] == bytes[4 * i + k]);
  }
  // Other element sizes (the generic path): 2-byte elements of the same bytes.
  std::vector<uint8_t> by2(field.size() * 4);
  const size_t n2 = field.size() * 2;
  shuffle_bytes(field.data(), n2, 2, by2.data());
  size_t wrong = 0;
  for (size_t i = 0; i < n2; ++i) {
    for (size_t k = 0; k < 2; ++k) wrong += by2[k * n2 + i] != bytes[2 * i + k];
  }
  CHECK(wrong == 0);

  for (int level : {1, 5, 9, 12}) {
    ChunkDeflater deflater(level);
    std::vector<uint8_t> stream(shuffled.size());
    stream.resize(deflater.compress(shuffled.data(), shuffled.size(), stream.data(), stream.size()));
    CHECK(!stream.empty());
    CHECK(stream.size() < shuffled.size());
    std::vector<uint8_t> back(shuffled.size());
    uLongf back_size = back.size();
    REQUIRE(uncompress(back.data(), &back_size, stream.data(), stream.size()) == Z_OK);
    CHECK(back_size == shuffled.size());
    CHECK(back == shuffled);
  }
  // Incompressible bytes do not fit in their own size: 0, nothing promised.
  std::vector<uint8_t> noise(100000);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> room(noise.size());
  CHECK(ChunkDeflater(5).compress(noise.data(), noise.size(), room.data(), room.size()) == 0);
  CHECK_THROWS_AS(ChunkDeflater(0), std::invalid_argument);
  CHECK_THROWS_AS(ChunkDeflater(13), std::invalid_argument);
}
