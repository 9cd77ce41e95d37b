// GRIB in the run spec: output.format inferred from the output name when
// neither the file nor a flag gives it, a given format that contradicts the
// name refused (naming both keys), output.grib_packing and --grib-packing,
// and input.path as a list of GRIB files (YAML list, --input repeated), which
// survives the round trip through to_yaml.
#include <catch2/catch.hpp>

#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"
#include "test_spec_util.h"

using namespace gencast;
using namespace spec_test;

namespace {

RunSpec resolve_with(const std::string& text, const SpecOverrides& o = {}) {
  SpecDraft draft = parse_spec_text(SpecText{"/cfg/spec.yaml", text, "/cfg", "/cfg"});
  apply_overrides(draft, o, "/work");
  return finalize_spec(std::move(draft));
}

std::string spec_with(const std::string& output_lines, const std::string& input_path = "in.nc") {
  return "model:\n  checkpoint: ck.npz\n  stats_dir: stats\ninput:\n  path: " + input_path +
         "\noutput:\n" + output_lines;
}

}  // namespace

TEST_CASE("output.format follows the output name unless given", "[spec][grib]") {
  CHECK(resolve_with(spec_with("  path: out.nc\n")).output.format == OutputFormat::netcdf);
  CHECK(resolve_with(spec_with("  path: out.grib2\n")).output.format == OutputFormat::grib);
  CHECK(resolve_with(spec_with("  path: OUT.GRB\n")).output.format == OutputFormat::grib);
  CHECK(resolve_with(spec_with("  path: out.bin\n")).output.format == OutputFormat::netcdf);
  CHECK(resolve_with(spec_with("  path: out.bin\n  format: grib\n")).output.format ==
        OutputFormat::grib);
  SpecOverrides o;
  o.output = "flag.grib";
  CHECK(resolve_with(spec_with("  path: out.nc\n"), o).output.format == OutputFormat::grib);
  o.format = "grib";
  o.output = "flag.grib2";
  CHECK(resolve_with(spec_with("  path: out.nc\n"), o).output.format == OutputFormat::grib);
}

TEST_CASE("a format that contradicts the output name is refused", "[spec][grib]") {
  const auto problems =
      problems_of([] { resolve_with(spec_with("  path: out.nc\n  format: grib\n")); });
  const Problem* p = find_problem(problems, "output.format");
  REQUIRE(p);
  CHECK(contains(p->expected, "netcdf for 'out.nc'"));
  CHECK(p->found == "grib");
  SpecOverrides o;
  o.format = "netcdf";
  const auto flag_problems =
      problems_of([&] { resolve_with(spec_with("  path: out.grib2\n"), o); });
  REQUIRE(find_problem(flag_problems, "--format"));
  CHECK(contains(find_problem(flag_problems, "--format")->hint, "output.path"));
}

TEST_CASE("output.grib_packing and --grib-packing", "[spec][grib]") {
  CHECK(resolve_with(spec_with("  path: o.grib\n")).output.grib_packing == GribPacking::simple);
  CHECK(resolve_with(spec_with("  path: o.grib\n  grib_packing: ieee\n")).output.grib_packing ==
        GribPacking::ieee);
  SpecOverrides o;
  o.grib_packing = "ieee";
  CHECK(resolve_with(spec_with("  path: o.grib\n"), o).output.grib_packing == GribPacking::ieee);
  REQUIRE(find_problem(problems_of([] { resolve_with(spec_with("  path: o.grib\n  grib_packing: jpeg\n")); }),
                       "output.grib_packing"));
  o.grib_packing = "png";
  REQUIRE(find_problem(problems_of([&] { resolve_with(spec_with("  path: o.grib\n"), o); }),
                       "--grib-packing"));
}

TEST_CASE("input.path lists several GRIB files; the spec round-trips", "[spec][grib]") {
  const RunSpec spec =
      resolve_with(spec_with("  path: o.grib\n", "[era5_pl.grib, /data/era5_sfc.grib]"));
  CHECK(spec.input.path == "/cfg/era5_pl.grib");
  CHECK(spec.input.extra_paths == std::vector<std::string>{"/data/era5_sfc.grib"});
  CHECK(spec.input.paths() ==
        std::vector<std::string>{"/cfg/era5_pl.grib", "/data/era5_sfc.grib"});
  const RunSpec back = resolve_with(to_yaml(spec));
  CHECK(back == spec);
  // --input repeated replaces the whole list; once, it leaves one file.
  SpecOverrides o;
  o.input = std::vector<std::string>{"a.grib", "b.grib", "c.grib"};
  CHECK(resolve_with(to_yaml(spec), o).input.paths() ==
        std::vector<std::string>{"/work/a.grib", "/work/b.grib", "/work/c.grib"});
  o.input = std::vector<std::string>{"one.nc"};
  const RunSpec single = resolve_with(to_yaml(spec), o);
  CHECK(single.input.path == "/work/one.nc");
  CHECK(single.input.extra_paths.empty());
  // The output may not be any of the inputs.
  REQUIRE(find_problem(problems_of([] {
                         resolve_with(spec_with("  path: /data/era5_sfc.grib\n",
                                                "[era5_pl.grib, /data/era5_sfc.grib]"));
                       }),
                       "output.path"));
  REQUIRE(find_problem(problems_of([] { resolve_with(spec_with("  path: o.grib\n", "[]")); }),
                       "input.path"));
}
