#include "model/denoiser_weights.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "core/error.h"

namespace gencast {
namespace {

const std::string kEncoder = "grid2mesh_gnn/~_networks_builder/";
const std::string kDecoder = "mesh2grid_gnn/~_networks_builder/";
const std::string kTransformer = "mesh_transformer/~/transformer/";

std::vector<int> row_range(int64_t begin, int64_t end) {
  std::vector<int> rows(static_cast<size_t>(end - begin));
  std::iota(rows.begin(), rows.end(), static_cast<int>(begin));
  return rows;
}

// A row index that selects a row of zeros (padding).
constexpr int kZeroRow = -1;

// Selected rows of a [K, N] weight, in the given order (kZeroRow: zeros).
ArrayF take_rows(const ArrayF& w, const std::vector<int>& rows, const std::string& name) {
  const int64_t K = w.dim(0), N = w.dim(1);
  ArrayF out({static_cast<int64_t>(rows.size()), N}, 0.f);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] == kZeroRow) continue;
    if (rows[i] < 0 || rows[i] >= K)
      throw RuntimeFailure("denoiser weights: row " + std::to_string(rows[i]) + " outside " +
                           name + " " + shape_to_string(w.shape));
    std::copy_n(w.ptr() + rows[i] * N, N, out.ptr() + static_cast<int64_t>(i) * N);
  }
  return out;
}

class WeightUploader {
 public:
  WeightUploader(Backend& backend, const ParamStore& params, DenoiserWeights& weights)
      : backend_(backend), params_(params), weights_(weights) {}

  Tensor weight(const ArrayF& w) { return backend_.from_host(w, backend_.compute_dtype()); }
  Tensor bias(const ArrayF& b) { return backend_.from_host(b, DType::f32); }

  LinearWeights linear(const std::string& name, bool with_bias = true) {
    LinearWeights l;
    l.w = weight(params_.get(name + ":w"));
    if (with_bias) l.b = bias(params_.get(name + ":b"));
    return l;
  }

  int conditioning(const std::string& module) {
    NormConditioningLayer layer;
    layer.name = module;
    layer.w = params_.get(module + "/linear:w");
    layer.b = params_.get(module + "/linear:b");
    weights_.conditioning.push_back(std::move(layer));
    return static_cast<int>(weights_.conditioning.size()) - 1;
  }

  // mlp: "<prefix><name>_mlp/~/linear_<i>"; first layer split into `parts`.
  SplitMlp mlp(const std::string& prefix, const std::string& name, int64_t hidden_layers,
               const std::vector<std::vector<int>>& parts, bool layer_norm) {
    SplitMlp m;
    const std::string base = prefix + name + "_mlp/~/linear_";
    const ArrayF& w0 = params_.get(base + "0:w");
    for (const auto& rows : parts) m.first_parts.push_back(weight(take_rows(w0, rows, base + "0:w")));
    m.first_bias = bias(params_.get(base + "0:b"));
    for (int64_t i = 1; i <= hidden_layers; ++i) m.rest.push_back(linear(base + std::to_string(i)));
    if (layer_norm) m.conditioning_site = conditioning(prefix + name + "_norm_conditioning");
    return m;
  }

 private:
  Backend& backend_;
  const ParamStore& params_;
  DenoiserWeights& weights_;
};

}  // namespace

int64_t padded_embed_width(int64_t width) { return (width + 7) / 8 * 8; }

int64_t grid_embed_input_width(int64_t static_features, int64_t targets) {
  return padded_embed_width(static_features) + padded_embed_width(targets);
}

