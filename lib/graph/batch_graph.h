// Several ensemble members in one denoiser call: the disjoint union of
// `copies` copies of a denoiser graph. Copy b's grid nodes are
// [b*G, (b+1)*G), its mesh nodes [b*M, (b+1)*M); every edge set and the
// attention neighbourhoods are replicated with those offsets, so no edge and
// no attention pair crosses between copies. A denoiser built on the union
// computes, for the stacked rows of B members, exactly what B calls on the
// single graph compute: every op is per row, per edge or per neighbourhood,
// and the noise level (hence the conditioning) is the same for members at
// the same sampler step.
#pragma once

#include <cstdint>

#include "graph/denoiser_graph.h"

namespace gencast {

// copies >= 1; copies == 1 returns a copy of g. Only what the denoiser reads
// is replicated (node and edge features, edge sets, attention, node counts);
// the mesh geometry and the lat/lon axes stay those of one copy.
DenoiserGraph replicate_graph(const DenoiserGraph& g, int64_t copies);

}  // namespace gencast
