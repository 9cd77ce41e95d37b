// Run-time model set-up rules: the edge-cache decision and the grid-input rows.
#include <catch2/catch.hpp>

#include <algorithm>

#include "config/model_config.h"
#include "config/stacking.h"
#include "core/error.h"
#include "runtime/model_setup.h"

using namespace gencast;

TEST_CASE("edge cache: on/off as asked, auto only within a quarter of free memory", "[setup]") {
  CHECK(edge_cache_enabled(EdgeCache::on, 100, 10));
  CHECK_FALSE(edge_cache_enabled(EdgeCache::off, 1, 1000));
  CHECK(edge_cache_enabled(EdgeCache::automatic, 250, 1000));
  CHECK_FALSE(edge_cache_enabled(EdgeCache::automatic, 251, 1000));
  CHECK(parse_edge_cache("auto") == EdgeCache::automatic);
  CHECK(std::string(edge_cache_name(parse_edge_cache("off"))) == "off");
  CHECK_THROWS_AS(parse_edge_cache("maybe"), InputError);
}

TEST_CASE("grid input rows: every conditioning and target channel has its own row", "[setup]") {
  const GridFeatureLayout layout = grid_feature_layout(default_gencast_task());
  const GridInputRows rows = grid_input_rows(layout);
  REQUIRE(rows.conditioning_rows.size() == 180);
  REQUIRE(rows.target_rows.size() == 84);
  std::vector<int> all = rows.conditioning_rows;
  all.insert(all.end(), rows.target_rows.begin(), rows.target_rows.end());
  std::sort(all.begin(), all.end());
  // A permutation of the 264 stacked channels (the 3 structural rows come after).
  for (int i = 0; i < 264; ++i) CHECK(all[static_cast<size_t>(i)] == i);
  // The targets' rows are the noisy-target slots, in target order.
  for (size_t t = 0; t < rows.target_rows.size(); ++t)
    CHECK(layout.target_index[static_cast<size_t>(rows.target_rows[t])] == static_cast<int>(t));
}
