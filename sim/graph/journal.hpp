#pragma once
// The commit journal: a hook a TwinGraph calls inside every commit, after the
// batch is validated and applied to the writer's private state but before any
// reader, snapshot or listener can see it. A durable store writes the batch
// there; when the hook throws, the graph rolls the batch back as if it had
// never been tried (TwinGraphOptions::journal has the whole contract).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/change_event.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::graph {

/// A change to the graph's models inside a batch. Models emit no change
/// event, so the journal gets them separately, with enough to replay them.
struct ModelChange {
    enum class Kind : std::uint8_t {
        add,           ///< TwinGraph::add_models
        decommission,  ///< TwinGraph::decommission_model
        remove,        ///< TwinGraph::delete_model
    };
    Kind kind = Kind::add;
    /// add: every interface id the documents added (inline ones included);
    /// decommission / remove: the one model.
    std::vector<std::string> model_ids;
    /// add: the DTDL documents exactly as given to add_models.
    std::vector<dtdl::Document> documents;
    /// add: the upload time the models were given.
    Timestamp upload_time;
    /// How many of the batch's events precede this change: replaying the
    /// events [0, events_before) first, then this change, keeps the order in
    /// which a batch (an import, an atomically() body) made them.
    std::size_t events_before = 0;
};

/// What a batch leaves behind: the state, once the batch commits, of every
/// twin and relationship its events name. A journal that must replay batches
/// exactly (the durable store, sim/live/store.hpp) records it beside the
/// events, and TwinGraph::replay puts it back.
struct BatchOutcome {
    struct Twin {
        std::string id;
        /// As get_twin returns it after the batch ($etag, $lastUpdateTime,
        /// every lastUpdateTime and sourceTime); null when the batch deleted it.
        nlohmann::json document;
    };
    struct Relationship {
        std::string source_id;
        std::string relationship_id;
        /// As get_relationship returns it after the batch; null when deleted.
        nlohmann::json document;
        Timestamp last_update;  ///< when it was last written (not part of its JSON)
    };
    std::vector<Twin> twins;                  ///< in the order the events first name them
    std::vector<Relationship> relationships;  ///< same
    std::uint64_t etag_counter = 0;           ///< the graph's etag counter after the batch
};

/// One batch about to be committed: one public mutation of a TwinGraph, or a
/// whole atomic group (atomically(), update_twins, a cascading delete, an
/// NDJSON import).
struct CommitBatch {
    /// The batch's change events in order, numbered with the sequence numbers
    /// they will carry once committed: gap-free, continuing from the last
    /// committed one. Each event's data is what ChangeType describes (a
    /// create carries the whole twin or relationship as stored, with its
    /// $etag and times; an update the modelId and the patch; a delete the
    /// last state).
    std::span<const ChangeEvent> events;
    /// The batch's model changes, in order (see ModelChange::events_before).
    std::span<const ModelChange> models;
    /// Builds the batch's BatchOutcome (O(twins and relationships touched)).
    /// Callable only while the hook runs; empty outside a journal.
    std::function<BatchOutcome()> outcome{};
};

/// A batch as a journal recorded it, for TwinGraph::replay.
struct RecordedBatch {
    std::span<const ChangeEvent> events;  ///< with their recorded sequence numbers and times
    std::span<const ModelChange> models;
    const BatchOutcome* outcome = nullptr;  ///< required
};

/// The hook's type. Runs on the writer's thread with the graph's mutex held.
/// It may read the graph (which still shows the state before the batch) but
/// must not modify it: a write from the hook throws twinsim::UsageError
/// (sim/common/error.hpp); if the hook lets it escape, the batch is rolled
/// back and the caller of the mutation receives it.
using Journal = std::function<void(const CommitBatch&)>;

}  // namespace twinsim::graph
