#pragma once
// What a replay reads from a live store (docs/replay.md, "From a live
// store"): the recorded history up to the window's end and the store's graph
// at the window's start. One function for every front end (`twinsim run
// --store`, `twinsim.run(..., store=)`), which hands both to the scenario
// layer (ReplaySpec::loaded, the base snapshot of prepare()).

#include "twinsim/common/time.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/io/history_file.hpp"

namespace twinsim::live {

class Store;

struct ReplayWindow {
    io::HistoryTables history;  ///< every row committed at or before the window's end (source: the store's directory)
    graph::Snapshot graph;      ///< the store's graph at the window's start (Store::snapshot_at)
};

/// The replay window [start, end] of `store`. A row is placed at its
/// SourceTimeStamp when it has one (scenario::RecordedHistory), but rows are
/// selected by the instant the store committed them: a store filled after
/// the fact (a BMS export ingested later, every row stamped at import time)
/// has no graph at the window's start and no rows up to its end.
/// Precondition: start <= end.
/// Throws HistoryError when the store's graph at `start` holds no twin: the
/// message names the window, the span of the store's records (its first
/// and last twin lifecycle rows, "none"), and the way to replay such a
/// store (export its history to an HDF5 file, `twinsim history --hdf5`, and
/// name that file as replay.source, the scenario's base being the graph);
/// HistoryError and StoreError as Store::history and Store::snapshot_at.
[[nodiscard]] ReplayWindow replay_window(Store& store, Timestamp start, Timestamp end);

}  // namespace twinsim::live
