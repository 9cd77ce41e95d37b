// Checkpoint loading, the parameter schema, config validation, the GPU
// attention patch and random-weights checkpoints.
//
// Expected values come from the reference, never from this code:
//  * tests/data/gencast_tiny_param_shapes.txt: the manifest's param_shapes
//    (the JAX reference's tiny model), made once with
//      python3 -c "import json; m=json.load(open('gencast_tiny/fixtures_manifest.json'));
//      [print(k, *v) for k, v in sorted(m['param_shapes'].items())]"
//  * tests/data/gencast_tiny_config_values.txt: every non-parameter key of
//    tiny_checkpoint.npz with its value, from the manifest's
//    files/tiny_checkpoint.npz/keys (same kind of one-liner; bools as
//    true/false, floats as Python repr).
//  * 57,492,612: the JAX reference's parameter count of the official models.
#include <catch2/catch.hpp>
#include "test_temp_dir.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <variant>

#include "config/variables.h"
#include "core/error.h"
#include "io/npz.h"
#include "model/attention_choice.h"
#include "model/checkpoint.h"
#include "model/config_validation.h"
#include "model/param_schema.h"
#include "model/random_checkpoint.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kData = GENCAST_TEST_DATA_DIR;
const std::string kTinyCheckpoint = kData + "/gencast_tiny/tiny_checkpoint.npz";

std::map<std::string, Shape> manifest_param_shapes() {
  std::ifstream in(kData + "/gencast_tiny_param_shapes.txt");
  REQUIRE(in);
  std::map<std::string, Shape> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    Shape shape;
    for (int64_t d; fields >> d;) shape.push_back(d);
    out[name] = shape;
  }
  return out;
}

struct ManifestValue {
  std::string kind;  // str | int | float | bool
  std::string text;
};

std::map<std::string, ManifestValue> manifest_config_values() {
  std::ifstream in(kData + "/gencast_tiny_config_values.txt");
  REQUIRE(in);
  std::map<std::string, ManifestValue> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t a = line.find('\t');
    const size_t b = line.find('\t', a + 1);
    out[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  return out;
}

template <class F>
InputError require_input_error(F&& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
  } catch (const InputError& e) {
    const std::string what = e.what();
    INFO(what);
    for (const auto& f : fragments) CHECK(what.find(f) != std::string::npos);
    return e;
  }
  FAIL("expected an InputError");
  throw std::logic_error("unreachable");
}

bool has_problem(const std::vector<Problem>& problems, const std::string& field) {
  for (const auto& p : problems)
    if (p.field == field) return true;
  return false;
}


// A checkpoint written entry by entry, so tests can drop, retype or add keys.
struct CheckpointParts {
  std::vector<ConfigEntry> entries;
  std::map<std::string, ArrayF> params;            // without "params:"
  std::map<std::string, Array<int32_t>> int_params; // wrongly typed parameters

  static CheckpointParts tiny() {
    CheckpointParts p;
    const ModelConfig config = official_model_config("tiny");
    p.entries = config_entries(config);
    p.params = random_params(config, 1).arrays();
    return p;
  }
  void drop_entry(const std::string& key) {
    std::erase_if(entries, [&](const ConfigEntry& e) { return e.key == key; });
  }
  void set_entry(const std::string& key, ConfigValue value) {
    for (auto& e : entries)
      if (e.key == key) e.value = value;
  }
  void write(const std::string& path) const {
    NpzWriter w(path);
    for (const auto& e : entries) {
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) w.add_string(e.key, v);
            else if constexpr (std::is_same_v<T, int64_t>) w.add_scalar_i64(e.key, v);
            else if constexpr (std::is_same_v<T, double>) w.add_scalar_f64(e.key, v);
            else w.add_scalar_bool(e.key, v);
          },
          e.value);
    }
    for (const auto& [name, a] : params) w.add_f32("params:" + name, a);
    for (const auto& [name, a] : int_params) w.add_i32("params:" + name, a);
    w.close();
  }
};

