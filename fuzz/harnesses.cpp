// Fuzz harness bodies (see harnesses.h). Parsers that take a path get the
// bytes through a file in a per-process scratch folder (/dev/shm when there
// is one: thousands of files a second).
#include "harnesses.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "core/error.h"
#include "io/checkpoint_reader.h"
#include "io/file_probe.h"
#include "io/initial_conditions.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/stats.h"
#include "model/checkpoint.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast::fuzz {
namespace fs = std::filesystem;
namespace {

const char* kStatsFiles[] = {kMeanStatsFile, kStddevStatsFile, kDiffsStddevStatsFile,
                             kMinStatsFile};

// The folder for this process's scratch files, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                          : fs::temp_directory_path();
    fs::path d = base / ("gencast-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code e;
      fs::remove_all(scratch(), e);
    });
    return d;
  }();
  return dir;
}

std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const fs::path p = scratch() / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw HarnessFailure("cannot write the scratch file " + p.string());
  return p.string();
}

// Runs `f`; an InputError (the input was rejected, as it may be) ends it.
template <class F>
bool accepted(F&& f) {
  try {
    f();
    return true;
  } catch (const InputError&) {
    return false;
  }
}

const std::string& tiny_checkpoint() {
  static const std::string path = std::string(GENCAST_FUZZ_FIXTURE_DIR) + "/tiny_checkpoint.npz";
  return path;
}

const TaskConfig& tiny_task() {
  static const TaskConfig task = read_model_config(NpzReader(tiny_checkpoint())).task;
  return task;
}

}  // namespace

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void fuzz_npy_header(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  accepted([&] {
    const npy::Header h = npy::parse_header(bytes, "fuzz.npy");
    if (h.data_offset > bytes.size())
      throw HarnessFailure("parse_header accepted a header longer than its input");
    for (const int64_t d : h.shape)
      if (d < 0) throw HarnessFailure("parse_header accepted a negative dimension");
  });
}

void fuzz_npz(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("fuzz.npz", data, size);
  accepted([&] {
    const NpzReader reader(path);
    for (const std::string& key : reader.keys()) {
      accepted([&] {
        const npy::Header h = reader.header(key);
        switch (h.dtype) {
          case npy::DType::unicode:
            if (h.numel() == 1) (void)reader.read_string(key);
            break;
          case npy::DType::i32:
          case npy::DType::i64:
          case npy::DType::boolean:
            (void)reader.read_i64(key);
            [[fallthrough]];
          default:
            (void)reader.read_f32(key);
            (void)reader.read_f64(key);
        }
      });
    }
  });
}

void fuzz_spec(const uint8_t* data, size_t size) {
  SpecText text;
  text.name = "fuzz.yaml";
  text.yaml.assign(reinterpret_cast<const char*>(data), size);
  text.base_dir = "/fuzz/specs";
  text.output_base_dir = "/fuzz/out";
  RunSpec spec;
  if (!accepted([&] { spec = finalize_spec(parse_spec_text(text)); })) return;
  // What is accepted round-trips: to_yaml is what check-config prints and
  // what the output file records as the run's spec.
  SpecText again = text;
  again.yaml = to_yaml(spec);
  RunSpec reread;
  if (!accepted([&] { reread = finalize_spec(parse_spec_text(again)); }))
    throw HarnessFailure("to_yaml wrote a spec that does not load again:\n" + again.yaml);
  if (!(reread == spec))
    throw HarnessFailure("to_yaml did not round-trip the spec:\n" + again.yaml);
}

void fuzz_checkpoint(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("checkpoint.npz", data, size);
  CheckpointSummary summary;
  if (!accepted([&] { summary = summarize_checkpoint(path, "auto", /*check_values=*/true); }))
    return;
  if (!summary.ok()) return;
  // check-config and inspect --values found nothing: the forecast loads it.
  try {
    (void)load_checkpoint(path);
  } catch (const InputError& e) {
    throw HarnessFailure(std::string("summarize_checkpoint found no problem, load_checkpoint: ") +
                         e.what());
  }
}

void fuzz_netcdf(const uint8_t* data, size_t size) {
  const TaskConfig& task = tiny_task();
  FileProbeOptions options;
  options.timeout_s = 20;
  // As an input file.
  const std::string input = write_scratch("source.nc", data, size);
  ProblemList problems;
  probe_files({FileProbeKind::input, tiny_checkpoint(), {input}, ""}, problems, options);
  if (problems.empty()) {
    try {
      (void)read_initial_conditions({input}, task, "");
    } catch (const InputError& e) {
      throw HarnessFailure(std::string("the probe found no problem, the read: ") + e.what());
    }
  }
  // As the mean statistics file, next to good copies of the other three.
  const fs::path stats = scratch() / "stats";
  std::error_code ec;
  if (!fs::exists(stats / kStddevStatsFile, ec)) {
    fs::create_directories(stats);
    for (const char* name : kStatsFiles)
      fs::copy_file(fs::path(GENCAST_FUZZ_FIXTURE_DIR) / name, stats / name,
                    fs::copy_options::overwrite_existing);
  }
  (void)write_scratch(std::string("stats/") + kMeanStatsFile, data, size);
  problems = ProblemList();
  probe_files({FileProbeKind::stats, tiny_checkpoint(), {stats.string()}, ""}, problems, options);
  if (problems.empty()) {
    try {
      (void)read_stats(stats.string(), task);
    } catch (const InputError& e) {
      throw HarnessFailure(std::string("the probe found no problem, the read: ") + e.what());
    }
  }
}

const std::vector<Harness>& harnesses() {
  static const std::vector<Harness> all = {
      {"npy_header", fuzz_npy_header}, {"npz", fuzz_npz},         {"spec", fuzz_spec},
      {"checkpoint", fuzz_checkpoint}, {"netcdf", fuzz_netcdf},
  };
  return all;
}

}  // namespace gencast::fuzz
