#include "model/denoiser_weights.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <numeric>

#include "core/error.h"
#include "model/param_schema.h"

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

// Selected rows of a [K, N] weight, in the given order (kZeroRow: zeros),
// into the zeroed [rows.size(), N] `out`.
void take_rows(const ArrayF& w, const std::vector<int>& rows, const std::string& name,
               ArrayF& out) {
  const int64_t K = w.dim(0), N = w.dim(1);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] == kZeroRow) continue;
    if (rows[i] < 0 || rows[i] >= K)
      throw RuntimeFailure("denoiser weights: row " + std::to_string(rows[i]) + " outside " +
                           name + " " + shape_to_string(w.shape));
    std::copy_n(w.ptr() + rows[i] * N, N, out.ptr() + static_cast<int64_t>(i) * N);
  }
}

// Runs the upload recipe below in one of two modes, so that what the
// denoiser allocates for its weights is described by the same code that
// allocates them (denoiser_weight_layout, the memory plan):
//  * uploading: shapes and values from the checkpoint's ParamStore, tensors
//    on the backend;
//  * counting: shapes from expected_param_shapes, no values read, nothing
//    allocated (tensors stay undefined, conditioning layers are zeros).
// Both add every tensor to the weights' device_bytes/device_tensors.
class WeightUploader {
 public:
  WeightUploader(Backend& backend, const ParamStore& params, DenoiserWeights& weights)
      : backend_(&backend), compute_(backend.compute_dtype()), params_(&params), weights_(weights) {}
  WeightUploader(DType compute, const std::map<std::string, Shape>& shapes, DenoiserWeights& weights)
      : compute_(compute), shapes_(&shapes), weights_(weights) {}

  bool uploading() const { return backend_ != nullptr; }
  DType compute() const { return compute_; }

  Shape shape(const std::string& name) const {
    if (params_) return params_->get(name).shape;
    const auto it = shapes_->find(name);
    if (it == shapes_->end()) throw RuntimeFailure("denoiser weights: no parameter " + name);
    return it->second;
  }
  // Values of a parameter; only while uploading.
  const ArrayF& values(const std::string& name) const { return params_->get(name); }

  // A tensor of `shape` whose values `fill` writes into a zeroed host array
  // (called only while uploading).
  Tensor put(Shape shape, DType dtype, const std::function<void(ArrayF&)>& fill) {
    count(shape, dtype);
    if (!uploading()) return {};
    ArrayF host(std::move(shape), 0.f);
    fill(host);
    return backend_->from_host(host, dtype);
  }
  // A parameter as stored.
  Tensor put(const std::string& name, DType dtype) {
    count(shape(name), dtype);
    return uploading() ? backend_->from_host(values(name), dtype) : Tensor{};
  }
  Tensor weight(const std::string& name) { return put(name, compute_); }
  // Biases are frozen once uploaded: they never change, so the backend may
  // keep copies. Under bf16 compute the CUDA backend keeps a bf16 copy of each
  // (for bf16-output linears), counted here as a tensor of its own.
  Tensor bias(const std::string& name) {
    Tensor t = put(name, DType::f32);
    if (compute_ == DType::bf16) count(shape(name), DType::bf16);
    if (uploading()) backend_->freeze(t);
    return t;
  }
  // Rows of a [K, N] weight in the given order (kZeroRow: zeros).
  Tensor weight_rows(const std::string& name, const std::vector<int>& rows) {
    const int64_t N = shape(name).at(1);
    return put({static_cast<int64_t>(rows.size()), N}, compute_,
               [&](ArrayF& out) { take_rows(values(name), rows, name, out); });
  }

  LinearWeights linear(const std::string& name, bool with_bias = true) {
    LinearWeights l;
    l.w = weight(name + ":w");
    if (with_bias) l.b = bias(name + ":b");
    return l;
  }

  // Conditioning layers stay on the host (evaluated per call): no device memory.
  int conditioning(const std::string& module) {
    NormConditioningLayer layer;
    layer.name = module;
    if (uploading()) {
      layer.w = values(module + "/linear:w");
      layer.b = values(module + "/linear:b");
    } else {
      layer.w = ArrayF(shape(module + "/linear:w"));
      layer.b = ArrayF(shape(module + "/linear:b"));
    }
    weights_.conditioning.push_back(std::move(layer));
    return static_cast<int>(weights_.conditioning.size()) - 1;
  }

