// `gencast-run inspect CHECKPOINT [--json] [--attention ...]`: what a
// checkpoint holds and what will run, from its configs and parameter headers
// only (no parameter data is read). The summary comes from lib
// (summarize_checkpoint); this file only renders it as text or one JSON
// object. Exit 0 when everything checks out, 2 when the checkpoint has problems.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "commands/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "model/attention_choice.h"
#include "model/checkpoint.h"
#include "model/param_schema.h"

namespace gencast::app {
namespace {

struct InspectOptions {
  std::string checkpoint;
  bool json = false;
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

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string json_value(const ConfigValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return quoted(*s);
  if (std::holds_alternative<double>(v)) {
    const std::string text = config_value_text(v);
    // JSON has no inf/nan: those become strings.
    return (text == "inf" || text == "-inf" || text == "nan") ? quoted(text) : text;
  }
  return config_value_text(v);
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
  std::string json() const {
    if (value) return json_value(*value);
    const bool tuple = is_tuple();
    std::string out = tuple ? "[" : "{";
    for (size_t i = 0; i < children.size(); ++i) {
      if (i) out += ", ";
      if (!tuple) out += quoted(children[i].first) + ": ";
      out += children[i].second.json();
    }
    return out + (tuple ? "]" : "}");
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
  std::string out = "{";
  out += "\"file\": " + quoted(s.path);
  out += ", \"description\": " + quoted(s.config.description);
  out += ", \"license\": " + quoted(s.config.license);
  out += ", \"config\": " + config_tree(s.config).json();
  out += ", \"unknown_keys\": [";
  for (size_t i = 0; i < s.unknown_keys.size(); ++i) out += (i ? ", " : "") + quoted(s.unknown_keys[i]);
  out += "]";
  out += ", \"parameters\": {\"arrays\": " + std::to_string(s.arrays) +
         ", \"values\": " + std::to_string(s.values) +
         ", \"bytes_stored\": " + std::to_string(s.bytes_stored) +
         ", \"bytes_float32\": " + std::to_string(s.values * 4) + ", \"dtypes\": {";
  bool first = true;
  for (const auto& [dtype, count] : s.dtype_counts) {
    out += (first ? "" : ", ") + quoted(dtype) + ": " + std::to_string(count);
    first = false;
  }
  out += "}, \"schema_checked\": " + std::string(s.schema_checked ? "true" : "false");
  out += ", \"matches_schema\": " + std::string(s.schema_checked && s.ok() ? "true" : "false");
  out += ", \"expected_arrays\": " + std::to_string(s.expected_arrays);
  out += ", \"expected_values\": " + std::to_string(s.expected_values) + "}";
  out += ", \"attention\": {\"attention_type\": " + quoted(st.attention_type) +
         ", \"mask_type\": " + quoted(st.mask_type) +
         ", \"attention_k_hop\": " + std::to_string(st.attention_k_hop) +
         ", \"requested\": " + quoted(requested);
  if (s.attention) {
    out += ", \"patched\": " + std::string(s.attention->patched ? "true" : "false");
    out += ", \"patch_line\": " + quoted(s.attention->patch_line);
    out += ", \"status\": " + quoted(attention_status_line(st, *s.attention));
    out += ", \"resolved\": " + quoted(attention_kind_name(s.attention->kind));
    out += ", \"description\": " + quoted(s.attention->description);
  } else {
    out += ", \"resolved\": null";
  }
  out += "}, \"problems\": [";
  for (size_t i = 0; i < s.problems.size(); ++i)
    out += (i ? ", " : "") + quoted(s.problems[i].to_string());
  out += "], \"ok\": " + std::string(s.ok() ? "true" : "false") + "}";
  std::printf("%s\n", out.c_str());
}

}  // namespace

void register_inspect_command(CLI::App& root, CommandResult& result) {
  auto options = std::make_shared<InspectOptions>();
  auto* cmd = root.add_subcommand(
      "inspect", "Show a checkpoint's description, license, configs, parameter count and the "
                 "GPU attention patch (reads configs and headers only)");
  cmd->add_option("checkpoint", options->checkpoint, "GenCast checkpoint (.npz)")->required();
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->add_option("--attention", options->attention,
                  "Attention implementation to resolve: auto|triblockdiag|sparse|dense")
      ->check(CLI::IsMember(accepted_attention_requests()))
      ->capture_default_str();
  cmd->callback([options, &result] {
    const CheckpointSummary summary = summarize_checkpoint(options->checkpoint, options->attention);
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
