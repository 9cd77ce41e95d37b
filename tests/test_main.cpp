// Catch2 entry point for every unit and CLI test (tests/unit, tests/cli).
// Like app/main.cpp, it answers the NetCDF file probe's hidden command: the
// probe starts the running program (this one, when a test calls check_run).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "io/file_probe.h"

int main(int argc, char** argv) {
  if (gencast::is_file_probe_command(argc, argv)) return gencast::file_probe_child_main(argc, argv);
  return Catch::Session().run(argc, argv);
}
