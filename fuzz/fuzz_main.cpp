// One libFuzzer executable per harness (harnesses.h): the build compiles this
// file once per target with GENCAST_FUZZ_TARGET set to the harness function.
// A broken contract (HarnessFailure) or any unexpected exception aborts, so
// libFuzzer keeps the input as a crash.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "harnesses.h"
#include "io/file_probe.h"

// The NetCDF harness's file probe starts this executable again with the
// probe's hidden command: answer it before libFuzzer parses the arguments.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (gencast::is_file_probe_command(*argc, *argv))
    std::exit(gencast::file_probe_child_main(*argc, *argv));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gencast::fuzz::GENCAST_FUZZ_TARGET(data, size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "harness %s: %s\n", GENCAST_FUZZ_TARGET_NAME, e.what());
    std::abort();
  }
  return 0;
}
