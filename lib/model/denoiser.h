// The GenCast denoiser D(x; sigma), written once against the Backend seam.
//
//   D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; σ, conditioning)
//
// F is the encoder (grid→mesh interaction network), the processor (sparse
// transformer on the mesh, attention restricted to the k-hop neighbourhood)
// and the decoder (mesh→grid interaction network + output MLP). Everything is
// conditioned on σ through LayerNorm + LinearNormConditioning.
//
// Memory: edge work is done in chunks of whole receiver ranges (edges are
// sorted by receiver), so per-edge latents never exist for the full edge set;
// the decoder processes one contiguous grid-node range at a time end to end.
// Chunks holding receivers with many edges sum them in two levels through a
// small float32 scratch (DenoiserOptions::segment_split_edges).
// One call handles one ensemble member.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "config/param_store.h"
#include "config/run_options.h"
#include "graph/denoiser_graph.h"
#include "model/attention_choice.h"
#include "model/denoiser_memory.h"
#include "model/denoiser_options.h"
#include "model/denoiser_weights.h"
#include "model/noise_encoder.h"
#include "model/segment_split.h"

namespace gencast {

// Host copies of intermediate activations, for verification against the
// reference's recorded intermediates. Filled only when requested.
struct DenoiserTrace {
  std::vector<double> noise_encoding;  // [16]
  ArrayF mesh_latent_after_grid2mesh;  // [M, L]
  ArrayF grid_latent_after_grid2mesh;  // [G, L]
  ArrayF mesh_latent_after_transformer;
  ArrayF grid_output;  // raw F [G, targets]
};

class Denoiser;

// The exact sizes a Denoiser for this graph, channel layout and options
// allocates by (see model/denoiser_memory.h): the constructor's own plan of
// edge chunks and two-level sums, without a backend.
DenoiserSizes denoiser_sizes(const DenoiserGraph& graph, const GridInputRows& rows,
                             const DenoiserOptions& options);

class Denoiser {
 public:
  Denoiser(Backend& backend, const ModelConfig& config, const ParamStore& params,
           const DenoiserGraph& graph, const GridInputRows& rows, DenoiserOptions options = {});
  ~Denoiser();

  int64_t n_grid() const { return n_grid_; }
  int64_t n_targets() const { return n_targets_; }
  int64_t n_conditioning() const { return n_cond_; }

  // The normalized inputs and forcings of the current 12 h step, [n_grid, n_cond]
  // in the order given by GridInputRows::conditioning_rows. Uploads them,
  // with the structural features, into the static columns of the grid
  // embedder's input rows (the same for every call of the step), so it must
  // be called before the first denoise() and again when they change.
  void set_conditioning(const ArrayF& features);
  // The same for rows [first_row, first_row + features.dim(0)) only: one
  // member's slot of a batched denoiser (features [slot rows, n_cond]).
  void set_conditioning(const ArrayF& features, int64_t first_row);

  // The device rows whose columns [0, n_conditioning()) hold the step's
  // conditioning ([n_grid, >= n_conditioning], compute dtype), for updating
  // them on the backend between steps (Backend::step_advance) instead of
  // uploading them again. Its other columns belong to the denoiser: leave them
  // alone. Valid once set_conditioning has filled every row.
  Tensor& conditioning_rows();

  // out = D(x; sigma); x and out are float32 [n_grid, n_targets] on the backend
  // (they may not alias).
  void denoise(float sigma, const Tensor& x, Tensor& out);

  // Called at the end of each stage of a call ("grid embed: ...", "grid2mesh
  // edges", "encoder node updates", "attention", "transformer", "mesh2grid
  // edges", "decoder grid update", "decoder output") for profiling; the callback may
  // synchronize the backend. Empty = no calls.
  void set_stage_callback(std::function<void(const char* stage)> callback) {
    stage_callback_ = std::move(callback);
  }

  // Next denoise() call copies its intermediates into `trace` (then stops).
  void trace_next_call(DenoiserTrace* trace) { trace_ = trace; }

  // The sizes it was built with, and what it allocated on the backend by
  // part (equal to denoiser_memory(config, sizes(), options, compute dtype):
  // the constructor checks it).
  const DenoiserSizes& sizes() const { return sizes_; }
  const DenoiserMemory& allocated() const { return allocated_; }

