#pragma once
// TwinGraph: the live graph of twins and relationships, with the semantics of
// the Azure Digital Twins data-plane API (reference/adt.md).
//
// Structure is shared, state is cloned (DESIGN.md): twins have dense indices;
// their properties live in typed columns, one table per model and one column
// per flattened property with a presence bitmap, split into fixed-size chunks
// held by reference count. snapshot() shares every chunk; a later write copies
// only the chunks it touches. Every mutation is validated against the models,
// bumps the twin's $etag and per-property lastUpdateTime, and emits a
// ChangeEvent to the registered listeners.
//
// Thread safety: one writer at a time (mutations are serialised by an internal
// mutex); reads on the TwinGraph itself take the same mutex; Snapshots are
// read lock-free from any thread.
//
// Atomicity: every public mutation applies whole or not at all; when it throws,
// the graph (and its listeners) saw nothing.
//
// Commit order of every mutation (one batch: a single call, or a whole
// atomic group): validate and apply to the writer's state; number the change
// events; call the journal (TwinGraphOptions::journal), which can still roll
// the batch back; make the batch visible (snapshots, reads); deliver the
// events to the listeners.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/change_event.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/journal.hpp"
#include "twinsim/graph/scalar_value.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::graph {

namespace detail {
struct BulkLoader;  // NDJSON import's bulk-load entry point (detail/bulk_loader.hpp)
}

struct TwinGraphOptions {
    /// Source of $lastUpdateTime and event times; the system clock when empty.
    /// Tests and replays inject their own.
    std::function<Timestamp()> clock;
    /// Passed to the DTDL parser when models are added.
    bool allow_undefined_extensions = false;
    /// Called inside every commit that changes something (see journal.hpp):
    /// once per public mutation, or once per atomic group (atomically,
    /// update_twins, a cascading delete_twin, import_ndjson), after the batch
    /// was validated and applied to the writer's own state and before it
    /// becomes visible — snapshot() and the graph's reads, from any thread
    /// or from the hook itself, still show the state before the batch, and
    /// no listener has heard of it. It receives a CommitBatch: the batch's
    /// change events, numbered with their final sequence numbers, its model
    /// changes, and `outcome`, which builds on demand the state the batch
    /// leaves every twin and relationship it touched in (what a store needs
    /// to replay it exactly, TwinGraph::replay).
    ///
    /// If it throws, the batch is rolled back — twins, relationships,
    /// models, etags, $lastUpdateTime and sequence numbers exactly as before
    /// (the next committed batch reuses the numbers) — no listener is called,
    /// and the hook's exception propagates unchanged to the caller of the
    /// mutation. A mutation that fails its own checks never reaches the hook.
    /// The hook must not modify the graph: a write from it throws
    /// twinsim::UsageError (common/error.hpp).
    ///
    /// With a journal set, change events are built for every write even
    /// without listeners (except a numeric batch for a numeric_journal,
    /// below), and every batch, single mutations included, saves
    /// the state it may roll back to and that reads show while the hook runs
    /// (O(tables + columns); later writes in the batch then copy each chunk
    /// they touch once). Without a journal only atomic groups save it, and
    /// update_twins keeps an undo log instead (writes in place).
    Journal journal{};  // "{}": positional initialisers of the members above stay warning-free
    /// The journal takes a batch made only of write_properties calls as
    /// numbers (CommitBatch::numeric, journal.hpp) instead of change events:
    /// their JSON events are then built only when listeners want them.
    bool numeric_journal{false};
    /// Called on the writer's thread after a public mutation whose batch the
    /// journal accepted has committed and the graph's mutex is released,
    /// before the mutation returns (once per outermost call, also for an
    /// atomically() group). A store with group commit waits there until the
    /// batch is durable. If it throws, the exception propagates to the caller
    /// although the batch stays committed (visible): the caller learns that
    /// its write may not be durable. Not called when nothing was journaled.
    std::function<void()> await_durable{};
    /// update_twin and update_twins apply the common JSON Patch — "add" or
    /// "replace" of plain values of top-level or component properties and of
    /// /$metadata/<property>/sourceTime — without rendering the twin as JSON
    /// (sim/graph/fast_patch.cpp). The result, errors and events are the same
    /// either way; false forces the general path (tests compare the two).
    bool patch_fast_path = true;
};

