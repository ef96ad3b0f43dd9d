// The durable store's seam into the graph: the outcome of a batch being
// committed (CommitBatch::outcome) and TwinGraph::replay, which applies a
// recorded batch exactly as it was committed. Runs with the graph's mutex held.
#include <charconv>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "twinsim/graph/detail/graph_writer.hpp"
#include "twinsim/graph/detail/model_catalogue.hpp"
#include "twinsim/graph/detail/twin_documents.hpp"
#include "twinsim/graph/detail/twin_json.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

[[noreturn]] void mismatch(const std::string& why) { throw GraphError("ReplayMismatch", "cannot replay the batch: " + why); }

// W/"<16 hex digits>" -> the counter value.
std::uint64_t parse_etag(const json& doc, const std::string& ctx) {
    const auto it = doc.find("$etag");
    if (it == doc.end() || !it->is_string()) mismatch(ctx + " has no $etag");
    const std::string& s = it->get_ref<const std::string&>();
    std::uint64_t value = 0;
    if (s.size() != 20 || s.compare(0, 3, "W/\"") != 0 || s.back() != '"') mismatch(ctx + ": malformed $etag " + s);
    const auto [end, ec] = std::from_chars(s.data() + 3, s.data() + 19, value, 16);
    if (ec != std::errc() || end != s.data() + 19) mismatch(ctx + ": malformed $etag " + s);
    return value;
}

// Runs `apply`; when it throws, `restore` puts the graph back as it was and
// the error is refused as a ReplayMismatch (one that already is one passes
// through; what is not a twinsim::Error, such as bad_alloc, propagates as it is).
template <class Apply, class Restore>
void refuse_on_error(Apply&& apply, Restore&& restore) {
    try {
        apply();
    } catch (const GraphError& e) {
        restore();
        if (e.code() == "ReplayMismatch") throw;
        mismatch(std::string("a recorded change does not apply: ") + e.what());
    } catch (const Error& e) {
        restore();
        mismatch(std::string("a recorded change does not apply: ") + e.what());
    } catch (...) {
        restore();
        throw;
    }
}

}  // namespace

BatchOutcome TwinGraph::Impl::outcome_of(std::span<const ChangeEvent> events) const {
    BatchOutcome out;
    std::unordered_set<std::string> twins_seen;
    std::unordered_set<std::string> rels_seen;
    for (const ChangeEvent& e : events) {
        if (e.relationship_id.empty()) {
            if (!twins_seen.insert(e.twin_id).second) continue;
            const auto t = state.find_twin(e.twin_id);
            out.twins.push_back({e.twin_id, t ? twin_json(state, *t) : json()});
        } else {
            std::string key = e.twin_id;
            key += '\0';
            key += e.relationship_id;
            if (!rels_seen.insert(std::move(key)).second) continue;
            BatchOutcome::Relationship rel{e.twin_id, e.relationship_id, json(), Timestamp{}};
            if (const auto source = state.find_twin(e.twin_id)) {
                if (const auto r = state.find_rel(*source, e.relationship_id)) {
                    rel.document = relationship_json(state, *r);
                    rel.last_update = Timestamp{state.rels[*r].last_update};
                }
            }
            out.relationships.push_back(std::move(rel));
        }
    }
    out.etag_counter = state.etag_counter;
    return out;
}

void TwinGraph::Impl::restore_exact_twin(const std::string& id, const json& doc) {
    const std::string ctx = twin_ctx(id);
    if (!doc.is_object()) mismatch(ctx + ": the recorded twin is not an object");
    const std::uint64_t etag = parse_etag(doc, ctx);
    ParsedTwin p = parse_twin(state, id, doc, /*restore=*/true);
    if (p.recorded_update == no_time) mismatch(ctx + ": the recorded twin has no $lastUpdateTime");
    for (PropValue& pv : p.props) {
        if (pv.recorded_update == no_time) mismatch(ctx + ": property " + pv.name + " has no recorded lastUpdateTime");
        pv.last_update = pv.recorded_update;
    }
    json comps = std::move(p.components);
    finalize_components(comps, nullptr, p.recorded_update, [](const std::string&, const std::string&) { return true; });
    const auto existing = state.find_twin(id);
    const TwinIndex t = existing ? *existing : alloc_twin(id);
    write_twin(t, p, p.recorded_update, std::move(comps));
    state.twin_meta.mut(t, copies).etag = etag;
}

