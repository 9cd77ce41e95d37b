// `gencast-run inspect CHECKPOINT [--json] [--attention ...]`: what a
// checkpoint holds and what will run, from its configs and parameter headers
// only (no parameter data is read). The summary comes from lib
// (summarize_checkpoint); this file only renders it as text or one JSON
// object. Exit 0 when everything checks out, 2 when the checkpoint has problems.
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "commands/commands.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "model/attention_choice.h"
#include "model/checkpoint.h"
#include "model/param_schema.h"

namespace gencast::app {
namespace {

struct InspectOptions {
  std::string checkpoint;
  bool json = false;
  bool values = false;  // read every parameter and check it is finite
  std::string attention = "auto";
};

// "79,908": parameter counts are easier to read with thousands separators.
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

void write_value(JsonWriter& out, const ConfigValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    out.value(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out.value(*i);
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out.value(*b);
  } else if (const double d = std::get<double>(v); std::isfinite(d)) {
    out.value(d);
  } else {
    out.value(config_value_text(v));  // JSON has no inf/nan: "inf", "-inf", "nan" as strings
  }
}

// Config entries as a tree keyed by the ':'-separated parts; a node whose
// children are named 0..n-1 is a tuple (JSON array).
struct ConfigNode {
  std::optional<ConfigValue> value;
  std::vector<std::pair<std::string, ConfigNode>> children;

