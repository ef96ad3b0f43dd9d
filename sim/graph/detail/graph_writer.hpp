#pragma once
// TwinGraph::Impl, the writer behind TwinGraph (internal).
//
// Its parts live in files named for them:
//   twin_graph.cpp        the public methods (locking), events and atomic groups
//   twin_writes.cpp       create/replace/patch/delete of twins and relationships,
//                         write_properties: ADT semantics over checked documents
//   bulk_load.cpp         import's fast paths (try_create_twin, try_create_relationship)
//   fast_patch.cpp        update_twin's fast path for plain property values
//   detail/undo_log.*     undoing a failed update_twins batch without saving the state first
//   detail/twin_documents.*   parsing and checking documents against the models
//   detail/graph_storage.*    placing checked values into the columnar state
//   detail/model_catalogue.*  adding, decommissioning and deleting models
// Every method here runs with `mutex` held.

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/detail/graph_storage.hpp"
#include "twinsim/graph/detail/undo_log.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph {

struct TwinGraph::Impl : detail::GraphStorage {
    explicit Impl(TwinGraphOptions o) : options(std::move(o)) { state.models = dtdl::ModelSet::from_interfaces({}); }
    /// A graph whose state is `base` (every chunk shared with it; see from_snapshot).
    Impl(TwinGraphOptions o, const detail::GraphState& base)
        : GraphStorage{base, {}}, options(std::move(o)), sequence(base.sequence) {}

    TwinGraphOptions options;
    mutable std::recursive_mutex mutex;
    std::map<ListenerId, ChangeListener> listeners;
    std::map<ListenerId, TwinGraph::ModelListener> model_listeners;
    std::map<ListenerId, TwinGraph::BatchListener> batch_listeners;
    /// Batches committed by the current outermost mutation, for the batch listeners.
    std::vector<std::pair<std::vector<ChangeEvent>, Snapshot>> committed_batches;
    ListenerId next_listener = 1;
    std::uint64_t sequence = 0;
    int atomic_depth = 0;
    std::vector<ChangeEvent> pending;        ///< the current batch's events
    std::vector<ModelChange> pending_models;  ///< the current batch's model changes (only with a journal or model listeners)
    /// The current batch's write_properties writes not yet turned into events
    /// (recorded when events are wanted; see flush_numeric and commit).
    NumericBatch pending_numeric;
    std::unordered_map<TwinIndex, std::uint32_t> numeric_twins;     ///< twin -> index in pending_numeric.twins
    std::unordered_map<std::uint64_t, std::uint32_t> numeric_names;  ///< (table, column or model) -> index in names
    bool delivering = false;                 ///< listeners are running
    int write_depth = 0;                     ///< nesting of public mutations on the writer's thread (mutate)
    bool await_pending = false;              ///< the journal accepted a batch of the current outermost mutation
    /// While the journal runs: the state before the batch, which reads and
    /// snapshot() show (nullptr otherwise).
    const detail::GraphState* visible = nullptr;
    struct ScratchCell {
        std::uint32_t column = 0;
        const ScalarValue* value = nullptr;  // into try_create_twin's `props`
        std::int64_t last_update = detail::no_time;  // recorded, else the clock's
        std::int64_t source_time = detail::no_time;
    };
    std::vector<ScratchCell> scratch_columns;  // try_create_twin's validated values, in the order of `props`

    [[nodiscard]] Timestamp clock() const { return options.clock ? options.clock() : utc_now(); }
    /// Events are built for listeners and for the journal.
    [[nodiscard]] bool want_events() const noexcept {
        return !listeners.empty() || !batch_listeners.empty() || options.journal;
    }
    /// The state readers see: the committed one (during the journal hook, the
    /// state before the batch being committed).
    [[nodiscard]] const detail::GraphState& readable() const noexcept { return visible ? *visible : state; }
    [[nodiscard]] dtdl::ParseOptions parse_options() const {
        dtdl::ParseOptions po;
        po.allow_undefined_extensions = options.allow_undefined_extensions;
        return po;
    }

