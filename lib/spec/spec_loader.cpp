// YAML run spec -> SpecDraft -> RunSpec. The parser walks each section with a
// table of known keys, so unknown keys, wrong types and out-of-range values
// are all found in one pass and reported together with their line:column.
#include "spec/spec_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

namespace gencast {
namespace fs = std::filesystem;
namespace {

constexpr const char* kBuiltinDemoName = "built-in demo spec";

// yaml-cpp marks are 0-based; editors count from 1.
std::string position(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return " (line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1) + ")";
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar:
      return (node.Tag() == "!" ? "the quoted string '" : "'") + node.Scalar() + "'";
    case YAML::NodeType::Undefined: break;
  }
  return "no value";
}

// A number must be written as a plain scalar: `steps: "30"` is a string.
bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

template <class Int>
std::optional<Int> parse_integer(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  Int value{};
  const auto res = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || res.ec != std::errc() || res.ptr != text.data() + text.size())
    return std::nullopt;
  return value;
}

// YAML 1.2 core-schema floats (".inf", "-.inf", "1e-3", "7") plus "inf".
// NaN is rejected: no sampler value may be NaN.
std::optional<double> parse_real(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!lower.empty() && lower[0] == '+') lower.erase(0, 1);
  const double inf = std::numeric_limits<double>::infinity();
  if (lower == ".inf" || lower == "inf" || lower == "infinity") return inf;
  if (lower == "-.inf" || lower == "-inf" || lower == "-infinity") return -inf;
  double value = 0;
  const auto res = std::from_chars(lower.data(), lower.data() + lower.size(), value);
  if (lower.empty() || res.ec != std::errc() || res.ptr != lower.data() + lower.size() ||
      std::isnan(value))
    return std::nullopt;
  return value;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string join_names(const std::vector<const char*>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool is_dimension_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Walks a spec document, filling a draft. Every check records a problem and
// carries on, so one pass reports everything wrong with the file.
class SpecParser {
 public:
  SpecParser(const SpecText& text, SpecDraft& draft)
      : text_(text),
        draft_(draft),
        base_dir_(fs::absolute(text.base_dir)),
        output_base_dir_(fs::absolute(text.output_base_dir)) {}

  void parse(const YAML::Node& root) {
    if (root.IsNull()) return;  // empty document: defaults; finalize names the missing keys
    if (!root.IsMap()) {
      problem("(document)" + position(root.Mark()),
              "a mapping with the sections model, input, forecast, sampler, output, runtime",
              describe(root));
      draft_.document_ok = false;  // nothing to check keys against
      return;
    }
    walk(root, "", {
        {"model", [this](const std::string& p, const YAML::Node& n) { model(p, n); }},
        {"input", [this](const std::string& p, const YAML::Node& n) { input(p, n); }},
        {"forecast", [this](const std::string& p, const YAML::Node& n) { forecast(p, n); }},
        {"sampler", [this](const std::string& p, const YAML::Node& n) { sampler(p, n); }},
        {"output", [this](const std::string& p, const YAML::Node& n) { output(p, n); }},
        {"runtime", [this](const std::string& p, const YAML::Node& n) { runtime(p, n); }},
    });
  }

 private:
  using Handler = std::function<void(const std::string& key_path, const YAML::Node& value)>;
  struct Key {
    const char* name;
    Handler handle;
  };

  void problem(std::string field, std::string expected, std::string found, std::string hint = {}) {
    draft_.problems.add(text_.name, std::move(field), std::move(expected), std::move(found),
                        std::move(hint));
  }
  // A null value (`steps:`) has no text of its own: yaml-cpp marks it at the
  // next token, often the next line, so point at its key instead.
  std::string at(const std::string& path, const YAML::Node& node) const {
    return path + position(node.IsNull() ? key_mark_ : node.Mark());
  }
  void invalid(const std::string& path, const YAML::Node& node, std::string expected,
               std::string hint = {}) {
    problem(at(path, node), std::move(expected), describe(node), std::move(hint));
    draft_.invalid_keys.insert(path);
  }
  void given(const std::string& path, const YAML::Node& node) {
    draft_.origins[path] = SpecOrigin{text_.name, at(path, node)};
  }

  // Dispatches each key of a mapping to its handler; rejects non-string,
  // duplicate and unknown keys. A null section (only comments) is empty.
  void walk(const YAML::Node& map, const std::string& path, const std::vector<Key>& keys) {
    if (map.IsNull()) return;
    if (!map.IsMap()) {
      invalid(path, map, "a section (a mapping of keys)");
      return;
    }
    std::vector<std::string> seen;
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      const std::string prefix = path.empty() ? "" : path + ".";
      if (!key.IsScalar()) {
        problem(prefix + "<key>" + position(key.Mark()), "a key name", describe(key));
        continue;
      }
      const std::string name = key.Scalar();
      const std::string key_path = prefix + name;
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        problem(at(key_path, key), "each key once", "a second '" + name + "'",
                "remove one of the two");
        continue;
      }
      seen.push_back(name);
      const auto it = std::find_if(keys.begin(), keys.end(),
                                   [&](const Key& k) { return name == k.name; });
      if (it == keys.end()) {
        std::vector<const char*> names;
        const char* closest = nullptr;
        size_t best = 3;  // suggest only near misses (typos), not arbitrary keys
        for (const auto& k : keys) {
          names.push_back(k.name);
          const size_t d = edit_distance(name, k.name);
          if (d < best) best = d, closest = k.name;
        }
        problem(at(key_path, key),
                (path.empty() ? std::string("a section name: ") : "a key of " + path + ": ") +
                    join_names(names),
                "unknown key '" + name + "'",
                closest ? std::string("did you mean '") + closest + "'?" : std::string());
        continue;
      }
      key_mark_ = key.Mark();
      it->handle(key_path, entry.second);
    }
  }

  // ---- typed readers: a value, or nullopt after recording the problem ----

  std::optional<std::string> text(const std::string& path, const YAML::Node& node,
                                  bool null_is_empty, const std::string& expected) {
    if (node.IsNull() && null_is_empty) return std::string();
    if (!node.IsScalar()) {
      invalid(path, node, expected);
      return std::nullopt;
    }
    return node.Scalar();
  }

  void path_value(const std::string& path, const YAML::Node& node, std::string& dst,
                  const fs::path& base, const std::string& expected) {
    if (auto v = text(path, node, false, expected)) {
      dst = v->empty() ? std::string() : resolve_spec_path(*v, base);
      given(path, node);
    }
  }

  template <class Int>
  std::optional<Int> integer(const std::string& path, const YAML::Node& node, Int lo, Int hi,
                             const std::string& expected) {
    std::optional<Int> v;
    if (is_plain_scalar(node)) v = parse_integer<Int>(node.Scalar());
    if (!v || *v < lo || *v > hi) {
      invalid(path, node, expected);
      return std::nullopt;
    }
    given(path, node);
    return v;
  }

  std::optional<double> real(const std::string& path, const YAML::Node& node,
                             const std::function<bool(double)>& ok, const std::string& expected) {
    std::optional<double> v;
    if (is_plain_scalar(node)) v = parse_real(node.Scalar());
    if (!v || !ok(*v)) {
      invalid(path, node, expected);
      return std::nullopt;
    }
    given(path, node);
    return v;
  }

  void boolean(const std::string& path, const YAML::Node& node, bool& dst) {
    if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
      dst = node.Scalar() == "true";
      given(path, node);
    } else {
      invalid(path, node, "true or false");
    }
  }

  template <class T, class Parse>
  void choice(const std::string& path, const YAML::Node& node, T& dst, Parse parse_value,
              const std::string& expected) {
    std::optional<T> v;
    if (node.IsScalar()) v = parse_value(node.Scalar());
    if (!v) return invalid(path, node, expected);
    dst = *v;
    given(path, node);
  }

  // ---- sections ----

  void model(const std::string& path, const YAML::Node& node) {
    ModelSection& m = draft_.spec.model;
    walk(node, path, {
        {"checkpoint", [&](const std::string& p, const YAML::Node& n) {
           path_value(p, n, m.checkpoint, base_dir_, "a path to the checkpoint .npz");
         }},
        {"stats_dir", [&](const std::string& p, const YAML::Node& n) {
           path_value(p, n, m.stats_dir, base_dir_, "a path to the statistics folder");
         }},
        {"attention", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, m.attention, parse_attention_mode, "auto, triblockdiag, sparse or dense");
         }},
        {"precision", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, m.precision, find_precision, precision_choices());
         }},
    });
  }

  void input(const std::string& path, const YAML::Node& node) {
    InputSection& in = draft_.spec.input;
    walk(node, path, {
        {"path", [&](const std::string& p, const YAML::Node& n) { input_paths(p, n); }},
        {"init_time", [&](const std::string& p, const YAML::Node& n) {
           const std::string expected = "an ISO 8601 UTC time such as 2019-03-29T12:00, or \"\"";
           const auto v = text(p, n, true, expected);
           if (!v) return;
           if (v->empty()) {
             in.init_time.reset();
           } else if (auto t = parse_init_time(*v)) {
             in.init_time = *t;
           } else {
             return invalid(p, n, expected);
           }
           given(p, n);
         }},
    });
  }

  // One path, or a list of GRIB files that together hold the input fields.
  void input_paths(const std::string& path, const YAML::Node& node) {
    InputSection& in = draft_.spec.input;
    const std::string expected =
        "a path to the source NetCDF or GRIB file, or a list of GRIB files";
    if (!node.IsSequence()) {
      path_value(path, node, in.path, base_dir_, expected);
      in.extra_paths.clear();
      return;
    }
    std::vector<std::string> paths;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      if (!item.IsScalar() || item.Scalar().empty()) {
        problem(at(path + "[" + std::to_string(i) + "]", item), "a file path", describe(item));
        draft_.invalid_keys.insert(path);
        return;
      }
      paths.push_back(resolve_spec_path(item.Scalar(), base_dir_));
    }
    if (paths.empty()) return invalid(path, node, expected);
    in.path = paths.front();
    in.extra_paths.assign(paths.begin() + 1, paths.end());
    given(path, node);
  }

  void forecast(const std::string& path, const YAML::Node& node) {
    ForecastSection& f = draft_.spec.forecast;
    std::optional<std::string> steps_at, lead_at;  // "key (line, column)" of each, if given
    walk(node, path, {
        {"steps", [&](const std::string& p, const YAML::Node& n) {
           steps_at = at(p, n);
           if (auto v = integer<int64_t>(p, n, 1, kMaxSteps,
                                         "an integer from 1 to " + std::to_string(kMaxSteps) +
                                             " (12 h steps)"))
             f.steps = *v;
         }},
        {"lead_time", [&](const std::string& p, const YAML::Node& n) {
           lead_at = at(p, n);
           if (!n.IsScalar()) {
             return invalid(p, n, "a lead time that is a positive multiple of 12 h, like 15d");
           }
           ProblemList found;
           found.collect([&] { f.steps = lead_time_to_steps(n.Scalar(), text_.name, at(p, n)); });
           if (found.empty()) return given(p, n);
           for (const auto& pr : found.problems()) draft_.problems.add(pr);
           draft_.invalid_keys.insert(p);
         }},
        {"members", [&](const std::string& p, const YAML::Node& n) {
           if (auto v = integer<int64_t>(p, n, 1, kMaxMembers,
                                         "an integer from 1 to " + std::to_string(kMaxMembers)))
             f.members = *v;
         }},
        {"member_ids", [&](const std::string& p, const YAML::Node& n) { member_ids(p, n); }},
        {"seed", [&](const std::string& p, const YAML::Node& n) {
           if (auto v = integer<uint64_t>(p, n, 0, std::numeric_limits<uint64_t>::max(),
                                          "an unsigned 64-bit integer"))
             f.seed = *v;
         }},
    });
    if (steps_at && lead_at) {
      problem(*lead_at, "exactly one of forecast.steps and forecast.lead_time",
              "both (" + *steps_at + ")", "keep steps (12 h each) or lead_time, not both");
      draft_.invalid_keys.insert(path + ".steps");
    }
  }

  void member_ids(const std::string& path, const YAML::Node& node) {
    if (node.IsNull()) return;  // same as absent: members applies
    if (!node.IsSequence()) {
      return invalid(path, node, "a list of member ids, like [0, 1]");
    }
    std::vector<int64_t> ids;
    bool ok = true;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      std::optional<int64_t> id;
      if (is_plain_scalar(item)) id = parse_integer<int64_t>(item.Scalar());
      if (!id || *id < 0 || *id > kMaxMemberId) {
        problem(at(item_path, item), "a member id from 0 to " + std::to_string(kMaxMemberId),
                describe(item));
        ok = false;
      } else if (std::find(ids.begin(), ids.end(), *id) != ids.end()) {
        problem(at(item_path, item), "distinct member ids",
                "member " + std::to_string(*id) + " a second time");
        ok = false;
      } else {
        ids.push_back(*id);
      }
    }
    if (ids.size() > static_cast<size_t>(kMaxMembers)) {
      problem(at(path, node), "at most " + std::to_string(kMaxMembers) + " member ids",
              std::to_string(ids.size()));
      ok = false;
    }
    if (!ok) {
      draft_.invalid_keys.insert(path);
      return;
    }
    draft_.spec.forecast.member_ids = std::move(ids);
    given(path, node);
  }

  void sampler(const std::string& path, const YAML::Node& node) {
    SamplerSection& s = draft_.spec.sampler;
    const auto positive = [](double v) { return std::isfinite(v) && v > 0; };
    const auto non_negative = [](double v) { return std::isfinite(v) && v >= 0; };
    const auto real_key = [&](std::optional<double>& dst, const std::function<bool(double)>& ok,
                              const std::string& expected) {
      return [&dst, ok, expected, this](const std::string& p, const YAML::Node& n) {
        if (auto v = real(p, n, ok, expected)) dst = *v;
      };
    };
    walk(node, path, {
        {"num_noise_levels", [&](const std::string& p, const YAML::Node& n) {
           if (auto v = integer<int64_t>(p, n, 1, 10000, "an integer from 1 to 10000"))
             s.num_noise_levels = *v;
         }},
        {"stochastic_churn_rate", real_key(s.stochastic_churn_rate, non_negative,
                                           "a finite number >= 0")},
        {"churn_min_noise_level", real_key(s.churn_min_noise_level, non_negative,
                                           "a finite noise level >= 0")},
        {"churn_max_noise_level", real_key(s.churn_max_noise_level,
                                           [](double v) { return v >= 0; },
                                           "a noise level >= 0 (.inf allowed)")},
        {"noise_level_inflation_factor", real_key(s.noise_level_inflation_factor, positive,
                                                  "a finite number > 0")},
        {"max_noise_level", real_key(s.max_noise_level, positive, "a finite noise level > 0")},
        {"min_noise_level", real_key(s.min_noise_level, positive, "a finite noise level > 0")},
        {"rho", real_key(s.rho, positive, "a finite number > 0")},
    });
    // Order checks need both values here; merge_sampler_config checks again
    // once checkpoint values fill the gaps.
    if (s.min_noise_level && s.max_noise_level && !(*s.min_noise_level < *s.max_noise_level)) {
      problem(draft_.origin(path + ".min_noise_level").field,
              "a value below sampler.max_noise_level",
              describe(node["min_noise_level"]) + " with max_noise_level " +
                  describe(node["max_noise_level"]));
    }
    if (s.churn_min_noise_level && s.churn_max_noise_level &&
        !(*s.churn_min_noise_level <= *s.churn_max_noise_level)) {
      problem(draft_.origin(path + ".churn_min_noise_level").field,
              "a value <= sampler.churn_max_noise_level",
              describe(node["churn_min_noise_level"]) + " with churn_max_noise_level " +
                  describe(node["churn_max_noise_level"]));
    }
  }

  void output(const std::string& path, const YAML::Node& node) {
    OutputSection& o = draft_.spec.output;
    walk(node, path, {
        {"path", [&](const std::string& p, const YAML::Node& n) {
           path_value(p, n, o.path, output_base_dir_, "a path for the forecast file");
         }},
        {"layout", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, o.layout, parse_output_layout, "predictions or wb2");
         }},
        {"format", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, o.format, parse_output_format, kOutputFormatChoices);
         }},
        {"grib_packing", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, o.grib_packing, parse_grib_packing, kGribPackingChoices);
         }},
        {"ensemble_dim", [&](const std::string& p, const YAML::Node& n) {
           // Syntax only: which names clash depends on the layout and the
           // variables, and the forecast writer checks that (check_output_options).
           const std::string expected =
               "\"\" or a NetCDF name (letters, digits and _, not starting with a digit)";
           const auto v = text(p, n, true, expected);
           if (!v) return;
           if (!v->empty() && !is_dimension_name(*v)) return invalid(p, n, expected);
           o.ensemble_dim = *v;
           given(p, n);
         }},
        {"variables", [&](const std::string& p, const YAML::Node& n) { variables(p, n); }},
        {"overwrite", [&](const std::string& p, const YAML::Node& n) {
           boolean(p, n, o.overwrite);
         }},
        {"plot", [&](const std::string& p, const YAML::Node& n) {
           if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
             o.plot = n.Scalar() == "true";
             given(p, n);
           } else {
             invalid(p, n, "true or false");
           }
         }},
        {"compression", [&](const std::string& p, const YAML::Node& n) {
           if (auto v = integer<int64_t>(p, n, 0, 9, "a zlib level from 0 to 9")) o.compression = *v;
         }},
        {"keep_bits", [&](const std::string& p, const YAML::Node& n) {
           if (n.IsNull()) {  // written out, but empty: lossless, as when absent
             o.keep_bits = 0;
             given(p, n);
           } else if (auto v = integer<int64_t>(p, n, 1, kMaxKeepBits,
                                                "a number of mantissa bits from 1 to 23 "
                                                "(leave out for lossless)")) {
             o.keep_bits = *v;
           }
         }},
        {"resume", [&](const std::string& p, const YAML::Node& n) {
           if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
             o.resume = n.Scalar() == "true";
             given(p, n);
           } else {
             invalid(p, n, "true or false");
           }
         }},
    });
  }

  void variables(const std::string& path, const YAML::Node& node) {
    if (node.IsNull()) return;  // all variables
    if (!node.IsSequence()) {
      return invalid(path, node, "a list of target variable names, like [2m_temperature]");
    }
    std::vector<std::string> names;
    bool ok = true;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!item.IsScalar() || item.Scalar().empty()) {
        problem(at(item_path, item), "a variable name", describe(item));
        ok = false;
      } else if (std::find(names.begin(), names.end(), item.Scalar()) != names.end()) {
        problem(at(item_path, item), "distinct variable names",
                "'" + item.Scalar() + "' a second time");
        ok = false;
      } else {
        names.push_back(item.Scalar());
      }
    }
    if (!ok) {
      draft_.invalid_keys.insert(path);
      return;
    }
    draft_.spec.output.variables = std::move(names);
    given(path, node);
  }

  void runtime(const std::string& path, const YAML::Node& node) {
    RuntimeSection& r = draft_.spec.runtime;
    walk(node, path, {
        {"device", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, r.device, canonical_run_device, kRunDeviceChoices);
         }},
        {"edge_cache", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, r.edge_cache, find_edge_cache, kEdgeCacheChoices);
         }},
        {"devices", [&](const std::string& p, const YAML::Node& n) { devices(p, n); }},
        {"batch", [&](const std::string& p, const YAML::Node& n) {
           choice(p, n, r.batch, parse_batch, kBatchChoices);
         }},
        {"probe_inputs", [&](const std::string& p, const YAML::Node& n) {
           boolean(p, n, r.probe_inputs);
         }},
    });
  }

  // A YAML list ([cuda:0, cuda:1]) or one string ("all", "cuda:0,cuda:1").
  void devices(const std::string& path, const YAML::Node& node) {
    if (node.IsNull()) return;
    std::vector<std::string> names;
    if (node.IsScalar()) {
      names = split_list(node.Scalar());
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        if (!node[i].IsScalar()) return invalid(path, node, kDeviceListChoices);
        names.push_back(node[i].Scalar());
      }
    } else {
      return invalid(path, node, kDeviceListChoices);
    }
    const auto list = canonical_device_list(names);
    if (!list) return invalid(path, node, kDeviceListChoices);
    draft_.spec.runtime.devices = *list;
    given(path, node);
  }

  static std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
      const size_t comma = std::min(text.find(',', start), text.size());
      out.push_back(text.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  }

  const SpecText& text_;
  SpecDraft& draft_;
  fs::path base_dir_;
  fs::path output_base_dir_;
  YAML::Mark key_mark_ = YAML::Mark::null_mark();  // key of the value being read
};

