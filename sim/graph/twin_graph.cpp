// TwinGraph's public methods (each takes the writer mutex), its change events
// and atomic groups. The operations themselves live in twin_writes.cpp,
// bulk_load.cpp and detail/ (see detail/graph_writer.hpp for the map).
#include "twinsim/graph/twin_graph.hpp"

#include <iterator>
#include <utility>

#include "twinsim/graph/detail/graph_writer.hpp"
#include "twinsim/graph/detail/model_catalogue.hpp"
#include "twinsim/graph/detail/twin_documents.hpp"
#include "twinsim/graph/detail/twin_json.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

void TwinGraph::Impl::flush_numeric() {
    if (!pending_numeric.writes.empty()) {
        std::vector<ChangeEvent> events = pending_numeric.events();  // numbered at commit
        pending.insert(pending.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
    }
    clear_numeric();
}

void TwinGraph::Impl::clear_numeric() noexcept {
    pending_numeric.clear();
    numeric_twins.clear();
    numeric_names.clear();
}

void TwinGraph::Impl::emit(ChangeType type, std::string twin_id, std::string rel_id, json data, Timestamp time) {
    flush_numeric();  // earlier numeric writes keep their place before this event
    ChangeEvent e;
    e.type = type;
    e.subject = twin_id;
    if (!rel_id.empty()) {
        e.subject += "/relationships/";
        e.subject += rel_id;
    }
    e.twin_id = std::move(twin_id);
    e.relationship_id = std::move(rel_id);
    e.time = time;
    e.data = std::move(data);
    e.cause = cause;
    pending.push_back(std::move(e));
}

void TwinGraph::Impl::record_model_change(ModelChange change) {
    if (!options.journal && model_listeners.empty()) return;
    flush_numeric();
    change.events_before = pending.size();
    pending_models.push_back(std::move(change));
}

void TwinGraph::Impl::commit(std::optional<GraphState>& saved) {
    // A batch of write_properties calls only goes to a numeric journal as
    // numbers; otherwise its writes become events like any other change.
    const bool numeric = options.journal && options.numeric_journal && pending.empty() && pending_models.empty() &&
                         !pending_numeric.writes.empty();
    if (!numeric) flush_numeric();
    if (pending.empty() && pending_models.empty() && !numeric) return;
    std::uint64_t next = sequence;
    for (ChangeEvent& e : pending) e.sequence = ++next;
    if (numeric) {
        pending_numeric.first_sequence = sequence + 1;
        next += pending_numeric.event_count();
    }
    if (options.journal) {
        visible = &*saved;  // reads (also from the hook) see the state before the batch
        try {
            CommitBatch batch{pending, pending_models};
            if (numeric) {
                batch.numeric = &pending_numeric;
                batch.outcome = [this] { return outcome_of(pending_numeric.events()); };
            } else {
                batch.outcome = [this] { return outcome_of(pending); };
            }
            options.journal(batch);
        } catch (...) {
            visible = nullptr;
            state = std::move(*saved);
            pending.clear();
            pending_models.clear();
            clear_numeric();
            throw;
        }
        visible = nullptr;
        await_pending = true;
    }
    sequence = next;
    if (numeric) {
        // Events only for whoever listens.
        if (!listeners.empty() || !batch_listeners.empty()) pending = pending_numeric.events();
        clear_numeric();
    }
    std::vector<ChangeEvent> events = std::move(pending);
    pending.clear();
    if (!batch_listeners.empty() && !events.empty()) {
        auto after = std::make_shared<GraphState>(readable());
        after->sequence = sequence;
        committed_batches.emplace_back(events, Snapshot(std::move(after)));
    }
    std::vector<ModelChange> models = std::move(pending_models);
    pending_models.clear();
    delivering = true;
    // The change is committed; a failing listener cannot undo it nor stop the
    // others from hearing of it. Model changes go out where the batch made them.
    std::size_t next_model = 0;
    const auto deliver_models = [&](std::size_t events_done) {
        for (; next_model < models.size() && models[next_model].events_before <= events_done; ++next_model)
            for (auto& [id, listener] : model_listeners) {
                try {
                    listener(models[next_model]);
                } catch (...) {
                }
            }
    };
    for (std::size_t k = 0; k < events.size(); ++k) {
        deliver_models(k);
        for (auto& [id, listener] : listeners) {
            try {
                listener(events[k]);
            } catch (...) {
            }
        }
    }
    deliver_models(events.size());
    delivering = false;
}

// ---------------------------------------------------------------------------

TwinGraph::TwinGraph(TwinGraphOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
TwinGraph::TwinGraph(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

std::unique_ptr<TwinGraph> TwinGraph::from_snapshot(const Snapshot& snapshot, TwinGraphOptions options) {
    // Copying the GraphState copies O(tables + columns) shared pointers: every
    // directory, chunk and index shard stays shared with the snapshot (and with
    // any other graph cloned from it), so the first write to each copies it.
    return std::unique_ptr<TwinGraph>(new TwinGraph(std::make_unique<Impl>(std::move(options), snapshot.state())));
}
TwinGraph::~TwinGraph() = default;

// Every mutation: take the mutex, refuse a call from a listener or the
// journal, run the operation as one batch (Impl::batch commits it).

std::vector<std::string> TwinGraph::add_models(std::span<const dtdl::Document> documents) {
    return impl_->mutate([&] {
        return impl_->batch(false, [&] {
            std::vector<std::string> added =
                detail::add_models(impl_->state, documents, impl_->parse_options(), [this] { return impl_->clock(); });
            if (!added.empty()) {
                ModelChange change;
                change.kind = ModelChange::Kind::add;
                change.upload_time = impl_->state.model_info(added.front())->upload_time;
                change.model_ids = added;
                change.documents.assign(documents.begin(), documents.end());
                impl_->record_model_change(std::move(change));
            }
            return added;
        });
    });
}

void TwinGraph::decommission_model(std::string_view model_id) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] {
            detail::decommission_model(impl_->state, model_id);
            ModelChange change;
            change.kind = ModelChange::Kind::decommission;
            change.model_ids.emplace_back(model_id);
            impl_->record_model_change(std::move(change));
        });
    });
}