    /// Throws twinsim::UsageError from a listener or the journal hook (which
    /// may read the graph but not change it).
    void guard() const {
        if (delivering)
            throw UsageError("a change listener must not modify the graph it is notified by, nor subscribe or "
                             "unsubscribe listeners (it may read it; make the change after the mutation that "
                             "notified it returns)");
        if (visible)
            throw UsageError("the graph's journal hook must not modify the graph (it may read it; the batch it "
                             "records is not committed yet)");
    }

    /// Runs one public mutation `f`: takes the mutex, refuses a call from a
    /// listener or the journal, and, once the outermost mutation on this
    /// thread has committed a journaled batch and released the mutex, calls
    /// options.await_durable (TwinGraphOptions has the contract).
    template <class F>
    auto mutate(F&& f) {
        using Result = std::invoke_result_t<F&>;
        if constexpr (std::is_void_v<Result>) {
            mutate([&] {
                f();
                return true;
            });
        } else {
            std::unique_lock lock(mutex);
            guard();
            if (write_depth > 0) return f();  // nested (inside atomically): joins the outer call
            ++write_depth;
            await_pending = false;
            std::optional<Result> result;
            try {
                result.emplace(f());
            } catch (...) {
                --write_depth;
                await_pending = false;
                throw;
            }
            --write_depth;
            const bool await = await_pending && static_cast<bool>(options.await_durable);
            await_pending = false;
            std::vector<std::pair<std::vector<ChangeEvent>, Snapshot>> batches = std::move(committed_batches);
            committed_batches.clear();
            std::vector<TwinGraph::BatchListener> to_call;
            if (!batches.empty())
                for (const auto& [id, listener] : batch_listeners) to_call.push_back(listener);
            lock.unlock();
            for (const auto& [events, after] : batches)
                for (const TwinGraph::BatchListener& listener : to_call) {
                    try {
                        listener(events, after);
                    } catch (...) {
                    }
                }
            if (await) options.await_durable();
            return std::move(*result);
        }
    }

    // --- events, batches and commits (twin_graph.cpp) ------------------------------
    /// The outcome of the batch being committed (CommitBatch::outcome): reads
    /// the writer's state, which holds the batch.
    [[nodiscard]] BatchOutcome outcome_of(std::span<const ChangeEvent> events) const;
    /// TwinGraph::replay, with the mutex held.
    void replay(const RecordedBatch& batch);
    /// Sets twin `id` to the recorded document `doc` exactly ($etag and times).
    void restore_exact_twin(const std::string& id, const nlohmann::json& doc);
    /// Sets a relationship to the recorded document `doc` exactly.
    void restore_exact_relationship(const std::string& source_id, const std::string& rel_id, const nlohmann::json& doc,
                                    std::int64_t last_update);
    /// ChangeEvent::cause of the events emitted now (TwinGraph::atomically(cause, body)).
    std::string cause;
    /// Turns the recorded numeric writes into events appended to `pending`
    /// (they keep their place in the batch: called before any other event
    /// or model change is buffered, and at commit).
    void flush_numeric();
    /// Drops the recorded numeric writes (a batch rolled back or committed).
    void clear_numeric() noexcept;
    /// Buffers a change event of the current batch.
    void emit(ChangeType type, std::string twin_id, std::string rel_id, nlohmann::json data, Timestamp time);
    /// Records a model change of the current batch for the journal (nothing without one).
    void record_model_change(ModelChange change);

    /// Runs `body` as one batch and returns what it returns. Outside a batch
    /// it opens one: if `body` throws, the state is restored (when it was
    /// saved) and the buffered events dropped; otherwise the batch is
    /// committed (commit()). Inside a batch it just runs `body`, which joins
    /// it. `group`: `body` may throw after changing the state (atomically,
    /// update_twins, cascades), so the state is saved first; single
    /// operations check everything before their first change and need no
    /// saved state unless a journal may roll them back.
    template <class Body>
    auto batch(bool group, Body&& body) {
        using Result = std::invoke_result_t<Body&>;
        if constexpr (std::is_void_v<Result>) {
            batch(group, [&] {
                body();
                return true;
            });
        } else {
            if (atomic_depth > 0) return body();
            std::optional<detail::GraphState> saved;
            if (group || options.journal) saved.emplace(state);  // O(tables + columns): shares every chunk
            ++atomic_depth;
            std::optional<Result> result;
            try {
                result.emplace(body());
            } catch (...) {
                --atomic_depth;
                if (saved) state = std::move(*saved);
                pending.clear();
                pending_models.clear();
                clear_numeric();
                throw;
            }
            --atomic_depth;
            commit(saved);
            return std::move(*result);
        }
    }