// Offset of the first byte of `text` that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
std::optional<size_t> first_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c == 0xed) len = 3, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef) len = 3;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else return i;
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xc0) != 0x80) return i;
    i += len;
  }
  return std::nullopt;
}

// A run spec is a few hundred bytes; anything past this is not one.
constexpr uintmax_t kMaxSpecBytes = uintmax_t{1} << 20;

std::string read_text_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail_input(path.string(), "", "an existing YAML run spec file", "no such file",
               "configs/ holds examples: 1p0deg.yaml, 0p25deg.yaml, 1p0deg_mini.yaml, demo.yaml");
  if (fs::is_directory(path, ec))
    fail_input(path.string(), "", "a YAML run spec file", "a folder");
  // Never open a device, FIFO or socket: /dev/zero would be read forever, and
  // opening a FIFO blocks until a writer comes.
  if (!fs::is_regular_file(path, ec))
    fail_input(path.string(), "", "a regular YAML run spec file",
               "a special file (device, FIFO or socket)");
  const auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxSpecBytes)
    fail_input(path.string(), "",
               "a YAML run spec of at most " + std::to_string(kMaxSpecBytes / 1024) + " KiB",
               std::to_string(size) + " bytes", "is this the right file?");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof())
    fail_input(path.string(), "", "a readable YAML run spec file", "a read error");
  return buf.str();
}