  // mlp: "<prefix><name>_mlp/~/linear_<i>"; first layer split into `parts`.
  SplitMlp mlp(const std::string& prefix, const std::string& name, int64_t hidden_layers,
               const std::vector<std::vector<int>>& parts, bool layer_norm) {
    SplitMlp m;
    const std::string base = prefix + name + "_mlp/~/linear_";
    for (const auto& rows : parts) m.first_parts.push_back(weight_rows(base + "0:w", rows));
    m.first_bias = bias(base + "0:b");
    for (int64_t i = 1; i <= hidden_layers; ++i) m.rest.push_back(linear(base + std::to_string(i)));
    if (layer_norm) m.conditioning_site = conditioning(prefix + name + "_norm_conditioning");
    return m;
  }

 private:
  void count(const Shape& shape, DType dtype) {
    weights_.device_bytes += shape_numel(shape) * static_cast<int64_t>(dtype_size(dtype));
    ++weights_.device_tensors;
    weights_.largest_tensor = std::max(weights_.largest_tensor, shape_numel(shape));
  }

  Backend* backend_ = nullptr;
  DType compute_;
  const ParamStore* params_ = nullptr;
  const std::map<std::string, Shape>* shapes_ = nullptr;
  DenoiserWeights& weights_;
};

// The recipe: every tensor of the denoiser's weights, in either mode.
void build_denoiser_weights(WeightUploader& up, const ModelConfig& config,
                            const GridInputRows& rows, DenoiserWeights& w);

}  // namespace

int64_t padded_embed_width(int64_t width) { return (width + 7) / 8 * 8; }

int64_t grid_embed_input_width(int64_t static_features, int64_t targets) {
  return padded_embed_width(static_features) + padded_embed_width(targets);
}

DenoiserWeights upload_denoiser_weights(Backend& backend, const ModelConfig& config,
                                        const ParamStore& params, const GridInputRows& rows) {
  DenoiserWeights w;
  WeightUploader up(backend, params, w);
  build_denoiser_weights(up, config, rows, w);
  return w;
}

DenoiserWeights denoiser_weight_layout(const ModelConfig& config, int64_t n_conditioning,
                                       int64_t n_targets, DType compute) {
  // Only the number of rows matters when nothing is uploaded.
  GridInputRows rows;
  rows.conditioning_rows.assign(static_cast<size_t>(n_conditioning), 0);
  rows.target_rows.assign(static_cast<size_t>(n_targets), 0);
  const std::map<std::string, Shape> shapes = expected_param_shapes(config);
  DenoiserWeights w;
  WeightUploader up(compute, shapes, w);
  build_denoiser_weights(up, config, rows, w);
  return w;
}

namespace {

void build_denoiser_weights(WeightUploader& up, const ModelConfig& config,
                            const GridInputRows& rows, DenoiserWeights& w) {
  const int64_t L = config.denoiser.latent_size;
  const int64_t H = config.denoiser.hidden_layers;
  const int64_t grid_in = up.shape(kEncoder + "encoder_nodes_grid_nodes_mlp/~/linear_0:w").at(0);
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
  const int64_t edge_in = up.shape(kEncoder + "encoder_edges_grid2mesh_mlp/~/linear_0:w").at(0);
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
    const Shape q = up.shape(p + "mha_proj_q:w");
    const int64_t d = q.at(0), hd = q.at(1);
    b.w_qkv = up.put({d, 3 * hd}, up.compute(), [&](ArrayF& qkv) {
      const ArrayF& wq = up.values(p + "mha_proj_q:w");
      const ArrayF& wk = up.values(p + "mha_proj_k:w");
      const ArrayF& wv = up.values(p + "mha_proj_v:w");
      for (int64_t r = 0; r < d; ++r) {
        std::copy_n(wq.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd);
        std::copy_n(wk.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd + hd);
        std::copy_n(wv.ptr() + r * hd, hd, qkv.ptr() + r * 3 * hd + 2 * hd);
      }
    });
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
  const int64_t m2g_edge_in = up.shape(kDecoder + "encoder_edges_mesh2grid_mlp/~/linear_0:w").at(0);
  w.m2g_edge_embed = up.mlp(kDecoder, "encoder_edges_mesh2grid", H, {row_range(0, m2g_edge_in)}, true);
  w.m2g_edge_update = up.mlp(kDecoder, "processor_edges_0_mesh2grid", H,
                             {row_range(0, L), row_range(L, 2 * L), row_range(2 * L, 3 * L)}, true);
  w.m2g_grid_update = up.mlp(kDecoder, "processor_nodes_0_grid_nodes", H,
                             {row_range(0, L), row_range(L, 2 * L)}, true);
  w.output_mlp = up.mlp(kDecoder, "decoder_nodes_grid_nodes", H, {row_range(0, L)}, false);
}

}  // namespace

}  // namespace gencast
