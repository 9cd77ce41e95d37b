// Builds the reference's parameter tree from a ModelConfig. Module paths
// mirror haiku's naming: "<gnn>/~_networks_builder/<stage>_<set>_mlp/~/linear_<i>"
// for the graph networks (each MLP but the output one followed by a
// parameter-free LayerNorm and a "<stage>_<set>_norm_conditioning/linear"),
// and "mesh_transformer/~/<transformer>/block_<NN>/..." for the processor.
#include "model/param_schema.h"

#include <cstdio>

#include "config/variables.h"

namespace gencast {
namespace {

int64_t levels_of(const std::string& variable, const TaskConfig& task) {
  return is_atmospheric_variable(variable) ? static_cast<int64_t>(task.pressure_levels.size())
                                           : 1;
}

// Adds the parameters of a haiku MLP: hidden layers of `hidden` units, then `out`.
void add_mlp(std::map<std::string, Shape>& shapes, const std::string& path, int64_t fan_in,
             int64_t hidden, int64_t hidden_layers, int64_t out) {
  int64_t in = fan_in;
  for (int64_t i = 0; i <= hidden_layers; ++i) {
    const int64_t units = i < hidden_layers ? hidden : out;
    const std::string layer = path + "/~/linear_" + std::to_string(i);
    shapes[layer + ":w"] = {in, units};
    shapes[layer + ":b"] = {units};
    in = units;
  }
}

// A LinearNormConditioning layer: encoding -> [scale - 1 | offset] for `channels`.
void add_norm_conditioning(std::map<std::string, Shape>& shapes, const std::string& path,
                           int64_t encoding, int64_t channels) {
  shapes[path + "/linear:w"] = {encoding, 2 * channels};
  shapes[path + "/linear:b"] = {2 * channels};
}

struct GnnSizes {
  int64_t latent;
  int64_t hidden_layers;
  int64_t encoding;  // size of the noise-level encoding
};

// An MLP of a DeepTypedGraphNet with its LayerNorm conditioning.
void add_gnn_block(std::map<std::string, Shape>& shapes, const std::string& gnn,
                   const std::string& name, int64_t fan_in, const GnnSizes& s) {
  const std::string base = gnn + "/~_networks_builder/" + name;
  add_mlp(shapes, base + "_mlp", fan_in, s.latent, s.hidden_layers, s.latent);
  add_norm_conditioning(shapes, base + "_norm_conditioning", s.encoding, s.latent);
}

std::string block_name(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "block_%02lld", static_cast<long long>(i));
  return buf;
}

}  // namespace

bool is_atmospheric_variable(const std::string& name) { return has_levels(name); }

int64_t grid_node_input_size(const TaskConfig& task) {
  const int64_t frames = input_frame_count(task);
  int64_t channels = 0;
  for (const auto& v : task.input_variables)
    channels += is_static_variable(v) ? 1 : frames * levels_of(v, task);
  for (const auto& v : task.forcing_variables) channels += levels_of(v, task);
  channels += node_output_size(task);  // noisy targets, one frame each
  return channels + kStructuralNodeFeatures;
}

int64_t node_output_size(const TaskConfig& task) {
  int64_t channels = 0;
  for (const auto& v : task.target_variables) channels += levels_of(v, task);
  return channels;
}

int64_t effective_node_output_size(const ModelConfig& config) {
  return config.denoiser.node_output_size.value_or(node_output_size(config.task));
}

std::map<std::string, Shape> expected_param_shapes(const ModelConfig& config) {
  std::map<std::string, Shape> shapes;
  const auto& d = config.denoiser;
  const auto& st = d.sparse_transformer_config;
  const auto& ne = config.noise_encoder;

  // Noise-level encoder: Fourier features (cos and sin per frequency) -> MLP.
  int64_t in = 2 * ne.num_frequencies;
  for (size_t i = 0; i < ne.output_sizes.size(); ++i) {
    const std::string layer = "fourier_features_mlp/~/mlp/~/linear_" + std::to_string(i);
    shapes[layer + ":w"] = {in, ne.output_sizes[i]};
    shapes[layer + ":b"] = {ne.output_sizes[i]};
    in = ne.output_sizes[i];
  }
  const int64_t encoding = ne.output_sizes.empty() ? 2 * ne.num_frequencies : ne.output_sizes.back();
  const GnnSizes s{d.latent_size, d.hidden_layers, encoding};
  const int64_t latent = d.latent_size;

  // Encoder: embeds edges and both node sets (mesh nodes get zero inputs of the
  // grid's width so both embedders have the same capacity), then one
  // interaction step; grid nodes receive no messages.
  const std::string g2m = "grid2mesh_gnn";
  const int64_t grid_in = grid_node_input_size(config.task);
  add_gnn_block(shapes, g2m, "encoder_edges_grid2mesh", kStructuralEdgeFeatures, s);
  add_gnn_block(shapes, g2m, "encoder_nodes_grid_nodes", grid_in, s);
  add_gnn_block(shapes, g2m, "encoder_nodes_mesh_nodes", grid_in, s);
  add_gnn_block(shapes, g2m, "processor_edges_0_grid2mesh", 3 * latent, s);  // edge, sender, receiver
  add_gnn_block(shapes, g2m, "processor_nodes_0_grid_nodes", latent, s);
  add_gnn_block(shapes, g2m, "processor_nodes_0_mesh_nodes", 2 * latent, s);  // node, messages

  // Processor: pre-norm transformer blocks, each LayerNorm conditioned.
  const std::string transformer = "mesh_transformer/~/" + st.name.value_or("transformer");
  for (int64_t i = 0; i < st.num_layers; ++i) {
    const std::string block = block_name(i);
    const std::string p = transformer + "/" + block + "/";
    add_norm_conditioning(shapes, p + block + "_norm_conditioning", encoding, st.d_model);
    add_norm_conditioning(shapes, p + block + "_norm_conditioning_1", encoding, st.d_model);
    for (const char* qkv : {"q", "k", "v"})
      shapes[p + "mha_proj_" + qkv + ":w"] = {st.d_model, st.d_model};  // heads * head size
    shapes[p + "mha_final:w"] = {st.d_model, st.d_model};
    shapes[p + "mha_final:b"] = {st.d_model};
    shapes[p + "ffw_up:w"] = {st.d_model, st.ffw_hidden};
    shapes[p + "ffw_up:b"] = {st.ffw_hidden};
    shapes[p + "ffw_down:w"] = {st.ffw_hidden, st.d_model};
    shapes[p + "ffw_down:b"] = {st.d_model};
  }
  add_norm_conditioning(shapes,
                        transformer + "/" + st.name.value_or("transformer") +
                            "_final_norm_conditioning",
                        encoding, st.d_model);

  // Decoder: embeds edges only, one interaction step (grid nodes receive),
  // then the output MLP on grid nodes (no LayerNorm).
  const std::string m2g = "mesh2grid_gnn";
  add_gnn_block(shapes, m2g, "encoder_edges_mesh2grid", kStructuralEdgeFeatures, s);
  add_gnn_block(shapes, m2g, "processor_edges_0_mesh2grid", 3 * latent, s);
  add_gnn_block(shapes, m2g, "processor_nodes_0_grid_nodes", 2 * latent, s);
  add_gnn_block(shapes, m2g, "processor_nodes_0_mesh_nodes", latent, s);
  add_mlp(shapes, m2g + "/~_networks_builder/decoder_nodes_grid_nodes_mlp", latent, latent,
          d.hidden_layers, effective_node_output_size(config));
  return shapes;
}

}  // namespace gencast