    /// As batch(true, body) for a group whose operations record what they
    /// overwrite in an undo log (`undo`) instead of the state being saved
    /// first: a fast operation writes chunks in place rather than copying
    /// those shared with the saved state. An operation that does not record
    /// its changes calls undo->checkpoint(state) first. With a journal (which
    /// needs the state before the batch for its readers) or inside another
    /// batch, it is batch(true, body).
    template <class Body>
    void batch_logged(Body&& body) {
        if (atomic_depth > 0 || options.journal) {
            batch(true, body);
            return;
        }
        detail::UndoLog log(state);
        undo = &log;
        ++atomic_depth;
        try {
            body();
        } catch (...) {
            --atomic_depth;
            undo = nullptr;
            log.roll_back(state, copies);
            pending.clear();
            pending_models.clear();
            clear_numeric();
            throw;
        }
        --atomic_depth;
        undo = nullptr;
        std::optional<detail::GraphState> no_saved_state;  // commit() needs it only with a journal
        commit(no_saved_state);
    }
    /// The undo log of the current batch_logged group, or nullptr.
    detail::UndoLog* undo = nullptr;

    /// Commits the current batch: numbers its events, calls the journal
    /// (which sees `saved` through readable(); on a throw the state is
    /// restored from `saved`, nothing is delivered and the exception
    /// propagates), then delivers the events to the listeners.
    /// Precondition: `saved` holds the state before the batch when a journal is set.
    void commit(std::optional<detail::GraphState>& saved);

    // --- twins and relationships (twin_writes.cpp) -------------------------------
    /// Throws NotFoundError (DigitalTwinNotFound).
    TwinIndex require_twin(std::string_view id) const;
    /// Throws NotFoundError (RelationshipNotFound).
    RelationshipIndex require_rel(TwinIndex source, std::string_view source_id, std::string_view rel_id) const;
    /// Throws ValidationError (ModelDecommissioned) when p's model is decommissioned.
    void check_model_usable(const detail::ParsedTwin& p, std::string_view id) const;
    /// `restore` (restore_twin, with cond.if_none_match): recorded times are
    /// kept, and no result is built (it returns null).
    nlohmann::json upsert_twin(std::string_view id, const nlohmann::json& doc, const WriteCondition& cond,
                               bool restore = false);
    /// The patch of a Twin.Update event for a replace: before -> after, member by member.
    static nlohmann::json twin_diff(nlohmann::json before, nlohmann::json after);
    void update_twin(std::string_view id, const nlohmann::json& patch, const std::optional<std::string>& if_match);
    /// update_twin's fast path (fast_patch.cpp): applies `patch` when it has
    /// the common shape and everything checks, else changes nothing and
    /// returns false. Records what it overwrites in `undo` when recording.
    bool try_fast_patch(std::string_view id, const nlohmann::json& patch, const std::optional<std::string>& if_match);
    /// A JSON Patch of one twin: the fast path, else the general one (after
    /// an undo-log checkpoint).
    void patch_twin(std::string_view id, const nlohmann::json& patch, const std::optional<std::string>& if_match) {
        if (try_fast_patch(id, patch, if_match)) return;
        if (undo != nullptr) undo->checkpoint(state);
        update_twin(id, patch, if_match);
    }
    void delete_twin(std::string_view id, const std::optional<std::string>& if_match, bool cascade);
    void delete_rel(RelationshipIndex r, Timestamp now);
    void write_properties(std::span<const PropertyWrite> writes);
    /// write_properties' checks: throws ValidationError naming the first bad write.
    void check_property_writes(std::span<const PropertyWrite> writes) const;
    /// Applies checked writes stamped `now`; `record`: into pending_numeric.
    void apply_property_writes(std::span<const PropertyWrite> writes, Timestamp now, bool record);
    /// The index in pending_numeric.names of the name of `column` of `table`
    /// (numeric_model_column: of the table's model id), added when new.
    static constexpr std::uint32_t numeric_model_column = 0xFFFFFFFFU;
    std::uint32_t numeric_name(std::uint32_t table, std::uint32_t column);
    /// TwinGraph::replay of a numeric batch (inside replay's rollback).
    void replay_numeric(const NumericBatch& batch);
    nlohmann::json upsert_relationship(std::string_view source_id, std::string_view rel_id, const nlohmann::json& doc,
                                       const WriteCondition& cond);
    void update_relationship(std::string_view source_id, std::string_view rel_id, const nlohmann::json& patch,
                             const std::optional<std::string>& if_match);
    void delete_relationship(std::string_view source_id, std::string_view rel_id,
                             const std::optional<std::string>& if_match);

