// Catch2 entry point for every unit and CLI test (tests/unit, tests/cli).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