// output.format: when neither the spec nor a flag gives it, the output name's
// extension decides; a given format that contradicts a known extension (grib
// into forecast.nc) is refused rather than writing a file its name misdescribes.
void resolve_output_format(SpecDraft& draft) {
  OutputSection& o = draft.spec.output;
  if (o.path.empty() || draft.invalid_keys.count("output.path") ||
      draft.invalid_keys.count("output.format"))
    return;
  const auto by_name = output_format_from_extension(o.path);
  if (!draft.origins.count("output.format")) {
    if (by_name) o.format = *by_name;
    return;
  }
  if (by_name && *by_name != o.format) {
    const SpecOrigin f = draft.origin("output.format");
    const SpecOrigin p = draft.origin("output.path");
    draft.problems.add(f.file, f.field,
                       std::string("a format that matches the output name (") +
                           output_format_name(*by_name) + " for '" +
                           fs::path(o.path).filename().string() + "')",
                       output_format_name(o.format),
                       std::string("name the output with the extension of ") +
                           output_format_name(o.format) + " (output.path from " + p.file + ": " +
                           p.field + "), or drop output.format to follow the name");
  }
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  if (fs::path(a).lexically_normal() == fs::path(b).lexically_normal()) return true;
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

SpecOrigin SpecDraft::origin(const std::string& key_path) const {
  const auto it = origins.find(key_path);
  if (it != origins.end()) return it->second;
  return SpecOrigin{spec.source, key_path + " (default)"};
}

std::string resolve_spec_path(const std::string& text, const fs::path& base) {
  fs::path p(text);
  if (text.rfind("~/", 0) == 0) {
    if (const char* home = std::getenv("HOME")) p = fs::path(home) / text.substr(2);
  }
  if (p.is_relative()) p = fs::absolute(base) / p;
  return p.lexically_normal().string();
}

int64_t lead_time_to_steps(std::string_view text, const std::string& file,
                           const std::string& field) {
  const std::string expected = "a lead time that is a positive multiple of 12 h, like 36h or 15d";
  const std::string found = "'" + std::string(text) + "'";
  if (text.size() < 2) fail_input(file, field, expected, found);
  const char unit = text.back();
  const int64_t hours_per_unit = unit == 'h' ? 1 : unit == 'd' ? 24 : 0;
  const auto count = parse_integer<int64_t>(text.substr(0, text.size() - 1));
  if (hours_per_unit == 0 || !count || text[0] == '-' || text[0] == '0' ||
      text.substr(0, 2) == "0x")
    fail_input(file, field, expected, found, "write the number and then h (hours) or d (days)");
  if (*count > kMaxSteps * kHoursPerStep / hours_per_unit)
    fail_input(file, field, "a lead time of at most " + std::to_string(kMaxSteps) + " steps",
               found);
  const int64_t hours = *count * hours_per_unit;
  if (hours % kHoursPerStep != 0)
    fail_input(file, field, expected, found + " (" + std::to_string(hours) + " h)",
               "one model step is 12 h: use " +
                   std::to_string(hours / kHoursPerStep * kHoursPerStep) + "h or " +
                   std::to_string((hours / kHoursPerStep + 1) * kHoursPerStep) + "h");
  return hours / kHoursPerStep;
}

SpecDraft parse_spec_text(const SpecText& text) {
  SpecDraft draft;
  draft.spec.source = text.name;
  // YAML text is Unicode: invalid UTF-8 cannot be a value, and would not come
  // back unchanged from the resolved spec that check-config prints and the
  // output records (yaml-cpp reads such bytes without complaint).
  if (const auto bad = first_invalid_utf8(text.yaml)) {
    const std::string before = text.yaml.substr(0, *bad);
    const size_t line = static_cast<size_t>(std::count(before.begin(), before.end(), '\n')) + 1;
    const size_t line_start = before.rfind('\n') == std::string::npos ? 0 : before.rfind('\n') + 1;
    draft.problems.add(text.name,
                       "text (line " + std::to_string(line) + ", column " +
                           std::to_string(*bad - line_start + 1) + ")",
                       "UTF-8 text (YAML is Unicode)", "a byte that is not valid UTF-8",
                       "is this a YAML run spec? save it as UTF-8");
    draft.document_ok = false;
    return draft;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text.yaml);
  } catch (const YAML::Exception& e) {
    // Tabs are the commonest cause and yaml-cpp's message does not say so.
    const bool tabs = text.yaml.find("\n\t") != std::string::npos || text.yaml.rfind('\t', 0) == 0;
    draft.problems.add(text.name, "YAML syntax" + position(e.mark), "valid YAML",
                       "a syntax error (" + e.msg + ")",
                       tabs ? "YAML indents with spaces; the file has a tab at the start of a line"
                            : "");
    draft.document_ok = false;
    return draft;
  }
  SpecParser(text, draft).parse(root);
  return draft;
}

