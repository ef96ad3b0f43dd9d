#pragma once
// Time travel on the durable store (docs/store.md, "Time travel").
//
// Store::snapshot_at(t) (declared in store.hpp, defined in time_travel.cpp)
// rebuilds the graph as it was at instant t from the latest kept checkpoint at
// or before that moment plus the journal batches after it. This header holds
// the pieces that decide which checkpoints are kept so that such a rebuild
// replays a bounded part of the journal.
//
// The time of a batch is its journal column committed_at: the graph's clock
// when the batch committed, which is the time of its change events and the
// $lastUpdateTime / $metadata times it stamped (a batch of model changes only:
// the graph's clock read as it is journaled). snapshot_at(t) holds every batch
// committed at or before t and none after.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace twinsim::live {

/// The retention policy for checkpoints (StoreOptions::keep_checkpoints).
/// `batches`: the batches of the checkpoints on disk, including the one just
/// written, in any order. Returns those to remove so that at most `keep`
/// remain (a `keep` below 2 counts as 2). The newest two are never removed
/// (the newest and its fallback). The others are placed on a grid of at most
/// keep - 2 equal cells over batches 0 .. newest, the cell width a power of
/// two (it doubles as the journal grows, each wider cell the union of two
/// narrower ones); each cell keeps its oldest checkpoint. So the kept ones
/// stay spread over the whole journal and the gap between two kept
/// checkpoints — the most batches snapshot_at replays — is at most
/// 4 x newest / (keep - 2) plus the interval between checkpoints.
[[nodiscard]] std::vector<std::uint64_t> checkpoints_to_remove(std::vector<std::uint64_t> batches, std::size_t keep);

}  // namespace twinsim::live