/// Conditions of a write, as ADT's If-Match / If-None-Match headers.
struct WriteCondition {
    std::optional<std::string> if_match;  ///< the write applies only if the current etag equals this ("*" = exists)
    bool if_none_match = false;           ///< create only: refuse (ConflictError) when the id exists
};

/// One twin's JSON Patch inside a batch.
struct TwinPatch {
    std::string twin_id;
    nlohmann::json patch;                 ///< array of {"op","path","value"}
    std::optional<std::string> if_match;
};

/// A fast numeric write inside a batch (no JSON): sets a top-level property.
struct PropertyWrite {
    TwinIndex twin = no_index;
    std::uint32_t column = 0;             ///< PropertySlot::column in the twin's model layout
    double value = 0.0;                   ///< converted to the column's type (integer columns require integral values)
    std::optional<Timestamp> source_time;
};

/// Times recorded for one top-level property of a bulk-loaded twin (its
/// `$metadata.<name>` entry in an import file): restored, not stamped anew.
struct PropertyTimes {
    std::string_view name;
    std::optional<Timestamp> last_update;  ///< lastUpdateTime as recorded by the graph that wrote it
    std::optional<Timestamp> source_time;  ///< sourceTime
};

/// Counters for measuring the graph (benchmarks, tests).
struct GraphStats {
    std::size_t twins = 0;
    std::size_t relationships = 0;
    std::size_t models = 0;
    /// Bytes copied by copy-on-write since the graph was created: chunks and
    /// directories that a write had to un-share from a snapshot (or from the
    /// saved state of an atomic group). Shallow sizes (sizeof of the chunk).
    std::uint64_t bytes_copied = 0;
    std::uint64_t chunks_copied = 0;
    std::uint64_t directories_copied = 0;
    /// Change events delivered so far (the last sequence number).
    std::uint64_t events_emitted = 0;
};

class TwinGraph {
public:
    explicit TwinGraph(TwinGraphOptions options = {});
    /// A writable graph whose state is `snapshot`'s, in O(tables + columns)
    /// whatever the number of twins: it shares every chunk with the snapshot
    /// and copies nothing until written; each write then copies only the
    /// directories and chunks it touches (GraphStats counts them, from 0).
    /// The snapshot, and any number of other graphs cloned from it on other
    /// threads, never see the clone's writes. Its version() and etags continue
    /// from the snapshot's, and its change events are numbered on from
    /// snapshot.event_sequence(); it has no listeners. This is what a scenario
    /// Run is built on (sim/scenario/run.hpp).
    [[nodiscard]] static std::unique_ptr<TwinGraph> from_snapshot(const Snapshot& snapshot, TwinGraphOptions options = {});
    TwinGraph(const TwinGraph&) = delete;
    TwinGraph& operator=(const TwinGraph&) = delete;
    ~TwinGraph();

    // --- models ---------------------------------------------------------------
    /// Adds a batch of DTDL interfaces, all or nothing. They may reference each
    /// other and models already in the graph. Returns the ids added.
    /// Throws dtdl::ModelError when invalid/incomplete, ConflictError
    /// (ModelAlreadyExists) when an id is already defined.
    std::vector<std::string> add_models(std::span<const dtdl::Document> documents);
    /// No new twins of it may be created. Throws NotFoundError.
    void decommission_model(std::string_view model_id);
    /// Throws NotFoundError; ConflictError (ModelReferencesNotDeleted) while a
    /// twin has this model or another model extends or references it.
    void delete_model(std::string_view model_id);

    // --- twins ----------------------------------------------------------------
    /// Creates or replaces a twin from ADT JSON ($metadata.$model required,
    /// properties, components — every component must be present). Returns the
    /// stored twin. Throws ValidationError (unknown/decommissioned model,
    /// undeclared property, wrong type, missing component, a document nested
    /// deeper than max_json_depth, common/json_depth.hpp), ConflictError
    /// (condition failed), NotFoundError (model).
    nlohmann::json upsert_twin(std::string_view twin_id, const nlohmann::json& twin, const WriteCondition& condition = {});
    /// Applies a JSON Patch (add, replace, remove; component paths;
    /// /$metadata/$model migration; /$metadata/<p>/sourceTime), whole or not at all.
    /// Throws ValidationError (JsonPatchInvalid) for a malformed patch or a
    /// value nested deeper than max_json_depth, and as upsert_twin does.
    void update_twin(std::string_view twin_id, const nlohmann::json& patch,
                     const std::optional<std::string>& if_match = std::nullopt);
    /// Deletes a twin. Refused (ConflictError RelationshipsNotDeleted) while it
    /// has incoming or outgoing relationships, unless `cascade` deletes them too.
    void delete_twin(std::string_view twin_id, const std::optional<std::string>& if_match = std::nullopt,
                     bool cascade = false);
    /// Applies many twin patches in one call, atomically (all or none).
    void update_twins(std::span<const TwinPatch> patches);
    /// The fastest ingestion path: numeric writes by index, atomically.
    /// Throws ValidationError (dead twin, bad column, non-numeric column, non-integral integer).
    void write_properties(std::span<const PropertyWrite> writes);