    // --- bulk loading (bulk_load.cpp) ---------------------------------------------
    bool try_create_twin(std::string_view id, std::string_view model_id, std::span<const ScalarValue> props,
                         std::optional<Timestamp> last_update, std::span<const PropertyTimes> times) {
        return try_create_twin(id, detail::GraphState::twin_hash(id), model_id, props, last_update, times);
    }
    bool try_create_relationship(std::string_view source_id, std::string_view rel_id, std::string_view target_id,
                                 std::string_view name, std::span<const ScalarValue> props) {
        return try_create_relationship(source_id, detail::GraphState::twin_hash(source_id), rel_id,
                                       detail::GraphState::rel_id_hash(rel_id), target_id,
                                       detail::GraphState::twin_hash(target_id), name, props);
    }
    /// The same with the ids' hashes computed beforehand (detail::BulkLoader):
    /// `hash` == GraphState::twin_hash(id), `id_hash` == GraphState::rel_id_hash(rel_id).
    bool try_create_twin(std::string_view id, std::uint64_t hash, std::string_view model_id,
                         std::span<const ScalarValue> props, std::optional<Timestamp> last_update,
                         std::span<const PropertyTimes> times);
    bool try_create_relationship(std::string_view source_id, std::uint64_t source_hash, std::string_view rel_id,
                                 std::uint64_t id_hash, std::string_view target_id, std::uint64_t target_hash,
                                 std::string_view name, std::span<const ScalarValue> props);

    /// try_create_twin's memo of what it resolved for each model: whether
    /// the fast path may create twins of it (known, not decommissioned, no
    /// components), its table, and the content and column of each property
    /// name in the order the last twin of that model listed them. Bulk files
    /// list the same names in the same order line after line, so a twin's
    /// names cost a comparison each instead of two binary searches. Valid
    /// for the ModelSet and model list it holds (compared by pointer; both
    /// are replaced, never changed in place, so holding them rules out a
    /// reused address); the table is re-checked by model id on every use.
    struct ShapeProperty {
        std::string name;
        const dtdl::Content* content = nullptr;
        std::uint32_t column = 0;
    };
    struct ModelShape {
        bool known = false;   ///< resolved for the current ModelSet
        bool usable = false;  ///< not decommissioned, no components
        std::uint32_t table = no_index;
        std::vector<ShapeProperty> properties;
    };
    std::shared_ptr<const dtdl::ModelSet> shape_models;
    std::shared_ptr<const std::vector<ModelInfo>> shape_infos;
    std::vector<ModelShape> shapes;  ///< by InterfaceIndex of shape_models
    /// The interface a relationship's "target" names in state.models
    /// (ModelSet::find by DTMI), memoised for the few relationships a bulk
    /// file uses, for the ModelSet it holds.
    std::optional<dtdl::InterfaceIndex> relationship_target(const dtdl::Content& relationship);
    std::shared_ptr<const dtdl::ModelSet> target_models;
    std::vector<std::pair<const dtdl::Content*, std::optional<dtdl::InterfaceIndex>>> targets;
};

}  // namespace twinsim::graph