  // FLOPs of one denoise() call (2 per multiply-add; GEMMs and attention).
  double flops_per_call() const { return flops_per_call_; }
  bool caches_edge_embeddings() const { return g2m_cache_ != nullptr; }
  // Calls that took their conditioning from the noise-level cache, and the
  // levels it holds (tests, logs).
  int64_t sigma_cache_hits() const { return sigma_cache_.hits; }
  int64_t sigma_cache_levels() const { return static_cast<int64_t>(sigma_cache_.sigma_bits.size()); }
  // Chunks whose segment sums run in two levels, per edge set (logs, tests).
  int64_t g2m_split_chunks() const { return g2m_split_ ? g2m_split_->split_chunks : 0; }
  int64_t m2g_split_chunks() const { return m2g_split_ ? m2g_split_->split_chunks : 0; }
  // Chunks planned for the fused edge MLP, per edge set (logs, tests): the
  // backend may still compose the ops (Backend::fused_edge_mlp).
  int64_t g2m_tiled_chunks() const;
  int64_t m2g_tiled_chunks() const;
  // Edge chunks of the last denoise() call that ran the fused edge MLP, and
  // all its edge chunks (both edge sets).
  int64_t fused_edge_chunks() const { return fused_chunks_per_call_; }
  // Edge chunks of the last call whose cached first layer ran as an f16 x f16
  // GEMM (edge_cache_folded_half and Backend::linear_takes_f16).
  int64_t f16_first_layer_chunks() const { return f16_chunks_per_call_; }
  // Transformer GEMMs of the last call (q|k|v and up-projection, two a block)
  // that took f16 operands (transformer_f16_operands, Backend::linear_takes_f16,
  // the weights and that noise level's LayerNorm outputs within f16's range).
  int64_t f16_transformer_gemms() const { return f16_gemms_per_call_; }
  int64_t edge_chunks() const {
    return static_cast<int64_t>(g2m_chunks_.size() + m2g_chunks_.size());
  }

  // A range of whole receivers and their edges, processed together.
  struct EdgeChunk {
    int64_t edge_begin, edge_end, recv_begin, recv_end;
  };
  // Consecutive receiver ranges with at most `limit` edges and `limit`
  // receivers each (a single receiver above the limit gets a chunk of its own).
  static std::vector<EdgeChunk> plan_chunks(const std::vector<int32_t>& offsets, int64_t limit);

 private:
  struct Buffers;
  // The two-level segment sum of one edge set (see DenoiserOptions::segment_split_edges).
  struct ChunkPieces {
    bool split;                      // false: the chunk's receivers are all light
    int64_t piece_begin, piece_end;  // the chunk's pieces
  };
  struct EdgeSetSplit {
    Tensor piece_offsets;             // [P + 1, 1] i32: edge offsets of the pieces
    Tensor receiver_pieces;           // [R + 1, 1] i32: piece offsets of the receivers
    std::vector<ChunkPieces> chunks;  // parallel to the edge set's EdgeChunks
    int64_t pieces = 0, split_chunks = 0, most_pieces = 0;  // most: of one split chunk
    SegmentSplit host;                // the tables above, until they are uploaded
  };
  // The fused edge MLP's tiles of one edge set (backend/edge_tiles.h): each
  // chunk's tile boundaries over its segments (its receivers, or its pieces
  // when its sum is split), all chunks in one table.
  struct EdgeSetTiles {
    struct Chunk {
      int64_t first = 0;   // its boundaries start at this entry of the table
      int64_t tiles = -1;  // -1: a segment is too heavy for a tile (ops composed)
    };
    std::vector<Chunk> chunks;   // parallel to the edge set's EdgeChunks
    std::vector<int32_t> host;   // the table, until it is uploaded
    Tensor table;                // [entries, 1] i32
  };
  // The host side of the layout: both edge sets' chunks and two-level sums.
  struct Plan {
    std::vector<EdgeChunk> g2m_chunks, m2g_chunks;
    std::unique_ptr<EdgeSetSplit> g2m_split, m2g_split;  // null: one-level sums
    std::unique_ptr<EdgeSetTiles> g2m_tiles, m2g_tiles;  // null: fused edge MLP off
  };
  // Plans the tiles of every chunk of an edge set (host side only).
  static std::unique_ptr<EdgeSetTiles> plan_tiles(const std::vector<int32_t>& offsets,
                                                  const std::vector<EdgeChunk>& chunks,
                                                  const EdgeSetSplit* split);
  // Plans the layout and returns the sizes it fixes (denoiser_sizes and the
  // constructor, so that both see the same plan).
  static DenoiserSizes plan_layout(const DenoiserGraph& graph, const GridInputRows& rows,
                                   const DenoiserOptions& options, Plan& plan);
  friend DenoiserSizes denoiser_sizes(const DenoiserGraph&, const GridInputRows&,
                                      const DenoiserOptions&);
  // Cached normalized edge embeddings E0 and the per-call first layer of the
  // edge update with the embedder's conditioning folded in:
  //   (E0 * (1 + s) + o) @ P0 + b0 = E0 @ (diag(1 + s) P0) + (o @ P0 + b0).
  struct EdgeEmbeddingCache {
    Tensor e0;             // [E, L] edge_cache_storage(): compute dtype or compact f16
    Tensor w_folded;       // [L, L] diag(1 + s) P0, rewritten every call
    // [L, L] f16 copy of w_folded (edge_cache_folded_half), for an f16 x f16
    // first layer; valid for this call when w_half_ok (w_folded fits in f16).
    Tensor w_half;
    bool w_half_ok = false;
    Tensor b_folded;       // [L] f32: o @ P0 + b0
    ArrayF p0;             // [L, L] host copy of the edge part of the first layer
    std::vector<float> b0; // [L]
    std::vector<float> w_host, b_host;
    int site = -1;         // the embedder's conditioning site
  };