void TwinGraph::delete_model(std::string_view model_id) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] {
            detail::delete_model(impl_->state, model_id, impl_->parse_options());
            ModelChange change;
            change.kind = ModelChange::Kind::remove;
            change.model_ids.emplace_back(model_id);
            impl_->record_model_change(std::move(change));
        });
    });
}

json TwinGraph::upsert_twin(std::string_view twin_id, const json& twin, const WriteCondition& condition) {
    return impl_->mutate([&] {
        return impl_->batch(false, [&] { return impl_->upsert_twin(twin_id, twin, condition); });
    });
}

void TwinGraph::update_twin(std::string_view twin_id, const json& patch, const std::optional<std::string>& if_match) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] { impl_->patch_twin(twin_id, patch, if_match); });
    });
}

void TwinGraph::delete_twin(std::string_view twin_id, const std::optional<std::string>& if_match, bool cascade) {
    return impl_->mutate([&] {
        // A cascade is several changes; make it one.
        impl_->batch(true, [&] { impl_->delete_twin(twin_id, if_match, cascade); });
    });
}

void TwinGraph::update_twins(std::span<const TwinPatch> patches) {
    return impl_->mutate([&] {
        impl_->batch_logged([&] {
            for (const TwinPatch& p : patches) impl_->patch_twin(p.twin_id, p.patch, p.if_match);
        });
    });
}

void TwinGraph::write_properties(std::span<const PropertyWrite> writes) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] { impl_->write_properties(writes); });
    });
}

json TwinGraph::upsert_relationship(std::string_view source_id, std::string_view relationship_id, const json& relationship,
                                    const WriteCondition& condition) {
    return impl_->mutate([&] {
        return impl_->batch(false,
                            [&] { return impl_->upsert_relationship(source_id, relationship_id, relationship, condition); });
    });
}

void TwinGraph::update_relationship(std::string_view source_id, std::string_view relationship_id, const json& patch,
                                    const std::optional<std::string>& if_match) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] { impl_->update_relationship(source_id, relationship_id, patch, if_match); });
    });
}

void TwinGraph::delete_relationship(std::string_view source_id, std::string_view relationship_id,
                                    const std::optional<std::string>& if_match) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] { impl_->delete_relationship(source_id, relationship_id, if_match); });
    });
}

void TwinGraph::restore_twin(std::string_view twin_id, const json& twin) {
    return impl_->mutate([&] {
        impl_->batch(false, [&] {
            (void)impl_->upsert_twin(twin_id, twin, WriteCondition{std::nullopt, true}, /*restore=*/true);
        });
    });
}

