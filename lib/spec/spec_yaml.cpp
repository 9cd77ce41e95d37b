// Writes a RunSpec as YAML with yaml-cpp's emitter (which quotes whatever
// needs quoting), plus comments giving the units.
#include "spec/spec_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>

namespace gencast {
namespace {

// Shortest text that reads back as the same double; YAML spells infinity .inf.
std::string yaml_number(double v) {
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

// member_ids is written only when it is not simply 0..members-1.
bool is_identity(const std::vector<int64_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

void emit_sampler(YAML::Emitter& out, const SamplerSection& s) {
  out << YAML::Key << "sampler" << YAML::Value;
  if (!s.any()) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap
        << YAML::Comment("checkpoint sampler_config applies");
    return;
  }
  out << YAML::BeginMap;
  if (s.num_noise_levels) out << YAML::Key << "num_noise_levels" << YAML::Value << *s.num_noise_levels;
  const std::pair<const char*, const std::optional<double>*> reals[] = {
      {"stochastic_churn_rate", &s.stochastic_churn_rate},
      {"churn_min_noise_level", &s.churn_min_noise_level},
      {"churn_max_noise_level", &s.churn_max_noise_level},
      {"noise_level_inflation_factor", &s.noise_level_inflation_factor},
      {"max_noise_level", &s.max_noise_level},
      {"min_noise_level", &s.min_noise_level},
      {"rho", &s.rho},
  };
  for (const auto& [name, value] : reals) {
    if (*value) out << YAML::Key << name << YAML::Value << yaml_number(**value);
  }
  out << YAML::EndMap;
}

}  // namespace

std::string to_yaml(const RunSpec& spec) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::Comment("gencast-run run spec, fully resolved (defaults, then " +
                       (spec.source.empty() ? std::string("no file") : spec.source) +
                       ", then command-line overrides); paths are absolute")
      << YAML::Newline;
  out << YAML::BeginMap;

  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "checkpoint" << YAML::Value << spec.model.checkpoint;
  out << YAML::Key << "stats_dir" << YAML::Value << spec.model.stats_dir;
  out << YAML::Key << "attention" << YAML::Value << attention_mode_name(spec.model.attention);
  out << YAML::Key << "precision" << YAML::Value << precision_name(spec.model.precision);
  out << YAML::EndMap;

  out << YAML::Key << "input" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "path" << YAML::Value;
  if (spec.input.extra_paths.empty()) {
    out << spec.input.path;
  } else {
    out << YAML::BeginSeq;
    for (const auto& p : spec.input.paths()) out << p;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "init_time" << YAML::Value;
  if (spec.input.init_time) {
    out << format_init_time(*spec.input.init_time) << YAML::Comment("UTC");
  } else {
    out << YAML::DoubleQuoted << "" << YAML::Comment("latest time with the frame 12 h earlier");
  }
  out << YAML::EndMap;

  const ForecastSection& f = spec.forecast;
  out << YAML::Key << "forecast" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "steps" << YAML::Value << f.steps
      << YAML::Comment("12 h steps, lead time " + std::to_string(f.lead_time_hours()) + " h");
  out << YAML::Key << "members" << YAML::Value << f.members;
  if (!is_identity(f.member_ids)) {
    out << YAML::Key << "member_ids" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (int64_t id : f.member_ids) out << id;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "seed" << YAML::Value << f.seed;
  out << YAML::EndMap;

  emit_sampler(out, spec.sampler);

  const OutputSection& o = spec.output;
  out << YAML::Key << "output" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "path" << YAML::Value << o.path;
  out << YAML::Key << "format" << YAML::Value << output_format_name(o.format);
  out << YAML::Key << "grib_packing" << YAML::Value << grib_packing_name(o.grib_packing)
      << YAML::Comment("GRIB only");
  out << YAML::Key << "layout" << YAML::Value << output_layout_name(o.layout);
  out << YAML::Key << "ensemble_dim" << YAML::Value << o.ensemble_dim;
  out << YAML::Key << "variables" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& v : o.variables) out << v;
  out << YAML::EndSeq;
  if (o.variables.empty()) out << YAML::Comment("all target variables");
  out << YAML::Key << "compression" << YAML::Value << o.compression << YAML::Comment("zlib level");
  if (o.keep_bits > 0) {  // absent = lossless
    out << YAML::Key << "keep_bits" << YAML::Value << o.keep_bits
        << YAML::Comment("BitRound: float32 mantissa bits kept");
  }
  out << YAML::Key << "overwrite" << YAML::Value << o.overwrite;
  out << YAML::Key << "plot" << YAML::Value << o.plot;
  out << YAML::Key << "resume" << YAML::Value << o.resume;
  out << YAML::EndMap;

  out << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "device" << YAML::Value << spec.runtime.device;
  if (!spec.runtime.devices.empty()) {
    out << YAML::Key << "devices" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& d : spec.runtime.devices) out << d;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "edge_cache" << YAML::Value << edge_cache_name(spec.runtime.edge_cache);
  out << YAML::Key << "batch" << YAML::Value << batch_name(spec.runtime.batch);
  out << YAML::Key << "probe_inputs" << YAML::Value << spec.runtime.probe_inputs;
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gencast
