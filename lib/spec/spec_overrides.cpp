// Applies command-line overrides to a parsed spec. Each override replaces the
// file's value and its origin (so later messages name the flag); values are
// checked with the same rules as the file.
#include "spec/spec_overrides.h"

#include <algorithm>

#include "spec/spec_loader.h"

namespace gencast {
namespace {

constexpr const char* kCommandLine = "command line";

class OverrideApplier {
 public:
  OverrideApplier(SpecDraft& draft, const std::filesystem::path& cwd) : draft_(draft), cwd_(cwd) {}

  void problem(const char* flag, std::string expected, std::string found, std::string hint = {}) {
    draft_.problems.add(kCommandLine, flag, std::move(expected), std::move(found),
                        std::move(hint));
  }
  // Records that `key` now comes from `flag`; a problem the file had with
  // the key no longer matters once the flag replaces it.
  void set(const std::string& key, const char* flag) {
    draft_.origins[key] = SpecOrigin{kCommandLine, flag};
    draft_.invalid_keys.erase(key);
  }
  void path(const std::optional<std::string>& value, std::string& dst, const char* key,
            const char* flag) {
    if (!value) return;
    if (value->empty()) return problem(flag, "a path", "an empty string");
    dst = resolve_spec_path(*value, cwd_);
    set(key, flag);
  }
  template <class T, class Parse>
  void choice(const std::optional<std::string>& value, T& dst, Parse parse, const char* key,
              const char* flag, const std::string& expected) {
    if (!value) return;
    const auto parsed = parse(*value);
    if (!parsed) return problem(flag, expected, "'" + *value + "'");
    dst = *parsed;
    set(key, flag);
  }

  void apply(const SpecOverrides& o) {
    RunSpec& spec = draft_.spec;
    path(o.checkpoint, spec.model.checkpoint, "model.checkpoint", "--checkpoint");
    path(o.stats_dir, spec.model.stats_dir, "model.stats_dir", "--stats-dir");
    input_paths(o.input);
    path(o.output, spec.output.path, "output.path", "--output");
    if (o.init_time) {
      if (o.init_time->empty()) {
        spec.input.init_time.reset();
        set("input.init_time", "--init-time");
      } else if (auto t = parse_init_time(*o.init_time)) {
        spec.input.init_time = *t;
        set("input.init_time", "--init-time");
      } else {
        problem("--init-time", "an ISO 8601 UTC time such as 2019-03-29T12:00, or \"\"",
                "'" + *o.init_time + "'");
      }
    }
    forecast_length(o);
    members(o);
    if (o.seed) {
      spec.forecast.seed = *o.seed;
      set("forecast.seed", "--seed");
    }
    choice(o.device, spec.runtime.device, canonical_run_device, "runtime.device", "--device",
           kRunDeviceChoices);
    if (o.device && !o.devices) spec.runtime.devices.clear();  // --device alone: one worker
    if (o.devices) {
      const auto list = canonical_device_list(*o.devices);
      if (!list) {
        std::string given;
        for (const auto& d : *o.devices) given += (given.empty() ? "" : ",") + d;
        problem("--devices", kDeviceListChoices, "'" + given + "'");
      } else {
        spec.runtime.devices = *list;
        set("runtime.devices", "--devices");
      }
    }
    choice(o.precision, spec.model.precision, find_precision, "model.precision",
           "--precision", precision_choices());
    choice(o.attention, spec.model.attention, parse_attention_mode, "model.attention",
           "--attention", "auto, triblockdiag, sparse or dense");
    choice(o.layout, spec.output.layout, parse_output_layout, "output.layout", "--layout",
           "predictions or wb2");
    choice(o.edge_cache, spec.runtime.edge_cache, find_edge_cache, "runtime.edge_cache",
           "--edge-cache", kEdgeCacheChoices);
    choice(o.batch, spec.runtime.batch, parse_batch, "runtime.batch", "--batch", kBatchChoices);
    choice(o.format, spec.output.format, parse_output_format, "output.format", "--format",
           kOutputFormatChoices);
    choice(o.grib_packing, spec.output.grib_packing, parse_grib_packing, "output.grib_packing",
           "--grib-packing", kGribPackingChoices);
    if (o.variables) variables(*o.variables);
    if (o.plot) {
      spec.output.plot = true;
      set("output.plot", "--plot");
    }
    if (o.overwrite) {
      spec.output.overwrite = true;
      set("output.overwrite", "--overwrite");
    }
    if (o.resume) {
      spec.output.resume = true;
      set("output.resume", "--resume");
    }
    if (o.no_probe) {
      spec.runtime.probe_inputs = false;
      set("runtime.probe_inputs", "--no-probe");
    }
    if (o.compression) {
      if (*o.compression < 0 || *o.compression > 9) {
        problem("--compression", "a zlib level from 0 to 9", std::to_string(*o.compression));
      } else {
        spec.output.compression = *o.compression;
        set("output.compression", "--compression");
      }
    }
    if (o.keep_bits) {
      if (*o.keep_bits < 1 || *o.keep_bits > kMaxKeepBits) {
        problem("--keep-bits", "a number of float32 mantissa bits from 1 to 23",
                std::to_string(*o.keep_bits));
      } else {
        spec.output.keep_bits = *o.keep_bits;
        set("output.keep_bits", "--keep-bits");
      }
    }
  }

