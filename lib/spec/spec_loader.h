// Run spec loading: YAML text -> SpecDraft (values + where each came from +
// problems) -> command-line overrides -> one final validation -> RunSpec.
//
// Every problem of a file is reported at once (one InputError with all of
// them). File problems name the spec file, the key path and its position,
// e.g. "forecast.steps (line 12, column 10)"; command-line problems name the
// flag. Unknown keys, wrong types and out-of-range values are all errors.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/error.h"
#include "spec/run_spec.h"
#include "spec/spec_overrides.h"

namespace gencast {

// A spec document and how to resolve its relative paths.
struct SpecText {
  std::string name;  // shown in messages: the file path, or "built-in demo spec"
  std::string yaml;
  std::filesystem::path base_dir;         // relative model/input paths resolve here
  std::filesystem::path output_base_dir;  // relative output.path resolves here
};

// Where a value of the spec came from, for messages about it.
struct SpecOrigin {
  std::string file;   // spec name or "command line"
  std::string field;  // "forecast.steps (line 12, column 10)", "--steps", "forecast.steps (default)"
};

// The stage between parsing and final validation. Paths are already absolute;
// an empty required path means "not given"; an empty member_ids means "not
// given" (members applies).
struct SpecDraft {
  RunSpec spec;
  std::map<std::string, SpecOrigin> origins;  // key path -> origin of its current value
  std::set<std::string> invalid_keys;  // key paths with a reported problem (no "missing" too)
  bool document_ok = true;             // false: YAML syntax error or not a mapping
  ProblemList problems;

  // Origin of a key path; "(default)" when nothing set it.
  SpecOrigin origin(const std::string& key_path) const;
};

// Parses a spec document (defaults for everything it leaves out). Never throws
// for content problems: they are collected in the draft.
SpecDraft parse_spec_text(const SpecText& text);

// Checks what can only be checked once the file and the overrides are merged
// (required paths present, device vs precision), fills in member_ids and the
// default ensemble_dim, and throws InputError with every problem collected so
// far, file and command line together.
RunSpec finalize_spec(SpecDraft draft);

// A spec file, no overrides. Throws InputError (missing/unreadable file,
// YAML syntax error with line and column, every content problem).
RunSpec load_run_spec(const std::filesystem::path& path);

// The entry point for commands: the spec file (or, without one, the built-in
// demo spec), then the command-line overrides, validated once.
RunSpec resolve_run_spec(const std::optional<std::string>& spec_path,
                         const SpecOverrides& overrides);

// Lead time text -> number of 12 h steps: "<N>h" or "<N>d", a positive
// multiple of 12 h ("15d" = 30, "36h" = 3). Throws InputError naming
// `file` and `field` otherwise ("13h", "0h", "15", "2w").
int64_t lead_time_to_steps(std::string_view text, const std::string& file,
                           const std::string& field);

// A path from the spec or the command line made absolute: "~/" expands to
// $HOME, relative paths resolve against `base` (itself made absolute).
// Lexically normalised; the file need not exist.
std::string resolve_spec_path(const std::string& text, const std::filesystem::path& base);

// True when `a` and `b` name the same file: lexically, or (both existing)
// the same inode, so links and ../ spellings are caught.
bool same_file(const std::string& a, const std::string& b);

// File-system checks for check-config: checkpoint and input are files, the
// stats folder holds the four *_by_level.nc files, the output's folder exists
// and the output is not a folder. Adds one problem per failure.
void check_spec_paths(const RunSpec& spec, ProblemList& problems);

}  // namespace gencast
