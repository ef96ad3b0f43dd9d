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

/// The property writes of a batch made only of TwinGraph::write_properties
/// calls, as numbers: what a journal that asked for them
/// (TwinGraphOptions::numeric_journal) receives instead of the batch's change
/// events, and what TwinGraph::replay applies back. The events it stands for
/// are events(): one Twin.Update per twin per call, in the order the call
/// first wrote each twin, numbered from first_sequence; each write set one
/// top-level property, stamped the call's time and the next etag.
struct NumericBatch {
    /// How the value is stored (the property's column type).
    enum class Kind : std::uint8_t { float64 = 0, int64 = 1, boolean = 2 };
    struct Twin {
        std::string id;
        std::uint32_t model = 0;  ///< index into `names`: the twin's model id
    };
    struct Write {
        std::uint32_t twin = 0;      ///< index into `twins`
        std::uint32_t property = 0;  ///< index into `names`: the property's name
        Kind kind = Kind::float64;
        bool replaced = false;         ///< the property had a value before the write (patch "replace", else "add")
        bool has_source_time = false;  ///< the write set the property's sourceTime
        double value = 0.0;            ///< as stored: integral for int64, 0 or 1 for boolean
        std::int64_t source_time = 0;  ///< ns since 1970 (when has_source_time)
    };
    struct Call {
        Timestamp time;             ///< the call's time: $lastUpdateTime of what it wrote, and its events' time
        std::uint32_t writes = 0;   ///< how many of `writes` it made (calls take them in order)
        std::string cause;          ///< ChangeEvent::cause of its events
    };
    std::vector<std::string> names;  ///< model ids and property names, each once
    std::vector<Twin> twins;         ///< each twin the batch writes, once, in first-write order
    std::vector<Write> writes;       ///< in the order they were made
    std::vector<Call> calls;
    std::uint64_t first_sequence = 0;  ///< the number of the batch's first event
    std::uint64_t etag_before = 0;     ///< the graph's etag counter before the batch: write k gets etag_before + k + 1

    /// Events of the batch (one per twin per call). O(writes).
    [[nodiscard]] std::size_t event_count() const;
    /// The change events the batch stands for, exactly as write_properties
    /// emits them with events built (patch ops, values, sourceTimes).
    [[nodiscard]] std::vector<ChangeEvent> events() const;
    /// The value of write `w` as JSON (typed as get_twin shows it).
    [[nodiscard]] static nlohmann::json value_json(const Write& w);
    void clear() noexcept {
        names.clear();
        twins.clear();
        writes.clear();
        calls.clear();
        first_sequence = etag_before = 0;
    }
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
    /// Set (and `events` empty) when the journal asked for numeric batches
    /// and the batch is made only of write_properties calls: its writes as
    /// numbers, valid while the hook runs. Its events are numeric->events().
    const NumericBatch* numeric = nullptr;

    /// The number of change events the batch holds (numeric or not).
    [[nodiscard]] std::size_t event_count() const { return numeric ? numeric->event_count() : events.size(); }
};

/// A batch as a journal recorded it, for TwinGraph::replay.
struct RecordedBatch {
    std::span<const ChangeEvent> events;  ///< with their recorded sequence numbers and times
    std::span<const ModelChange> models;
    const BatchOutcome* outcome = nullptr;  ///< required unless `numeric` is set
    /// A numeric batch (CommitBatch::numeric) instead of events, models and
    /// outcome: replay applies its writes at their recorded times.
    const NumericBatch* numeric = nullptr;
};

/// The hook's type. Runs on the writer's thread with the graph's mutex held.
/// It may read the graph (which still shows the state before the batch) but
/// must not modify it: a write from the hook throws twinsim::UsageError
/// (sim/common/error.hpp); if the hook lets it escape, the batch is rolled
/// back and the caller of the mutation receives it.
using Journal = std::function<void(const CommitBatch&)>;

}  // namespace twinsim::graph