  ConfigNode& child(const std::string& name) {
    for (auto& [n, c] : children)
      if (n == name) return c;
    children.emplace_back(name, ConfigNode{});
    return children.back().second;
  }
  bool is_tuple() const {
    for (size_t i = 0; i < children.size(); ++i)
      if (children[i].first != std::to_string(i)) return false;
    return !children.empty();
  }
  void write(JsonWriter& out) const {
    if (value) {
      write_value(out, *value);
      return;
    }
    if (is_tuple()) {
      out.begin_array();
      for (const auto& c : children) c.second.write(out);
      out.end_array();
      return;
    }
    out.begin_object();
    for (const auto& [name, node] : children) {
      out.key(name);
      node.write(out);
    }
    out.end_object();
  }
};

ConfigNode config_tree(const ModelConfig& config) {
  ConfigNode root;
  for (const auto& e : config_entries(config)) {
    if (e.key == "description" || e.key == "license") continue;
    ConfigNode* node = &root;
    size_t start = 0;
    while (true) {
      const size_t colon = e.key.find(':', start);
      node = &node->child(e.key.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    node->value = e.value;
  }
  return root;
}

// "key = value" lines, tuples on one line as (a, b, c).
void print_config_text(const ModelConfig& config) {
  const auto entries = config_entries(config);
  for (size_t i = 0; i < entries.size();) {
    const std::string& key = entries[i].key;
    if (key == "description" || key == "license") {
      ++i;
      continue;
    }
    const size_t colon = key.rfind(':');
    const bool tuple = colon != std::string::npos && key.substr(colon + 1) == "0";
    if (!tuple) {
      std::printf("  %s = %s\n", key.c_str(), config_value_text(entries[i].value).c_str());
      ++i;
      continue;
    }
    const std::string prefix = key.substr(0, colon);
    std::string items;
    size_t n = 0;
    for (; i < entries.size() && entries[i].key == prefix + ":" + std::to_string(n); ++i, ++n)
      items += (n ? ", " : "") + config_value_text(entries[i].value);
    std::printf("  %s = (%s)\n", prefix.c_str(), items.c_str());
  }
}

std::string dtype_summary(const CheckpointSummary& s) {
  std::string out;
  for (const auto& [dtype, count] : s.dtype_counts)
    out += (out.empty() ? "" : ", ") + std::to_string(count) + " " + dtype;
  return out.empty() ? "none" : out;
}

void print_text(const CheckpointSummary& s, const std::string& requested) {
  const auto& st = s.config.denoiser.sparse_transformer_config;
  std::printf("checkpoint   %s\n", s.path.c_str());
  std::printf("description  %s\n", s.config.description.c_str());
  std::printf("license      %s\n", s.config.license.c_str());
  std::printf("config\n");
  print_config_text(s.config);
  for (const auto& k : s.unknown_keys) std::printf("  (ignored unknown key: %s)\n", k.c_str());
  std::printf("parameters   %s arrays, %s values, %s bytes stored (%s), %s bytes as float32\n",
              grouped(s.arrays).c_str(), grouped(s.values).c_str(),
              grouped(s.bytes_stored).c_str(), dtype_summary(s).c_str(),
              grouped(s.values * 4).c_str());
  if (!s.schema_checked) {
    std::printf("schema       not checked (the config is invalid)\n");
  } else if (s.ok()) {
    std::printf("schema       matches: %s arrays, %s values (grid-node input %lld, output %lld)\n",
                grouped(s.expected_arrays).c_str(), grouped(s.expected_values).c_str(),
                static_cast<long long>(grid_node_input_size(s.config.task)),
                static_cast<long long>(effective_node_output_size(s.config)));
  } else {
    std::printf("schema       does NOT match: expected %s arrays, %s values\n",
                grouped(s.expected_arrays).c_str(), grouped(s.expected_values).c_str());
  }
  std::printf("values       %s\n", s.values_checked ? "every parameter read (NaN/inf listed as problems)"
                                                   : "not read (--values reads and checks them)");
  if (s.attention) {
    std::printf("attention    %s\n", attention_status_line(st, *s.attention).c_str());
    std::printf("--attention  %s\n", s.attention->description.c_str());
  } else {
    std::printf("attention    unknown attention_type/mask_type '%s'/'%s' (see problems)\n",
                st.attention_type.c_str(), st.mask_type.c_str());
    std::printf("--attention  %s (unresolved)\n", requested.c_str());
  }
  std::printf("status       %s\n", s.ok() ? "ok" : (std::to_string(s.problems.size()) +
                                                     " problem(s), listed on stderr").c_str());
}

void print_json(const CheckpointSummary& s, const std::string& requested) {
  const auto& st = s.config.denoiser.sparse_transformer_config;
  JsonWriter out;
  out.begin_object()
      .key("file").value(s.path)
      .key("description").value(s.config.description)
      .key("license").value(s.config.license)
      .key("config");
  config_tree(s.config).write(out);
  out.key("unknown_keys").begin_array();
  for (const auto& k : s.unknown_keys) out.value(k);
  out.end_array();
  out.key("parameters").begin_object()
      .key("arrays").value(s.arrays)
      .key("values").value(s.values)
      .key("bytes_stored").value(s.bytes_stored)
      .key("bytes_float32").value(s.values * 4)
      .key("dtypes").begin_object();
  for (const auto& [dtype, count] : s.dtype_counts) out.key(dtype).value(count);
  out.end_object()
      .key("schema_checked").value(s.schema_checked)
      .key("matches_schema").value(s.schema_checked && s.ok())
      .key("expected_arrays").value(s.expected_arrays)
      .key("expected_values").value(s.expected_values)
      .key("values_checked").value(s.values_checked)
      .end_object();
  out.key("attention").begin_object()
      .key("attention_type").value(st.attention_type)
      .key("mask_type").value(st.mask_type)
      .key("attention_k_hop").value(st.attention_k_hop)
      .key("requested").value(requested);
  if (s.attention) {
    out.key("patched").value(s.attention->patched)
        .key("patch_line").value(s.attention->patch_line)
        .key("status").value(attention_status_line(st, *s.attention))
        .key("resolved").value(attention_kind_name(s.attention->kind))
        .key("description").value(s.attention->description);
  } else {
    out.key("resolved").null();
  }
  out.end_object().key("problems").begin_array();
  for (const auto& p : s.problems) out.value(p.to_string());
  out.end_array().key("ok").value(s.ok()).end_object();
  std::printf("%s\n", out.str().c_str());
}

}  // namespace

void register_inspect_command(CLI::App& root, CommandResult& result) {
  auto options = std::make_shared<InspectOptions>();
  auto* cmd = root.add_subcommand(
      "inspect", "Show a checkpoint's description, license, configs, parameter count and the "
                 "GPU attention patch (reads configs and headers only)");
  cmd->add_option("checkpoint", options->checkpoint, "GenCast checkpoint (.npz)")->required();
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->add_flag("--values", options->values,
                "Also read every parameter and report NaN/inf values (reads the whole file)");
  cmd->add_option("--attention", options->attention,
                  "Attention implementation to resolve: auto|triblockdiag|sparse|dense")
      ->check(CLI::IsMember(accepted_attention_requests()))
      ->capture_default_str();
  cmd->callback([options, &result] {
    const CheckpointSummary summary =
        summarize_checkpoint(options->checkpoint, options->attention, options->values);
    if (options->json) {
      print_json(summary, options->attention);
    } else {
      print_text(summary, options->attention);
    }
    std::fflush(stdout);
    if (!summary.ok()) {
      for (const auto& p : summary.problems) std::fprintf(stderr, "error: %s\n", p.to_string().c_str());
      result.exit_code = static_cast<int>(ExitCode::usage_error);
    }
  });
}

}  // namespace gencast::app