void TwinGraph::Impl::restore_exact_relationship(const std::string& source_id, const std::string& rel_id,
                                                 const json& doc, std::int64_t last_update) {
    const std::string ctx = rel_ctx(source_id, rel_id);
    if (!doc.is_object()) mismatch(ctx + ": the recorded relationship is not an object");
    const std::uint64_t etag = parse_etag(doc, ctx);
    const auto source = state.find_twin(source_id);
    if (!source) mismatch(ctx + ": the source twin does not exist");
    ParsedRel p = parse_relationship(state, *source, source_id, rel_id, doc);
    const auto existing = state.find_rel(*source, rel_id);
    const RelationshipIndex r = write_rel(existing ? *existing : no_index, *source, rel_id, p, last_update);
    state.rels.mut(r, copies).etag = etag;
}

void TwinGraph::Impl::replay_numeric(const NumericBatch& nb) {
    if (nb.etag_before != state.etag_counter)
        mismatch("its writes follow etag " + std::to_string(nb.etag_before) + " but the graph's last one is " +
                 std::to_string(state.etag_counter));
    const auto name_of = [&](std::uint32_t k) -> const std::string& {
        if (k >= nb.names.size()) mismatch("a write names string " + std::to_string(k) + " of " + std::to_string(nb.names.size()));
        return nb.names[k];
    };
    std::vector<TwinIndex> twins(nb.twins.size());
    for (std::size_t k = 0; k < nb.twins.size(); ++k) {
        const NumericBatch::Twin& t = nb.twins[k];
        const auto found = state.find_twin(t.id);
        if (!found) mismatch(twin_ctx(t.id) + " is written but does not exist");
        const std::string& model = state.tables[state.twin_meta[*found].table].model_id;
        if (model != name_of(t.model))
            mismatch(twin_ctx(t.id) + " is written as a " + name_of(t.model) + " but is a " + model);
        twins[k] = *found;
    }
    // (table, property name index) -> column
    std::unordered_map<std::uint64_t, std::uint32_t> columns;
    std::vector<PropertyWrite> writes;
    std::size_t w = 0;
    for (const NumericBatch::Call& call : nb.calls) {
        if (call.writes > nb.writes.size() - w) mismatch("its calls hold more writes than it has");
        writes.clear();
        writes.reserve(call.writes);
        for (std::uint32_t k = 0; k < call.writes; ++k, ++w) {
            const NumericBatch::Write& r = nb.writes[w];
            if (r.twin >= twins.size()) mismatch("a write names twin " + std::to_string(r.twin) + " of " + std::to_string(twins.size()));
            const TwinIndex t = twins[r.twin];
            const std::uint32_t table = state.twin_meta[t].table;
            const std::uint64_t key = (std::uint64_t{table} << 32U) | r.property;
            auto it = columns.find(key);
            if (it == columns.end()) {
                const std::string& name = name_of(r.property);
                const dtdl::PropertySlot* slot = state.model_of(t).layout.find(name);
                if (slot == nullptr) mismatch(twin_ctx(nb.twins[r.twin].id) + " has no property column " + name);
                it = columns.emplace(key, slot->column).first;
            }
            const dtdl::ColumnType type = state.tables[table].columns[it->second].type;
            const bool kind_matches = (r.kind == NumericBatch::Kind::float64 && type == dtdl::ColumnType::float64) ||
                                      (r.kind == NumericBatch::Kind::int64 && type == dtdl::ColumnType::int64) ||
                                      (r.kind == NumericBatch::Kind::boolean && type == dtdl::ColumnType::boolean);
            if (!kind_matches) mismatch(twin_ctx(nb.twins[r.twin].id) + ": a write's value kind is not its column's type");
            writes.push_back({t, it->second, r.value, r.has_source_time ? std::optional<Timestamp>(Timestamp{r.source_time}) : std::nullopt});
        }
        check_property_writes(writes);
        apply_property_writes(writes, call.time, false);
    }
    if (w != nb.writes.size()) mismatch("it has writes that no call made");
}