  void upload_conditioning(float sigma);
  // The noise-level cache (DenoiserOptions::sigma_cache_entries): entry i is
  // row i of `cond` and rows [i L, (i + 1) L) of the folded layers.
  struct SigmaCache {
    std::vector<uint32_t> sigma_bits;  // the cached levels, in entry order
    Tensor cond;                       // [entries, conditioning values] f32
    Tensor g2m_w, m2g_w;               // [entries * L, L] compute dtype
    Tensor g2m_b, m2g_b;               // [entries, L] f32
    // Per entry: whether its folded layers fit in f16 (bit 0 g2m, bit 1 m2g)
    // and whether its transformer LayerNorm outputs do (bit 2, level_half_ok_).
    std::vector<uint8_t> half_ok;
    int64_t hits = 0;
  };
  // Copies entry `i` into the working conditioning (to_cache = false) or the
  // working conditioning into entry `i` (true): device copies only.
  void copy_sigma_entry(size_t i, bool to_cache);
  // Refreshes cache.w_half from w_folded when the f16 first layer will run.
  void refresh_folded_half(EdgeEmbeddingCache& cache);
  bool folded_half_ready(const EdgeEmbeddingCache& cache) const;
  const Tensor& site(int index) const { return cond_views_.at(static_cast<size_t>(index)); }
  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, Activation act,
            float alpha = 1.f, float beta = 0.f);
  // Runs an MLP's layers after the first (swish between them, none after the
  // last), ping-ponging between h and tmp, and returns the tensor holding the
  // output; the last layer writes into `last_dst` instead when given.
  const Tensor& mlp_rest(const SplitMlp& mlp, Tensor& h, Tensor& tmp, Tensor* last_dst = nullptr);
  // Runs the layers after the first one, then LayerNorm+conditioning into dst.
  void mlp_tail(const SplitMlp& mlp, Tensor& h, Tensor& tmp, Tensor& dst, bool accumulate);
  void embed_edges(const SplitMlp& mlp, const Tensor& features, Tensor& h, Tensor& tmp,
                   Tensor& dst, const Tensor& cond);
  // First layer of an edge update for edges [e0, e0+n) into `out` (pre-gather):
  // from the cache when present, else embedding the edges now.
  void edge_first_layer(const SplitMlp& embed, const SplitMlp& update, const Tensor& features,
                        EdgeEmbeddingCache* cache, int64_t e0, int64_t n, Tensor& out);
  void build_edge_cache(const SplitMlp& embed, const std::string& update_name,
                        const Tensor& features, const ParamStore& params,
                        std::unique_ptr<EdgeEmbeddingCache>& cache);
  void fold_edge_conditioning(EdgeEmbeddingCache& cache);
  // One edge set's tensors for a message-passing step.
  struct EdgeSetTensors {
    const SplitMlp& embed;
    const SplitMlp& update;
    EdgeEmbeddingCache* cache;
    const Tensor &features, &senders, &receivers, &offsets;
    const Tensor& sender_proj;    // sender latents @ the update's sender rows
    const Tensor& receiver_proj;  // receiver latents @ the update's receiver rows
    const EdgeSetSplit* split;    // null: one segment sum per chunk
    const EdgeSetTiles* tiles;    // null: the fused edge MLP is off
  };
  // The messages of chunk `c` summed per segment into y (its receivers' or
  // its pieces' rows) by Backend::fused_edge_mlp; false when the chunk, the
  // model or the backend does not allow it (nothing done).
  bool fused_edge_messages(const EdgeSetTensors& set, const EdgeChunk& c, size_t index,
                           const Tensor& segment_offsets, Tensor& y);
  // Messages of the edges of chunk `c` (edge MLP on [edge, sender, receiver],
  // LayerNorm + conditioning), summed per receiver into agg [receivers of c, L].
  // `index` is c's position in its edge set's chunk list.
  void edge_messages(const EdgeSetTensors& set, const EdgeChunk& c, size_t index, Tensor& agg);
  // Plans the two-level sums of an edge set (host side only); null when no
  // chunk has a receiver above `split_edges` (or it is 0).
  static std::unique_ptr<EdgeSetSplit> plan_split(const std::vector<int32_t>& offsets,
                                                  const std::vector<EdgeChunk>& chunks,
                                                  int64_t split_edges);
  // Every device allocation of the constructor goes through these, counted
  // into allocated_ by part, so that the total can be checked against
  // denoiser_memory().
  Tensor allocate(int64_t DenoiserMemory::*part, Shape shape, DType dtype);
  Tensor upload_array(int64_t DenoiserMemory::*part, const ArrayF& a, DType dtype);
  Tensor upload_column(int64_t DenoiserMemory::*part, const std::vector<int32_t>& v);
  void upload_split(EdgeSetSplit& split);
  // Throws std::logic_error when allocated_ differs from the description.
  void check_allocations() const;
  // h = swish([static | c_in * x | 0] @ W_first + b) for grid nodes [g0, g0 + n)
  // (x: their noisy targets): the grid embedder's first layer as one GEMM.
  void grid_embed_first_layer(int64_t g0, const Tensor& x, float c_in, Tensor& h);
  void encoder(float sigma, const Tensor& x);
  void processor();
  void decoder(float sigma, const Tensor& x, Tensor& out);