    // --- relationships --------------------------------------------------------
    /// Creates or replaces a relationship from ADT JSON ($targetId,
    /// $relationshipName, properties). Self-loops, unknown targets, a target
    /// whose model does not satisfy the Relationship's `target`, and bad
    /// properties are refused, as is a relationship nested deeper than
    /// max_json_depth (ValidationError InvalidRelationship). Returns the
    /// stored relationship.
    nlohmann::json upsert_relationship(std::string_view source_id, std::string_view relationship_id,
                                       const nlohmann::json& relationship, const WriteCondition& condition = {});
    void update_relationship(std::string_view source_id, std::string_view relationship_id,
                             const nlohmann::json& patch, const std::optional<std::string>& if_match = std::nullopt);
    void delete_relationship(std::string_view source_id, std::string_view relationship_id,
                             const std::optional<std::string>& if_match = std::nullopt);

    // --- bulk loading ---------------------------------------------------------
    /// Import's create: a restore of recorded state. Creates (never replaces) a
    /// twin exactly as upsert_twin(twin_id, twin, {.if_none_match = true})
    /// does — same validation, errors, event — except that the times the
    /// graph records on a write are taken from the document when it carries
    /// them: `$metadata.$lastUpdateTime`, each set property's
    /// `$metadata.<p>.lastUpdateTime`, and the same inside components (each
    /// must then be an RFC 3339 date-time, else ValidationError). An absent
    /// one gets the clock's time, as upsert_twin would. The etag is always
    /// new, and the event's time is the clock's. So a twin as get_twin
    /// returns it is restored exactly, apart from its $etag.
    void restore_twin(std::string_view twin_id, const nlohmann::json& twin);
    /// The bulk-load fast path of NDJSON import: creates (never replaces) a
    /// twin whose only members are its model, top-level number and string properties
    /// and their recorded times, exactly as restore_twin(id, {"$dtId",
    /// "$metadata": {"$model", "$lastUpdateTime"?, "<p>": {"lastUpdateTime"?,
    /// "sourceTime"?}...}, properties...}) would, but without materialising
    /// nlohmann::json (events are built only when there are listeners).
    /// `last_update` is the twin's recorded $lastUpdateTime, `times` the
    /// recorded entries of its properties. Returns false, having changed
    /// nothing, whenever the general path is needed to report or decide
    /// something (the id exists, unknown/decommissioned model, a model with
    /// components, an undeclared, repeated or invalid property, times of a
    /// property that is not set or named twice): the caller then calls
    /// restore_twin for the exact error.
    bool try_create_twin(std::string_view twin_id, std::string_view model_id, std::span<const ScalarValue> properties,
                         std::optional<Timestamp> last_update = std::nullopt, std::span<const PropertyTimes> times = {});
    /// The same for a relationship: as upsert_relationship(source_id,
    /// relationship_id, {"$targetId", "$relationshipName", properties...},
    /// {.if_none_match = true}); false (nothing changed) when the general path
    /// is needed. Needs 2 id lookups and 1 uniqueness probe.
    bool try_create_relationship(std::string_view source_id, std::string_view relationship_id, std::string_view target_id,
                                 std::string_view name, std::span<const ScalarValue> properties);