const std::string kHeads = "denoiser_architecture_config:sparse_transformer_config:num_heads";
const std::string kQ = "mesh_transformer/~/transformer/block_00/mha_proj_q:w";
const std::string kFfwUp = "mesh_transformer/~/transformer/block_01/ffw_up:w";

}  // namespace

// ---------------------------------------------------------------------------
// The fixture checkpoint

TEST_CASE("the fixture checkpoint loads with every config value of the manifest", "[checkpoint]") {
  const Checkpoint ckpt = load_checkpoint(kTinyCheckpoint);
  CHECK(ckpt.path == kTinyCheckpoint);
  const auto expected = manifest_config_values();
  const auto entries = config_entries(ckpt.config);
  REQUIRE(entries.size() == expected.size());
  for (const auto& e : entries) {
    INFO(e.key);
    auto it = expected.find(e.key);
    REQUIRE(it != expected.end());
    const ManifestValue& m = it->second;
    if (m.kind == "float") {
      REQUIRE(std::holds_alternative<double>(e.value));
      CHECK(std::get<double>(e.value) == std::strtod(m.text.c_str(), nullptr));
    } else if (m.kind == "int") {
      REQUIRE(std::holds_alternative<int64_t>(e.value));
      CHECK(std::get<int64_t>(e.value) == std::stoll(m.text));
    } else if (m.kind == "bool") {
      REQUIRE(std::holds_alternative<bool>(e.value));
      CHECK(config_value_text(e.value) == m.text);
    } else {
      REQUIRE(std::holds_alternative<std::string>(e.value));
      CHECK(std::get<std::string>(e.value) == m.text);
    }
  }
  // Optional fields that are None in the fixture stay unset.
  CHECK(!ckpt.config.denoiser.sparse_transformer_config.name);
  CHECK(!ckpt.config.denoiser.grid2mesh_aggregate_normalization);
}

TEST_CASE("the fixture checkpoint's parameters have the manifest's shapes", "[checkpoint]") {
  const Checkpoint ckpt = load_checkpoint(kTinyCheckpoint);
  const auto manifest = manifest_param_shapes();
  const auto schema = expected_param_shapes(ckpt.config);
  CHECK(schema == manifest);
  REQUIRE(ckpt.params.count() == static_cast<int64_t>(manifest.size()));
  int64_t values = 0;
  for (const auto& [name, shape] : manifest) {
    INFO(name);
    REQUIRE(ckpt.params.contains(name));
    CHECK(ckpt.params.get(name).shape == shape);
    values += shape_numel(shape);
  }
  CHECK(ckpt.params.total_values() == values);
  CHECK(ckpt.params.total_bytes() == 4 * values);
  for (const auto& [name, a] : ckpt.params.arrays())
    for (float v : a.data) REQUIRE(std::isfinite(v));
}

TEST_CASE("the tiny preset is the fixture's model", "[checkpoint]") {
  const ModelConfig fixture = load_checkpoint(kTinyCheckpoint).config;
  auto strip = [](std::vector<ConfigEntry> e) {
    std::erase_if(e, [](const ConfigEntry& x) { return x.key == "description" || x.key == "license"; });
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& x : e) out.emplace_back(x.key, config_value_text(x.value));
    return out;
  };
  CHECK(strip(config_entries(official_model_config("tiny"))) == strip(config_entries(fixture)));
}