DenoiserWeights upload_denoiser_weights(Backend& backend, const ModelConfig& config,
                                        const ParamStore& params, const GridInputRows& rows) {
  DenoiserWeights w;
  WeightUploader up(backend, params, w);
  const int64_t L = config.denoiser.latent_size;
  const int64_t H = config.denoiser.hidden_layers;
  const int64_t grid_in = params.get(kEncoder + "encoder_nodes_grid_nodes_mlp/~/linear_0:w").dim(0);
  const int64_t structural = 3;  // cos(lat), cos(lon), sin(lon) appended by the reference

  // Encoder. The grid embedder's stacked first layer: static rows, zeros,
  // noisy-target rows, zeros (see the file comment).
  std::vector<int> stacked = rows.conditioning_rows;
  for (int64_t r = grid_in - structural; r < grid_in; ++r) stacked.push_back(static_cast<int>(r));
  const auto n_static = static_cast<int64_t>(stacked.size());
  const auto n_targets = static_cast<int64_t>(rows.target_rows.size());
  w.grid_embed_target_col = padded_embed_width(n_static);
  stacked.resize(static_cast<size_t>(w.grid_embed_target_col), kZeroRow);
  stacked.insert(stacked.end(), rows.target_rows.begin(), rows.target_rows.end());
  stacked.resize(static_cast<size_t>(grid_embed_input_width(n_static, n_targets)), kZeroRow);
  w.grid_embed = up.mlp(kEncoder, "encoder_nodes_grid_nodes", H, {stacked}, true);
  w.mesh_embed = up.mlp(kEncoder, "encoder_nodes_mesh_nodes", H,
                        {row_range(grid_in - structural, grid_in)}, true);
  const int64_t edge_in = params.get(kEncoder + "encoder_edges_grid2mesh_mlp/~/linear_0:w").dim(0);
  w.g2m_edge_embed = up.mlp(kEncoder, "encoder_edges_grid2mesh", H, {row_range(0, edge_in)}, true);
  w.g2m_edge_update = up.mlp(kEncoder, "processor_edges_0_grid2mesh", H,
                             {row_range(0, L), row_range(L, 2 * L), row_range(2 * L, 3 * L)}, true);
  w.g2m_mesh_update = up.mlp(kEncoder, "processor_nodes_0_mesh_nodes", H,
                             {row_range(0, L), row_range(L, 2 * L)}, true);
  w.g2m_grid_update = up.mlp(kEncoder, "processor_nodes_0_grid_nodes", H, {row_range(0, L)}, true);

  // Processor.
  const auto& tc = config.denoiser.sparse_transformer_config;
  for (int64_t i = 0; i < tc.num_layers; ++i) {
    char block[16];
    std::snprintf(block, sizeof block, "block_%02d", static_cast<int>(i));
    const std::string p = kTransformer + block + "/";
    TransformerBlockWeights b;
    const ArrayF& wq = params.get(p + "mha_proj_q:w");
    const ArrayF& wk = params.get(p + "mha_proj_k:w");
    const ArrayF& wv = params.get(p + "mha_proj_v:w");
    const int64_t d = wq.dim(0), hd = wq.dim(1);
    ArrayF qkv({d, 3 * hd});
    for (int64_t r = 0; r < d; ++r) {
      std::copy_n(wq.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd);
      std::copy_n(wk.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd + hd);
      std::copy_n(wv.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd + 2 * hd);
    }
    b.w_qkv = up.weight(qkv);
    b.attn_out = up.linear(p + "mha_final");
    b.ffw_up = up.linear(p + "ffw_up");
    b.ffw_down = up.linear(p + "ffw_down");
    // Haiku names the block's two conditioning layers "<block>_norm_conditioning"
    // (before attention) and "<block>_norm_conditioning_1" (before the FFW).
    b.attn_site = up.conditioning(p + block + "_norm_conditioning");
    b.ffw_site = up.conditioning(p + block + "_norm_conditioning_1");
    w.blocks.push_back(std::move(b));
  }
  w.final_site = up.conditioning(kTransformer + "transformer_final_norm_conditioning");

  // Decoder.
  const int64_t m2g_edge_in = params.get(kDecoder + "encoder_edges_mesh2grid_mlp/~/linear_0:w").dim(0);
  w.m2g_edge_embed = up.mlp(kDecoder, "encoder_edges_mesh2grid", H, {row_range(0, m2g_edge_in)}, true);
  w.m2g_edge_update = up.mlp(kDecoder, "processor_edges_0_mesh2grid", H,
                             {row_range(0, L), row_range(L, 2 * L), row_range(2 * L, 3 * L)}, true);
  w.m2g_grid_update = up.mlp(kDecoder, "processor_nodes_0_grid_nodes", H,
                             {row_range(0, L), row_range(L, 2 * L)}, true);
  w.output_mlp = up.mlp(kDecoder, "decoder_nodes_grid_nodes", H, {row_range(0, L)}, false);
  return w;
}

}  // namespace gencast