RunSpec finalize_spec(SpecDraft draft) {
  RunSpec& spec = draft.spec;
  ProblemList& problems = draft.problems;
  if (!draft.document_ok) {
    problems.throw_if_any();
  }
  const struct {
    const char* key;
    const char* flag;
    const char* what;
    const std::string& value;
  } required[] = {
      {"model.checkpoint", "--checkpoint", "a path to the checkpoint .npz", spec.model.checkpoint},
      {"model.stats_dir", "--stats-dir", "a path to the statistics folder", spec.model.stats_dir},
      {"input.path", "--input", "a path to the source NetCDF or GRIB file", spec.input.path},
      {"output.path", "--output", "a path for the forecast file", spec.output.path},
  };
  for (const auto& r : required) {
    if (!r.value.empty() || draft.invalid_keys.count(r.key)) continue;
    problems.add(spec.source, r.key, std::string(r.what), "no value",
                 std::string("set ") + r.key + " in the spec file or pass " + r.flag);
  }
  // The output must never overwrite what the run reads.
  if (!spec.output.path.empty() && !draft.invalid_keys.count("output.path")) {
    std::vector<std::pair<std::string, std::string>> inputs = {
        {"model.checkpoint", spec.model.checkpoint}};
    for (const auto& path : spec.input.paths()) inputs.emplace_back("input.path", path);
    if (!spec.model.stats_dir.empty())
      for (const char* stats : {"mean_by_level.nc", "stddev_by_level.nc",
                                "diffs_stddev_by_level.nc", "min_by_level.nc"})
        inputs.emplace_back("model.stats_dir", (fs::path(spec.model.stats_dir) / stats).string());
    for (const auto& [key, path] : inputs) {
      if (!same_file(spec.output.path, path)) continue;
      const SpecOrigin o = draft.origin("output.path");
      problems.add(o.file, o.field, "an output path that is none of the run's inputs",
                   "'" + spec.output.path + "', which is the file of " + key,
                   "choose another output name: the forecast would overwrite its own input");
      break;
    }
  }
  const auto devices = spec.runtime.worker_devices();
  const bool any_cpu = std::find(devices.begin(), devices.end(), "cpu") != devices.end();
  if (any_cpu && precision_info(spec.model.precision).gpu_only &&
      !draft.invalid_keys.count("model.precision")) {
    const SpecOrigin p = draft.origin("model.precision");
    const SpecOrigin d =
        draft.origin(spec.runtime.devices.empty() ? "runtime.device" : "runtime.devices");
    problems.add(p.file, p.field, "fp32 on the cpu device (tf32 and bf16 are GPU precisions)",
                 precision_name(spec.model.precision),
                 "use precision fp32, or a GPU device (device cpu set by " + d.file + ": " +
                     d.field + ")");
  }
  resolve_output_format(draft);
  // The quick-look map reads the forecast back as NetCDF (runtime/plot_maps.h).
  if (spec.output.plot && spec.output.format != OutputFormat::netcdf) {
    const SpecOrigin p = draft.origin("output.plot");
    problems.add(p.file, p.field, "output.plot only with NetCDF output (plot reads NetCDF forecasts)",
                 std::string("output format ") + output_format_name(spec.output.format),
                 "drop --plot (output.plot), or write NetCDF (a .nc output name)");
  }
  problems.throw_if_any();

  ForecastSection& f = spec.forecast;
  if (f.member_ids.empty()) {
    for (int64_t i = 0; i < f.members; ++i) f.member_ids.push_back(i);
  } else {
    f.members = static_cast<int64_t>(f.member_ids.size());
  }
  if (spec.output.ensemble_dim.empty())
    spec.output.ensemble_dim = default_ensemble_dim(spec.output.layout);
  return std::move(draft.spec);
}