 private:
  // --input replaces the file's input paths; repeated, it names several GRIB files.
  void input_paths(const std::optional<std::vector<std::string>>& values) {
    if (!values) return;
    std::vector<std::string> paths;
    for (const auto& v : *values) {
      if (v.empty()) return problem("--input", "a path", "an empty string");
      paths.push_back(resolve_spec_path(v, cwd_));
    }
    if (paths.empty()) return problem("--input", "a path", "nothing");
    InputSection& in = draft_.spec.input;
    in.path = paths.front();
    in.extra_paths.assign(paths.begin() + 1, paths.end());
    set("input.path", "--input");
  }

  // The file's steps or lead_time is replaced as a whole by the flag.
  void forecast_length(const SpecOverrides& o) {
    if (o.steps && o.lead_time) {
      return problem("--steps / --lead-time", "at most one of --steps and --lead-time",
                     "both (--steps " + std::to_string(*o.steps) + ", --lead-time " +
                         *o.lead_time + ")");
    }
    if (o.steps) {
      if (*o.steps < 1 || *o.steps > kMaxSteps)
        return problem("--steps", "an integer from 1 to " + std::to_string(kMaxSteps) +
                                      " (12 h steps)",
                       std::to_string(*o.steps));
      draft_.spec.forecast.steps = *o.steps;
    } else if (o.lead_time) {
      ProblemList found;
      found.collect([&] {
        draft_.spec.forecast.steps = lead_time_to_steps(*o.lead_time, kCommandLine, "--lead-time");
      });
      for (const auto& p : found.problems()) draft_.problems.add(p);
      if (!found.empty()) return;
    } else {
      return;
    }
    set("forecast.steps", o.steps ? "--steps" : "--lead-time");
  }

  // --member-ids wins over --members; either replaces the file's selection.
  void members(const SpecOverrides& o) {
    ForecastSection& f = draft_.spec.forecast;
    if (o.member_ids) {
      const auto& ids = *o.member_ids;
      bool ok = !ids.empty();
      if (ids.empty()) problem("--member-ids", "a comma-separated list of member ids", "none");
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] < 0 || ids[i] > kMaxMemberId) {
          problem("--member-ids", "member ids from 0 to " + std::to_string(kMaxMemberId),
                  std::to_string(ids[i]));
          ok = false;
        } else if (std::find(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(i), ids[i]) !=
                   ids.begin() + static_cast<std::ptrdiff_t>(i)) {
          problem("--member-ids", "distinct member ids",
                  "member " + std::to_string(ids[i]) + " a second time");
          ok = false;
        }
      }
      if (ids.size() > static_cast<size_t>(kMaxMembers)) {
        problem("--member-ids", "at most " + std::to_string(kMaxMembers) + " member ids",
                std::to_string(ids.size()));
        ok = false;
      }
      if (!ok) return;
      f.member_ids = ids;
      set("forecast.member_ids", "--member-ids");
      set("forecast.members", "--member-ids");
    } else if (o.members) {
      if (*o.members < 1 || *o.members > kMaxMembers)
        return problem("--members", "an integer from 1 to " + std::to_string(kMaxMembers),
                       std::to_string(*o.members));
      f.members = *o.members;
      f.member_ids.clear();
      set("forecast.members", "--members");
    }
  }

  void variables(const std::vector<std::string>& names) {
    bool ok = true;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) {
        problem("--variables", "comma-separated variable names", "an empty name");
        ok = false;
      } else if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i),
                           names[i]) != names.begin() + static_cast<std::ptrdiff_t>(i)) {
        problem("--variables", "distinct variable names", "'" + names[i] + "' a second time");
        ok = false;
      }
    }
    if (!ok) return;
    draft_.spec.output.variables = names;
    set("output.variables", "--variables");
  }

  SpecDraft& draft_;
  std::filesystem::path cwd_;
};

}  // namespace

bool SpecOverrides::empty() const {
  return !checkpoint && !stats_dir && !input && !init_time && !output && !steps && !lead_time &&
         !members && !member_ids && !seed && !device && !devices && !batch && !precision && !attention && !layout &&
         !edge_cache && !format && !grib_packing && !variables && !compression && !keep_bits &&
         !overwrite && !plot && !resume &&
         !no_probe;
}

void apply_overrides(SpecDraft& draft, const SpecOverrides& overrides,
                     const std::filesystem::path& cwd) {
  OverrideApplier(draft, cwd).apply(overrides);
}

}  // namespace gencast