  Backend& backend_;
  ModelConfig config_;
  DenoiserOptions options_;
  DenoiserSizes sizes_;
  DenoiserMemory allocated_;
  int64_t n_grid_ = 0, n_mesh_ = 0, n_targets_ = 0, n_cond_ = 0, latent_ = 0;
  NoiseLevelEncoder noise_encoder_;
  DenoiserWeights weights_;
  std::unique_ptr<AttentionPlan> attention_;
  std::vector<EdgeChunk> g2m_chunks_, m2g_chunks_;
  std::unique_ptr<Buffers> buf_;
  std::vector<Tensor> cond_views_;
  std::vector<size_t> cond_offsets_;  // start of each site in cond_host_
  std::unique_ptr<EdgeEmbeddingCache> g2m_cache_, m2g_cache_;
  std::unique_ptr<EdgeSetSplit> g2m_split_, m2g_split_;
  std::unique_ptr<EdgeSetTiles> g2m_tiles_, m2g_tiles_;
  std::vector<float> cond_host_;
  SigmaCache sigma_cache_;
  // [staging_rows_, grid embedder input width] staging of set_conditioning,
  // page-locked on GPUs: the static columns of a chunk of rows, zeros in the
  // target columns.
  std::shared_ptr<float[]> static_host_;
  int64_t staging_rows_ = 1;
  bool conditioned_ = false;  // set_conditioning has filled the static columns
  ArrayF grid_structural_;  // [G, 3] structural grid node features
  int64_t attention_nnz_ = 0;
  DenoiserTrace* trace_ = nullptr;
  std::function<void(const char*)> stage_callback_;
  void stage_done(const char* stage) {
    if (stage_callback_) stage_callback_(stage);
  }
  double flops_ = 0, flops_per_call_ = 0;
  int64_t fused_chunks_ = 0, fused_chunks_per_call_ = 0;
  int64_t f16_chunks_ = 0, f16_chunks_per_call_ = 0;
  // tf32's f16 operands in each transformer block (transformer_f16_operands):
  // f16 copies of w_qkv and the up-projection, `fits` when both convert to
  // finite halves (checked once, on the backend's own values).
  struct BlockHalf {
    Tensor w_qkv, w_up;
    bool fits = false;
  };
  std::vector<BlockHalf> block_half_;
  // Whether every transformer LayerNorm output fits f16 at the current noise
  // level (a bound from its conditioning, upload_conditioning).
  bool level_half_ok_ = false;
  bool transformer_sites_fit_half() const;
  int64_t f16_gemms_ = 0, f16_gemms_per_call_ = 0;
};

}  // namespace gencast