void TwinGraph::Impl::replay(const RecordedBatch& batch) {
    if (batch.numeric != nullptr) {
        const std::size_t events = batch.numeric->event_count();
        if (events > 0 && batch.numeric->first_sequence != sequence + 1)
            mismatch("its first change is number " + std::to_string(batch.numeric->first_sequence) +
                     " but the graph's last one is " + std::to_string(sequence));
        // The writes record what they overwrite in an undo log rather than
        // the state being saved first: a saved copy would share every chunk,
        // so each chunk a batch of scattered writes touches would be copied.
        UndoLog log(state);
        UndoLog* const outer = std::exchange(undo, &log);
        refuse_on_error([&] { replay_numeric(*batch.numeric); },
                        [&] {
                            undo = outer;
                            log.roll_back(state, copies);
                        });
        undo = outer;
        sequence += events;
        return;
    }
    if (batch.outcome == nullptr) mismatch("no outcome was recorded");
    if (!batch.events.empty() && batch.events.front().sequence != sequence + 1)
        mismatch("its first change is number " + std::to_string(batch.events.front().sequence) +
                 " but the graph's last one is " + std::to_string(sequence));
    for (std::size_t k = 1; k < batch.events.size(); ++k)
        if (batch.events[k].sequence != batch.events[k - 1].sequence + 1)
            mismatch("its change numbers are not consecutive at change " + std::to_string(batch.events[k].sequence));
    GraphState saved = state;
    refuse_on_error([&] {
        std::size_t next_model = 0;
        auto models_up_to = [&](std::size_t events_done) {
            for (; next_model < batch.models.size() && batch.models[next_model].events_before <= events_done; ++next_model) {
                const ModelChange& m = batch.models[next_model];
                switch (m.kind) {
                case ModelChange::Kind::add: {
                    const Timestamp upload = m.upload_time;
                    detail::add_models(state, m.documents, parse_options(), [upload] { return upload; });
                    break;
                }
                case ModelChange::Kind::decommission:
                    for (const std::string& id : m.model_ids) detail::decommission_model(state, id);
                    break;
                case ModelChange::Kind::remove:
                    for (const std::string& id : m.model_ids) detail::delete_model(state, id, parse_options());
                    break;
                }
            }
        };
        for (std::size_t k = 0; k < batch.events.size(); ++k) {
            models_up_to(k);
            const ChangeEvent& e = batch.events[k];
            switch (e.type) {
            case ChangeType::twin_create: restore_exact_twin(e.twin_id, e.data); break;
            case ChangeType::twin_delete: {
                const auto t = state.find_twin(e.twin_id);
                if (!t) mismatch(twin_ctx(e.twin_id) + " is deleted but does not exist");
                if (!state.out[*t].empty() || !state.in[*t].empty())
                    mismatch(twin_ctx(e.twin_id) + " is deleted but still has relationships");
                remove_twin(*t);
                break;
            }
            case ChangeType::relationship_create: {
                const std::int64_t when = e.time.ns;
                restore_exact_relationship(e.twin_id, e.relationship_id, e.data, when);
                break;
            }
            case ChangeType::relationship_delete: {
                const auto source = state.find_twin(e.twin_id);
                const auto r = source ? state.find_rel(*source, e.relationship_id) : std::nullopt;
                if (!r) mismatch(rel_ctx(e.twin_id, e.relationship_id) + " is deleted but does not exist");
                remove_rel(*r);
                break;
            }
            case ChangeType::twin_update:
            case ChangeType::relationship_update:
                break;  // the outcome below carries the state the updates left
            }
        }
        models_up_to(batch.events.size());
        for (const BatchOutcome::Twin& t : batch.outcome->twins) {
            if (t.document.is_null()) {
                if (state.find_twin(t.id)) mismatch(twin_ctx(t.id) + " should be deleted by the batch but exists");
                continue;
            }
            restore_exact_twin(t.id, t.document);
        }
        for (const BatchOutcome::Relationship& r : batch.outcome->relationships) {
            if (r.document.is_null()) continue;
            restore_exact_relationship(r.source_id, r.relationship_id, r.document, r.last_update.ns);
        }
        state.etag_counter = batch.outcome->etag_counter;
    }, [&] { state = std::move(saved); });
    if (!batch.events.empty()) sequence = batch.events.back().sequence;
}

void TwinGraph::replay(const RecordedBatch& batch) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->replay(batch);
}

}  // namespace twinsim::graph