    // --- atomic groups ----------------------------------------------------------
    /// Runs `body` on this graph as one atomic change: if it throws, every
    /// change it made is undone (the exception propagates) and no event is
    /// emitted; otherwise the whole change is one batch for the journal, and
    /// the events it caused are emitted after it returns.
    /// Used by bulk import. Precondition: not called from a listener.
    void atomically(const std::function<void(TwinGraph&)>& body);
    /// As atomically(body), and every change event the batch emits carries
    /// `cause` in ChangeEvent::cause (so journals, routes and history see
    /// why it was made; a live rule's firing passes "rule:<name>"). Changes
    /// made outside such a call have an empty cause. Called inside another
    /// atomically() group, the changes `body` makes join that group's batch
    /// and carry `cause`; the outer cause applies again after it returns.
    /// Throws what body throws (nothing is changed then).
    /// Precondition: not called from a listener.
    void atomically(std::string_view cause, const std::function<void(TwinGraph&)>& body);

    // --- replay (the durable store's seam) ----------------------------------------
    /// Applies a batch that a journal recorded (CommitBatch + BatchOutcome)
    /// exactly as it was committed: same twins, relationships and models,
    /// same $etag values, $lastUpdateTime and property times, relationship
    /// update times, model upload times and decommissions, same etag counter,
    /// and the change-event sequence continuing from the batch's last event.
    /// Events are applied in order (models at their events_before), then every
    /// touched twin and relationship is set to its recorded outcome. The
    /// journal is not called, no listener hears of it, and await_durable is
    /// not called. All or nothing. Throws GraphError (code "ReplayMismatch")
    /// when the batch does not follow on from this graph (its first sequence
    /// number is not the next one) or does not apply (a recorded document the
    /// models refuse, a delete of something absent): the journal is not this
    /// graph's. Precondition: batch.outcome != nullptr; not from a listener.
    void replay(const RecordedBatch& batch);

    // --- reading ----------------------------------------------------------------
    /// A consistent view of the graph now; O(number of tables and columns),
    /// independent of the number of twins.
    [[nodiscard]] Snapshot snapshot() const;

    // --- listeners --------------------------------------------------------------
    using ListenerId = std::uint64_t;
    ListenerId subscribe(ChangeListener listener);
    /// Called like a ChangeListener (after the commit, on the writer's thread,
    /// must not modify the graph, an exception it throws is swallowed) for each
    /// committed model change (add_models, decommission_model, delete_model),
    /// in batch order with the change events (ModelChange::events_before).
    using ModelListener = std::function<void(const ModelChange&)>;
    ListenerId subscribe_models(ModelListener listener);
    /// Called once per committed batch that emitted change events, with the
    /// batch's events (in order, with their sequence numbers) and a snapshot
    /// of the graph exactly as the batch left it (before any later batch).
    /// Unlike a ChangeListener it runs on the writer's thread AFTER the
    /// graph's mutex is released, when the outermost mutation has committed
    /// (before await_durable, before the mutation returns): it may block (a
    /// bounded queue's back-pressure then slows the writer) and another
    /// thread may write the graph meanwhile. With several writer threads,
    /// batches may reach it out of sequence order (their sequence numbers
    /// tell the order). It must not write the graph from the calling thread
    /// itself (a write from it is a new mutation of its own; allowed, but it
    /// re-enters the batch listeners). An exception it throws is swallowed.
    /// This is the seam of the live rules engine (models/rules/live_rules.hpp).
    using BatchListener = std::function<void(std::span<const ChangeEvent> events, const Snapshot& after)>;
    ListenerId subscribe_batches(BatchListener listener);
    /// Removes a listener of any kind.
    void unsubscribe(ListenerId id);

    // Convenience reads on the live graph (each takes the writer mutex).
    [[nodiscard]] nlohmann::json get_twin(std::string_view twin_id) const;
    [[nodiscard]] nlohmann::json get_relationship(std::string_view source_id, std::string_view relationship_id) const;
    [[nodiscard]] std::size_t twin_count() const;
    /// As Snapshot::numeric_value on the graph now (same preconditions).
    [[nodiscard]] std::optional<double> numeric_value(TwinIndex twin, std::uint32_t column) const;
    /// The index of a twin, or nullopt.
    [[nodiscard]] std::optional<TwinIndex> find(std::string_view twin_id) const;
    [[nodiscard]] std::size_t relationship_count() const;
    /// Counters, including the bytes copy-on-write has copied so far.
    [[nodiscard]] GraphStats stats() const;

private:
    friend struct detail::BulkLoader;
    struct Impl;
    explicit TwinGraph(std::unique_ptr<Impl> impl) noexcept;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::graph