bool TwinGraph::try_create_twin(std::string_view twin_id, std::string_view model_id,
                                std::span<const ScalarValue> properties, std::optional<Timestamp> last_update,
                                std::span<const PropertyTimes> times) {
    return impl_->mutate([&] {
        return impl_->batch(false,
                            [&] { return impl_->try_create_twin(twin_id, model_id, properties, last_update, times); });
    });
}

bool TwinGraph::try_create_relationship(std::string_view source_id, std::string_view relationship_id,
                                        std::string_view target_id, std::string_view name,
                                        std::span<const ScalarValue> properties) {
    return impl_->mutate([&] {
        return impl_->batch(false, [&] {
            return impl_->try_create_relationship(source_id, relationship_id, target_id, name, properties);
        });
    });
}

void TwinGraph::atomically(const std::function<void(TwinGraph&)>& body) {
    return impl_->mutate([&] {
        impl_->batch(true, [&] { body(*this); });
    });
}

void TwinGraph::atomically(std::string_view cause, const std::function<void(TwinGraph&)>& body) {
    return impl_->mutate([&] {
        std::string outer = std::exchange(impl_->cause, std::string(cause));
        try {
            impl_->batch(true, [&] { body(*this); });
        } catch (...) {
            impl_->cause = std::move(outer);
            throw;
        }
        impl_->cause = std::move(outer);
    });
}

Snapshot TwinGraph::snapshot() const {
    std::lock_guard lock(impl_->mutex);
    auto state = std::make_shared<GraphState>(impl_->readable());
    state->sequence = impl_->sequence;
    return Snapshot(std::move(state));
}

TwinGraph::ListenerId TwinGraph::subscribe(ChangeListener listener) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    const ListenerId id = impl_->next_listener++;
    impl_->listeners.emplace(id, std::move(listener));
    return id;
}

TwinGraph::ListenerId TwinGraph::subscribe_batches(BatchListener listener) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    const ListenerId id = impl_->next_listener++;
    impl_->batch_listeners.emplace(id, std::move(listener));
    return id;
}

TwinGraph::ListenerId TwinGraph::subscribe_models(ModelListener listener) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    const ListenerId id = impl_->next_listener++;
    impl_->model_listeners.emplace(id, std::move(listener));
    return id;
}

void TwinGraph::unsubscribe(ListenerId id) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->listeners.erase(id);
    impl_->model_listeners.erase(id);
    impl_->batch_listeners.erase(id);
}

// Reads show the committed state: during the journal hook, the state before
// the batch being committed.

json TwinGraph::get_twin(std::string_view twin_id) const {
    std::lock_guard lock(impl_->mutex);
    const GraphState& s = impl_->readable();
    const auto t = s.find_twin(twin_id);
    if (!t) throw NotFoundError("DigitalTwinNotFound", twin_ctx(twin_id) + " does not exist");
    return twin_json(s, *t);
}

json TwinGraph::get_relationship(std::string_view source_id, std::string_view relationship_id) const {
    std::lock_guard lock(impl_->mutex);
    const GraphState& s = impl_->readable();
    const auto source = s.find_twin(source_id);
    if (!source) throw NotFoundError("DigitalTwinNotFound", twin_ctx(source_id) + " does not exist");
    const auto r = s.find_rel(*source, relationship_id);
    if (!r) throw NotFoundError("RelationshipNotFound", rel_ctx(source_id, relationship_id) + " does not exist");
    return relationship_json(s, *r);
}

std::optional<double> TwinGraph::numeric_value(TwinIndex twin, std::uint32_t column) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->readable().numeric_value(twin, column);
}

std::optional<TwinIndex> TwinGraph::find(std::string_view twin_id) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->readable().find_twin(twin_id);
}

std::size_t TwinGraph::twin_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->readable().twin_count;
}

std::size_t TwinGraph::relationship_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->readable().relationship_count;
}

GraphStats TwinGraph::stats() const {
    std::lock_guard lock(impl_->mutex);
    const GraphState& state = impl_->readable();
    GraphStats s;
    s.twins = state.twin_count;
    s.relationships = state.relationship_count;
    s.models = state.model_infos->size();
    s.bytes_copied = impl_->copies.bytes;
    s.chunks_copied = impl_->copies.chunks;
    s.directories_copied = impl_->copies.directories;
    s.events_emitted = impl_->sequence;
    return s;
}

}  // namespace twinsim::graph
