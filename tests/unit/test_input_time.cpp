// CF time units, ISO-8601 parsing/formatting and the civil-date arithmetic
// behind them.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "io/netcdf_util.h"

using namespace gencast;

TEST_CASE("days_from_civil agrees with counting days", "[data][time]") {
  // Independent derivation: walk the calendar day by day from 1900-01-01,
  // which is 25567 days before 1970-01-01 (70 years, 17 leap days).
  auto leap = [](int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
  const int days_in[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t day_number = -(70 * 365 + 17);
  size_t mismatches = 0, checked = 0;
  for (int64_t y = 1900; y < 2101; ++y)
    for (int64_t m = 1; m <= 12; ++m) {
      const int64_t n = days_in[m - 1] + (m == 2 && leap(y) ? 1 : 0);
      for (int64_t d = 1; d <= n; ++d, ++day_number, ++checked) {
        int64_t yy = 0, mm = 0, dd = 0;
        civil_from_days(day_number, yy, mm, dd);
        const bool ok = days_from_civil(y, m, d) == day_number && yy == y && mm == m && dd == d;
        mismatches += ok ? 0 : 1;
      }
    }
  CHECK(checked == 73414);  // 201 years * 365 + 49 leap days (1904..2096; 1900, 2100 are not)
  CHECK(mismatches == 0);
}

TEST_CASE("ISO-8601 times parse and format", "[data][time]") {
  // 1553860800 = calendar.timegm(datetime(2019, 3, 29, 12)) in Python.
  const int64_t t = 1553860800;
  for (const char* s : {"2019-03-29T12:00", "2019-03-29T12:00:00", "2019-03-29 12:00",
                        "2019-03-29T12", "2019-03-29T12:00Z", "2019-03-29T14:00+02:00",
                        " 2019-3-29T12:00:00.000 UTC"}) {
    INFO(s);
    CHECK(parse_iso_time(s, "init_time") == t);
  }
  CHECK(parse_iso_time("2019-03-29", "init_time") == t - 12 * 3600);
  CHECK(format_iso_time(t) == "2019-03-29T12:00");
  CHECK(format_iso_time(t + 7) == "2019-03-29T12:00:07");
  CHECK(format_iso_time(-1) == "1969-12-31T23:59:59");
  for (const char* bad : {"", "2019-13-01", "2019-02-30T00:00", "29/03/2019", "2019-03-29T25:00",
                          "2019-03-29T12:00 tomorrow"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_iso_time(bad, "init_time"), Catch::Contains("init_time"));
  }
}

TEST_CASE("CF time units", "[data][time]") {
  auto dt = parse_cf_time_units("hours since 2019-03-29 00:00:00");
  REQUIRE(dt);
  CHECK(dt->is_datetime);
  CHECK(dt->unit_ns == 3600LL * 1000000000LL);
  CHECK(dt->epoch_s == parse_iso_time("2019-03-29T00:00", "t"));
  auto td = parse_cf_time_units("nanoseconds");
  REQUIRE(td);
  CHECK_FALSE(td->is_datetime);
  CHECK(td->unit_ns == 1);
  // -2208988800 = calendar.timegm(datetime(1900, 1, 1)) in Python.
  auto era5 = parse_cf_time_units("hours since 1900-01-01");
  REQUIRE(era5);
  CHECK(era5->epoch_s == -2208988800LL);
  CHECK(parse_cf_time_units("days since 1970-01-01T00:00:00Z")->unit_ns == 86400LL * 1000000000LL);
  CHECK_FALSE(parse_cf_time_units("fortnights since 2019-01-01"));
  CHECK_FALSE(parse_cf_time_units("hours since yesterday"));
  CHECK(is_gregorian_calendar("proleptic_gregorian"));
  CHECK(is_gregorian_calendar(""));
  CHECK_FALSE(is_gregorian_calendar("noleap"));
}