RunSpec load_run_spec(const fs::path& path) {
  return resolve_run_spec(path.string(), SpecOverrides{});
}

RunSpec resolve_run_spec(const std::optional<std::string>& spec_path,
                         const SpecOverrides& overrides) {
  SpecText text;
  if (spec_path) {
    if (spec_path->empty())
      fail_input("command line", "SPEC", "a run spec file path", "an empty string");
    const fs::path path(*spec_path);
    text.name = *spec_path;
    text.yaml = read_text_file(path);
    text.base_dir = fs::absolute(path).parent_path();
    text.output_base_dir = text.base_dir;
  } else {
    text.name = kBuiltinDemoName;
    text.yaml = std::string(builtin_demo_spec_yaml());
    text.base_dir = demo_root_dir() / "configs";
    text.output_base_dir = fs::current_path();
  }
  SpecDraft draft = parse_spec_text(text);
  apply_overrides(draft, overrides, fs::current_path());
  return finalize_spec(std::move(draft));
}

void check_spec_paths(const RunSpec& spec, ProblemList& problems) {
  std::error_code ec;
  const auto need_file = [&](const std::string& path, const char* key, const char* hint) {
    if (fs::is_regular_file(path, ec)) return;
    problems.add(path, key, "an existing file",
                 fs::exists(path, ec) ? "something that is not a regular file" : "no such file",
                 hint);
  };
  need_file(spec.model.checkpoint, "model.checkpoint",
            "official checkpoints: gs://dm_graphcast/gencast/params/");
  for (const auto& path : spec.input.paths())
    need_file(path, "input.path", "example inputs: gs://dm_graphcast/gencast/dataset/");
  if (!fs::is_directory(spec.model.stats_dir, ec)) {
    problems.add(spec.model.stats_dir, "model.stats_dir", "an existing folder",
                 fs::exists(spec.model.stats_dir, ec) ? "a file" : "no such folder",
                 "official statistics: gs://dm_graphcast/gencast/stats/");
  } else {
    for (const char* name : {"mean_by_level.nc", "stddev_by_level.nc",
                             "diffs_stddev_by_level.nc", "min_by_level.nc"}) {
      need_file((fs::path(spec.model.stats_dir) / name).string(), "model.stats_dir",
                "official statistics: gs://dm_graphcast/gencast/stats/");
    }
  }
  const fs::path out(spec.output.path);
  if (fs::is_directory(out, ec)) {
    problems.add(spec.output.path, "output.path", "a file name for the forecast", "a folder");
  } else if (fs::exists(out, ec) && !spec.output.overwrite && !spec.output.resume) {
    problems.add(spec.output.path, "output.path", "a file that does not exist yet",
                 "an existing file",
                 "pass --overwrite (output.overwrite: true) to replace it, or choose another name");
  } else if (!fs::is_directory(out.parent_path(), ec)) {
    problems.add(spec.output.path, "output.path", "a file in an existing folder",
                 "no folder " + out.parent_path().string(), "create the folder first");
  }
}

}  // namespace gencast
