// The fuzz harnesses' bodies, one per untrusted-input parser, shared by the
// libFuzzer executables (fuzz_*.cpp, clang builds with GENCAST_FUZZ=ON) and the
// regression test (tests/unit/test_fuzz_regressions.cpp), which replays every
// seed and every input that once broke a harness (tests/data/regressions/).
//
// Each harness feeds `data` to a parser the way a command does and checks the
// contract: bad input ends in InputError (exit 2) and nothing else; input a
// check accepts is accepted by the code that runs afterwards (check-config
// says OK => the forecast reads it). A broken contract throws HarnessFailure;
// crashes and sanitizer reports end the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gencast::fuzz {

// A broken contract (not a rejected input).
class HarnessFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The .npy header parser (npy::parse_header) on the bytes themselves.
void fuzz_npy_header(const uint8_t* data, size_t size);
// An .npz archive: open, every member's header, every member read as its dtype.
void fuzz_npz(const uint8_t* data, size_t size);
// A run spec (YAML): parse and validate; an accepted spec survives a round
// trip through to_yaml unchanged.
void fuzz_spec(const uint8_t* data, size_t size);
// A checkpoint: summarize_checkpoint with values (inspect --values,
// check-config); when it finds no problem, load_checkpoint must succeed.
void fuzz_checkpoint(const uint8_t* data, size_t size);
// A file as the input (NetCDF, or GRIB when it starts with "GRIB") and as a
// statistics file, through the file probe (a child process): when the probe
// finds no problem, the in-process read must succeed. The task is the tiny
// fixture checkpoint's.
void fuzz_netcdf(const uint8_t* data, size_t size);

struct Harness {
  const char* name;  // fuzz_<name> executable, tests/data/regressions/<name>/
  void (*run)(const uint8_t*, size_t);
};
const std::vector<Harness>& harnesses();

// The bytes of a file (for replays).
std::vector<uint8_t> read_bytes(const std::string& path);

}  // namespace gencast::fuzz