TEST_CASE("ParamStore lookups", "[checkpoint]") {
  ParamStore store;
  store.set("a/linear_0:w", ArrayF({2, 3}, 1.0f));
  store.set("a/linear_0:b", ArrayF({3}, 0.5f));
  CHECK(store.count() == 2);
  CHECK(store.total_values() == 9);
  CHECK(store.total_bytes() == 36);
  CHECK(store.names() == std::vector<std::string>{"a/linear_0:b", "a/linear_0:w"});
  CHECK(store.get("a/linear_0:b").data[2] == 0.5f);
  try {
    store.get("a/linear_1:w");
    FAIL("expected a RuntimeFailure");
  } catch (const RuntimeFailure& e) {
    CHECK(std::string(e.what()).find("a/linear_1:w") != std::string::npos);
    CHECK(std::string(e.what()).find("nearest name") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Schema

TEST_CASE("official models have the reference's 57,492,612 parameters", "[checkpoint]") {
  // Count of the JAX reference for latent 512, 16 layers, 4 heads, ffw 2048;
  // the mesh size changes the graph, not the parameters.
  for (const char* preset : {"1p0deg", "0p25deg", "mini"}) {
    INFO(preset);
    int64_t total = 0;
    for (const auto& [name, shape] : expected_param_shapes(official_model_config(preset)))
      total += shape_numel(shape);
    CHECK(total == 57'492'612);
  }
}

TEST_CASE("channel counts follow the task", "[checkpoint]") {
  const auto manifest = manifest_param_shapes();
  const TaskConfig task = default_gencast_task();
  // The reference's grid-node embedder fan-in and decoder output width.
  CHECK(grid_node_input_size(task) ==
        manifest.at("grid2mesh_gnn/~_networks_builder/encoder_nodes_grid_nodes_mlp/~/linear_0:w")[0]);
  CHECK(node_output_size(task) ==
        manifest.at("mesh2grid_gnn/~_networks_builder/decoder_nodes_grid_nodes_mlp/~/linear_1:w")[1]);
  CHECK(input_frame_count(task) == 2);

  CHECK(is_atmospheric_variable("temperature"));
  CHECK(is_atmospheric_variable("specific_humidity"));
  CHECK(!is_atmospheric_variable("2m_temperature"));
  CHECK(!is_atmospheric_variable("land_sea_mask"));
  CHECK(is_static_variable("land_sea_mask"));

  // One more input frame adds one frame of every non-static input.
  TaskConfig longer = task;
  longer.input_duration = "36h";
  int64_t one_frame = 0;
  for (const auto& v : task.input_variables)
    if (!is_static_variable(v)) one_frame += is_atmospheric_variable(v) ? 13 : 1;
  CHECK(grid_node_input_size(longer) == grid_node_input_size(task) + one_frame);
  longer.input_duration = "1d";
  CHECK(grid_node_input_size(longer) == grid_node_input_size(task));
  longer.input_duration = "18h";
  require_input_error([&] { input_frame_count(longer); }, {"task_config:input_duration", "'18h'"});
}

TEST_CASE("the schema follows every size in the config", "[checkpoint]") {
  ModelConfig c = official_model_config("tiny");
  c.denoiser.hidden_layers = 2;
  c.denoiser.sparse_transformer_config.num_layers = 3;
  c.denoiser.sparse_transformer_config.ffw_hidden = 48;
  c.noise_encoder.output_sizes = {24, 8};
  c.noise_encoder.num_frequencies = 10;
  const auto s = expected_param_shapes(c);
  CHECK(s.at("fourier_features_mlp/~/mlp/~/linear_0:w") == Shape{20, 24});
  CHECK(s.at("fourier_features_mlp/~/mlp/~/linear_1:w") == Shape{24, 8});
  CHECK(s.at("grid2mesh_gnn/~_networks_builder/encoder_edges_grid2mesh_mlp/~/linear_2:w") == Shape{32, 32});
  CHECK(s.at("grid2mesh_gnn/~_networks_builder/encoder_edges_grid2mesh_norm_conditioning/linear:w") ==
        Shape{8, 64});
  CHECK(s.at("mesh2grid_gnn/~_networks_builder/decoder_nodes_grid_nodes_mlp/~/linear_2:w") == Shape{32, 84});
  CHECK(s.count("mesh_transformer/~/transformer/block_02/ffw_up:w") == 1);
  CHECK(s.at("mesh_transformer/~/transformer/block_02/ffw_up:w") == Shape{32, 48});
  CHECK(s.count("mesh_transformer/~/transformer/block_03/ffw_up:w") == 0);
  c.denoiser.sparse_transformer_config.name = "processor";
  CHECK(expected_param_shapes(c).count(
            "mesh_transformer/~/processor/processor_final_norm_conditioning/linear:w") == 1);
}

// ---------------------------------------------------------------------------
// Validation

TEST_CASE("every preset config is valid", "[checkpoint]") {
  for (const auto& preset : official_presets()) {
    INFO(preset);
    CHECK(model_config_problems(official_model_config(preset), "x.npz").empty());
  }
  require_input_error([] { official_model_config("2p0deg"); }, {"preset", "'1p0deg'", "'2p0deg'"});
}

TEST_CASE("config validation reports every problem at once", "[checkpoint]") {
  ModelConfig c = official_model_config("tiny");
  auto& st = c.denoiser.sparse_transformer_config;
  st.d_model = 30;  // not a multiple of 4 heads, and not latent_size
  st.attention_k_hop = 0;
  st.num_layers = 0;
  st.attention_type = "flash_mha";
  st.mask_type = "sparse";
  c.denoiser.mesh_size = 9;
  c.denoiser.node_output_size = 80;
  c.denoiser.norm_conditioning_features = {"noise_level_encodings", "month"};
  c.sampler.num_noise_levels = 0;
  c.sampler.min_noise_level = 100.0;  // above max
  c.sampler.rho = -1.0;
  c.sampler.stochastic_churn_rate = NAN;
  c.task.input_duration = "5h";
  const auto problems = model_config_problems(c, "bad.npz");
  const std::string t = "denoiser_architecture_config:sparse_transformer_config:";
  const std::string d = "denoiser_architecture_config:";
  for (const std::string& field :
       {t + "d_model", t + "attention_k_hop", t + "num_layers", t + "attention_type", t + "mask_type",
        d + "mesh_size", d + "node_output_size", d + "norm_conditioning_features",
        std::string("sampler_config:num_noise_levels"), std::string("sampler_config:max_noise_level"),
        std::string("sampler_config:rho"), std::string("sampler_config:stochastic_churn_rate"),
        std::string("task_config:input_duration")}) {
    INFO(field);
    CHECK(has_problem(problems, field));
  }
  for (const auto& p : problems) {
    CHECK(p.file == "bad.npz");
    CHECK(!p.expected.empty());
    CHECK(!p.found.empty());
  }
  const auto e = require_input_error([&] { validate_model_config(c, "bad.npz"); },
                                     {"'splash_mha', 'triblockdiag_mha', 'mha'", "'flash_mha'",
                                      "'lazy', 'full'", "'sparse'", "multiple of num_heads"});
  CHECK(e.problems().size() == problems.size());
}

// ---------------------------------------------------------------------------
// Attention

TEST_CASE("TPU-only attention is patched to the exact GPU path", "[checkpoint]") {
  const auto official = official_model_config("1p0deg").denoiser.sparse_transformer_config;
  REQUIRE(official.attention_type == "splash_mha");
  REQUIRE(official.mask_type == "lazy");
  const AttentionChoice a = resolve_attention(official, "auto");
  CHECK(a.patched);
  // The wording is the project's contract (DESIGN / brief).
  CHECK(a.patch_line ==
        "attention_type splash_mha -> triblockdiag_mha, mask_type lazy -> full (TPU-only splash "
        "attention replaced by the exact GPU path; same k-hop mask)");
  CHECK(a.kind == AttentionKind::sparse);
  CHECK(a.description.find("auto -> sparse") == 0);
  CHECK(attention_status_line(official, a) == a.patch_line);

  auto only_mask = official;
  only_mask.attention_type = "triblockdiag_mha";
  const AttentionChoice m = resolve_attention(only_mask, "triblockdiag");
  CHECK(m.patched);
  CHECK(m.patch_line.rfind("mask_type lazy -> full (", 0) == 0);
  CHECK(m.kind == AttentionKind::triblockdiag);

  auto splash_full = official;
  splash_full.mask_type = "full";
  CHECK(resolve_attention(splash_full, "dense").patch_line.rfind(
            "attention_type splash_mha -> triblockdiag_mha (", 0) == 0);
  CHECK(resolve_attention(splash_full, "dense").kind == AttentionKind::dense);

  const auto tiny = official_model_config("tiny").denoiser.sparse_transformer_config;
  const AttentionChoice t = resolve_attention(tiny, "sparse");
  CHECK(!t.patched);
  CHECK(t.patch_line.empty());
  CHECK(attention_status_line(tiny, t) == "no patch needed: triblockdiag_mha/full is GPU-ready");
  auto mha = tiny;
  mha.attention_type = "mha";
  CHECK(!resolve_attention(mha, "auto").patched);

  CHECK(attention_kind_name(AttentionKind::sparse) == "sparse");
  CHECK(attention_kind_name(AttentionKind::triblockdiag) == "triblockdiag");
  CHECK(attention_kind_name(AttentionKind::dense) == "dense");
  require_input_error([&] { resolve_attention(tiny, "flash"); },
                      {"--attention", "'auto', 'triblockdiag', 'sparse', 'dense'", "'flash'"});
  auto unknown = tiny;
  unknown.attention_type = "ring_mha";
  require_input_error([&] { resolve_attention(unknown, "auto"); }, {"attention_type", "'ring_mha'"});
}

// ---------------------------------------------------------------------------
// Random checkpoints and the writer

TEST_CASE("random checkpoints round-trip through the official layout", "[checkpoint]") {
  TempDir dir;
  const ModelConfig config = official_model_config("tiny");
  const ParamStore params = random_params(config, 7);
  const std::string path = dir.file("random_tiny.npz");
  write_checkpoint(path, config, params);
  CHECK(!fs::exists(path + ".partial"));

  const Checkpoint back = load_checkpoint(path);
  auto texts = [](const ModelConfig& c) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : config_entries(c)) out.emplace_back(e.key, config_value_text(e.value));
    return out;
  };
  CHECK(texts(back.config) == texts(config));
  REQUIRE(back.params.names() == params.names());
  for (const auto& [name, a] : params.arrays()) {
    INFO(name);
    CHECK(back.params.get(name).shape == a.shape);
    CHECK(std::memcmp(back.params.get(name).ptr(), a.ptr(), a.data.size() * sizeof(float)) == 0);
  }

  // The official presets keep splash/lazy, so the patch shows after loading.
  ModelConfig official_like = config;
  official_like.denoiser.sparse_transformer_config.attention_type = "splash_mha";
  official_like.denoiser.sparse_transformer_config.mask_type = "lazy";
  official_like.denoiser.sparse_transformer_config.name = "transformer";
  official_like.denoiser.grid2mesh_aggregate_normalization = 2.5;
  const std::string path2 = dir.file("official_like.npz");
  write_checkpoint(path2, official_like, params);
  const Checkpoint back2 = load_checkpoint(path2);
  CHECK(texts(back2.config) == texts(official_like));
  CHECK(resolve_attention(back2.config.denoiser.sparse_transformer_config, "auto").patched);
}

TEST_CASE("random parameters are deterministic with fan-in scaling", "[checkpoint]") {
  const ModelConfig config = official_model_config("tiny");
  const ParamStore a = random_params(config, 11);
  const ParamStore b = random_params(config, 11);
  const ParamStore c = random_params(config, 12);
  CHECK(a.names() == b.names());
  CHECK(a.count() == static_cast<int64_t>(expected_param_shapes(config).size()));
  const std::string big = "grid2mesh_gnn/~_networks_builder/encoder_nodes_grid_nodes_mlp/~/linear_0:w";
  CHECK(a.get(big).data == b.get(big).data);
  CHECK(a.get(big).data != c.get(big).data);
  // Sample standard deviations: 267 x 32 = 8544 draws of N(0, 1/267); the
  // sample std of n normals is within 3 % of sigma with overwhelming odds
  // (its relative spread is 1/sqrt(2n) = 0.8 %).
  auto stddev = [](const ArrayF& x) {
    double s = 0, s2 = 0;
    for (float v : x.data) {
      s += v;
      s2 += static_cast<double>(v) * v;
    }
    const double n = static_cast<double>(x.data.size());
    return std::sqrt(s2 / n - (s / n) * (s / n));
  };
  CHECK(stddev(a.get(big)) == Approx(1.0 / std::sqrt(267.0)).epsilon(0.03));
  // All biases together: 0.01 (thousands of draws, 10 % tolerance).
  ArrayF biases({0});
  for (const auto& [name, arr] : a.arrays())
    if (arr.shape.size() == 1) biases.data.insert(biases.data.end(), arr.data.begin(), arr.data.end());
  REQUIRE(biases.data.size() > 1000);
  CHECK(stddev(biases) == Approx(0.01).epsilon(0.1));
}

// ---------------------------------------------------------------------------
// Bad checkpoints: exit code 2 with file, key, expected and found

TEST_CASE("a missing file or a non-checkpoint archive is an input error", "[checkpoint]") {
  require_input_error([] { load_checkpoint(kData + "/no_such_checkpoint.npz"); },
                      {"no_such_checkpoint.npz", "no such file"});
  // An archive without config keys: every missing key is named.
  const auto e = require_input_error([] { load_checkpoint(kData + "/npz/versions.npz"); },
                                     {"versions.npz", "description", "task_config:input_variables:0",
                                      kHeads, "the key is missing"});
  CHECK(e.problems().size() > 40);
}

TEST_CASE("missing and wrongly typed config keys are all reported", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.drop_entry(kHeads);
  parts.drop_entry("sampler_config:rho");
  parts.set_entry("denoiser_architecture_config:latent_size", std::string("32"));
  parts.set_entry("noise_encoder_config:apply_log_first", int64_t{1});
  parts.set_entry("denoiser_architecture_config:mesh_size", 3.0);
  const std::string path = dir.file("bad_config.npz");
  parts.write(path);
  const auto e = require_input_error(
      [&] { load_checkpoint(path); },
      {"bad_config.npz", kHeads + ": expected a 0-d int64 (integer), found the key is missing",
       "sampler_config:rho",
       "denoiser_architecture_config:latent_size: expected a 0-d int64 (integer), found a unicode "
       "string of shape ()",
       "noise_encoder_config:apply_log_first: expected a 0-d bool, found int64 of shape ()",
       "denoiser_architecture_config:mesh_size: expected a 0-d int64 (integer), found float64"});
  CHECK(e.problems().size() == 5);
}

TEST_CASE("a float config key may hold an integer, and unknown keys are ignored", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.set_entry("sampler_config:max_noise_level", int64_t{80});
  parts.entries.push_back({"training_notes", std::string("ignored by the reference loader")});
  const std::string path = dir.file("lenient.npz");
  parts.write(path);
  const Checkpoint ckpt = load_checkpoint(path);
  CHECK(ckpt.config.sampler.max_noise_level == 80.0);
  NpzReader reader(path);
  std::vector<std::string> unknown;
  read_model_config(reader, &unknown);
  CHECK(unknown == std::vector<std::string>{"training_notes"});
}

TEST_CASE("an invalid config value fails the load naming the key", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.set_entry("denoiser_architecture_config:sparse_transformer_config:mask_type",
                  std::string("causal"));
  const std::string path = dir.file("bad_value.npz");
  parts.write(path);
  require_input_error([&] { load_checkpoint(path); },
                      {"bad_value.npz", "mask_type", "'causal'", "'lazy', 'full'"});
}

TEST_CASE("missing, unexpected and misshapen parameters are all reported", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.params.erase(kQ);
  parts.params["mesh_transformer/~/transformer/block_02/ffw_up:w"] = ArrayF({32, 64}, 0.1f);
  parts.params[kFfwUp] = ArrayF({64, 32}, 0.1f);  // transposed
  const std::string path = dir.file("bad_params.npz");
  parts.write(path);
  const auto e = require_input_error(
      [&] { load_checkpoint(path); },
      {"bad_params.npz", "params:" + kQ + ": expected an array of shape (32, 32), found the parameter is missing",
       "params:mesh_transformer/~/transformer/block_02/ffw_up:w", "unexpected parameter",
       "params:" + kFfwUp + ": expected shape (32, 64), found shape (64, 32)"});
  CHECK(e.problems().size() == 3);
}

TEST_CASE("a wrong grid-node input width hints at the task", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  const std::string w = "grid2mesh_gnn/~_networks_builder/encoder_nodes_grid_nodes_mlp/~/linear_0:w";
  parts.params[w] = ArrayF({268, 32}, 0.1f);
  const std::string path = dir.file("bad_width.npz");
  parts.write(path);
  require_input_error([&] { load_checkpoint(path); },
                      {"expected shape (267, 32), found shape (268, 32)", "hint:", "task_config"});
}

TEST_CASE("integer or non-finite parameters are refused", "[checkpoint]") {
  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.params.erase(kQ);
  parts.int_params[kQ] = Array<int32_t>({32, 32}, 1);
  const std::string path = dir.file("int_param.npz");
  parts.write(path);
  require_input_error([&] { load_checkpoint(path); },
                      {"params:" + kQ, "float32 (or float64/bfloat16/float16)", "int32"});

  CheckpointParts nan_parts = CheckpointParts::tiny();
  nan_parts.params[kQ].data[5] = NAN;
  nan_parts.params[kFfwUp].data[0] = INFINITY;
  const std::string nan_path = dir.file("nan_param.npz");
  nan_parts.write(nan_path);
  const auto e = require_input_error([&] { load_checkpoint(nan_path); },
                                     {"params:" + kQ, "finite values", "1 NaN/inf of 1024"});
  CHECK(e.problems().size() == 2);
}

TEST_CASE("the summary reads headers only and lists problems without throwing", "[checkpoint]") {
  const CheckpointSummary s = summarize_checkpoint(kTinyCheckpoint, "dense");
  CHECK(s.ok());
  CHECK(s.schema_checked);
  const auto manifest = manifest_param_shapes();
  CHECK(s.arrays == static_cast<int64_t>(manifest.size()));
  CHECK(s.expected_arrays == s.arrays);
  CHECK(s.values == s.expected_values);
  CHECK(s.bytes_stored == 4 * s.values);
  CHECK(s.dtype_counts.at("float32") == s.arrays);
  REQUIRE(s.attention);
  CHECK(s.attention->kind == AttentionKind::dense);

  TempDir dir;
  CheckpointParts parts = CheckpointParts::tiny();
  parts.params.erase(kQ);
  parts.set_entry("sampler_config:rho", -7.0);
  const std::string path = dir.file("two_problems.npz");
  parts.write(path);
  const CheckpointSummary bad = summarize_checkpoint(path, "auto");
  // The config is invalid, so the tree is not compared against a schema.
  CHECK(!bad.schema_checked);
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].field == "sampler_config:rho");
  require_input_error([&] { summarize_checkpoint(kTinyCheckpoint, "fastest"); }, {"--attention"});
}
