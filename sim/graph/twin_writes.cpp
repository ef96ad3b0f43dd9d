// TwinGraph's twin and relationship operations: the ADT semantics of
// create/replace/patch/delete (conditions, validation, what is stamped, which
// event is emitted) over the checked documents of twin_documents and the
// storage of graph_storage. Runs with the graph's mutex held.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "twinsim/common/json_depth.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/detail/graph_writer.hpp"
#include "twinsim/graph/detail/json_patch.hpp"
#include "twinsim/graph/detail/messages.hpp"
#include "twinsim/graph/detail/twin_json.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

void check_etag(std::uint64_t etag, const std::optional<std::string>& if_match, const std::string& ctx) {
    if (if_match && *if_match != "*" && *if_match != format_etag(etag))
        throw ConflictError("PreconditionFailed",
                            ctx + ": etag " + *if_match + " does not match the current " + format_etag(etag));
}

}  // namespace

TwinIndex TwinGraph::Impl::require_twin(std::string_view id) const {
    auto t = state.find_twin(id);
    if (!t) throw NotFoundError("DigitalTwinNotFound", twin_ctx(id) + " does not exist");
    return *t;
}

RelationshipIndex TwinGraph::Impl::require_rel(TwinIndex source, std::string_view source_id,
                                                std::string_view rel_id) const {
    auto r = state.find_rel(source, rel_id);
    if (!r) throw NotFoundError("RelationshipNotFound", rel_ctx(source_id, rel_id) + " does not exist");
    return *r;
}

void TwinGraph::Impl::check_model_usable(const ParsedTwin& p, std::string_view id) const {
    const ModelInfo* info = state.model_info(p.model_id);
    if (info && info->decommissioned)
        throw ValidationError("ModelDecommissioned", twin_ctx(id) + ": model " + p.model_id +
                                                         " is decommissioned; no new twins of it can be created");
}

json TwinGraph::Impl::upsert_twin(std::string_view id, const json& doc, const WriteCondition& cond, bool restore) {
    if (const auto problem = id_problem("twin id", id)) throw ValidationError("ValidationFailed", *problem);
    if (json_deeper_than(doc)) throw ValidationError("ValidationFailed", twin_ctx(id) + ": the twin " + json_depth_reason());
    const auto existing = state.find_twin(id);
    if (existing && cond.if_none_match)
        throw ConflictError("DigitalTwinAlreadyExists", twin_ctx(id) + " already exists (create-only)");
    if (cond.if_match && !existing)
        throw ConflictError("PreconditionFailed", twin_ctx(id) + " does not exist, so If-Match " + *cond.if_match +
                                                      " cannot match");
    if (existing) check_etag(state.twin_meta[*existing].etag, cond.if_match, twin_ctx(id));
    ParsedTwin p = parse_twin(state, id, doc, restore);
    if (!existing || state.tables[state.twin_meta[*existing].table].model_id != p.model_id)
        check_model_usable(p, id);
    const Timestamp now = clock();
    for (PropValue& pv : p.props) pv.last_update = pv.recorded_update != no_time ? pv.recorded_update : now.ns;
    json comps = std::move(p.components);
    finalize_components(comps, nullptr, now.ns, [](const std::string&, const std::string&) { return true; });
    json before;
    if (existing && want_events()) before = twin_json(state, *existing, TwinView::patch);
    const TwinIndex t = existing ? *existing : alloc_twin(id);
    write_twin(t, p, p.recorded_update != no_time ? p.recorded_update : now.ns, std::move(comps));
    if (restore && !want_events()) return json();
    json result = twin_json(state, t);
    if (want_events()) {
        if (!existing) {
            emit(ChangeType::twin_create, std::string(id), {}, result, now);
        } else {
            json after = twin_json(state, t, TwinView::patch);
            json patch = twin_diff(before, after);
            emit(ChangeType::twin_update, std::string(id), {}, json{{"modelId", p.model_id}, {"patch", patch}}, now);
        }
    }
    return result;
}

json TwinGraph::Impl::twin_diff(json before, json after) {
    const json bm = before["$metadata"];
    const json am = after["$metadata"];
    before.erase("$metadata");
    after.erase("$metadata");
    json patch = diff_members(before, after);
    if (bm["$model"] != am["$model"])
        patch.push_back({{"op", "replace"}, {"path", "/$metadata/$model"}, {"value", am["$model"]}});
    for (auto it = am.begin(); it != am.end(); ++it) {
        if (it.key() == "$model") continue;
        const json bst = bm.contains(it.key()) ? bm[it.key()].value("sourceTime", json()) : json();
        const json ast = it->value("sourceTime", json());
        if (ast != bst && !ast.is_null())
            patch.push_back({{"op", "add"}, {"path", member_path(member_path("/$metadata", it.key()), "sourceTime")},
                             {"value", ast}});
    }
    return patch;
}

void TwinGraph::Impl::update_twin(std::string_view id, const json& patch,
                                  const std::optional<std::string>& if_match) {
    const TwinIndex t = require_twin(id);
    const std::string ctx = twin_ctx(id);
    check_etag(state.twin_meta[t].etag, if_match, ctx);
    std::vector<PatchOp> ops;
    json doc = twin_json(state, t, TwinView::patch);
    try {
        ops = parse_patch(patch);
    } catch (const PatchError& e) {
        throw ValidationError("JsonPatchInvalid", ctx + ": " + e.what());
    }
    // What a patch may address besides values: /$metadata/$model and sourceTimes.
    for (const PatchOp& op : ops) {
        const auto& tk = op.tokens;
        if (tk.empty()) throw ValidationError("JsonPatchInvalid", ctx + ": the whole twin cannot be patched");
        if (tk[0] == "$dtId" || tk[0] == "$etag")
            throw ValidationError("JsonPatchInvalid", ctx + ": " + op.path + " is set by the graph");
        for (std::size_t k = 0; k < tk.size(); ++k) {
            if (tk[k] != "$metadata") continue;
            const bool model = k == 0 && tk.size() == 2 && tk[1] == "$model" && op.kind != PatchOp::Kind::remove;
            const bool source_time = tk.size() == k + 3 && tk[k + 2] == "sourceTime";
            if (!model && !source_time)
                throw ValidationError("JsonPatchInvalid",
                                      ctx + ": " + op.path +
                                          ": only /$metadata/$model and /$metadata/<property>/sourceTime can be patched");
        }
    }
    // Metadata entries for every declared property, so a patch may set the
    // sourceTime of a property it sets in the same patch.
    {
        const dtdl::CompiledInterface& model = state.model_of(t);
        json& md = doc["$metadata"];
        for (const dtdl::PropertySlot& slot : model.layout.slots)
            if (!md.contains(slot.name)) md[slot.name] = json::object();
        for (const dtdl::Content* c : model.contents) {
            if (c->kind != dtdl::ContentKind::component || !doc.contains(c->name)) continue;
            json& cmd = doc[c->name]["$metadata"];
            if (!cmd.is_object()) cmd = json::object();
            for (const dtdl::PropertySlot& slot : state.models->get(c->component_interface).layout.slots)
                if (!cmd.contains(slot.name)) cmd[slot.name] = json::object();
        }
    }
    try {
        apply_patch(doc, ops);
    } catch (const PatchError& e) {
        throw ValidationError("JsonPatchInvalid", ctx + ": " + e.what());
    }
    // Drop the empty metadata entries again, and the stored sourceTime of a
    // property the patch removed (it goes with its value, as in ADT) unless
    // the patch itself wrote that sourceTime (then parse_twin reports it).
    const auto writes_source_time = [&](std::string_view component, std::string_view property) {
        return std::any_of(ops.begin(), ops.end(), [&](const PatchOp& op) {
            if (op.kind == PatchOp::Kind::remove) return false;
            const auto& tk = op.tokens;
            if (component.empty()) return tk.size() == 3 && tk[0] == "$metadata" && tk[1] == property;
            return tk.size() == 4 && tk[0] == component && tk[1] == "$metadata" && tk[2] == property;
        });
    };
    const auto tidy = [&](json& holder, std::string_view component) {
        auto md = holder.find("$metadata");
        if (md == holder.end() || !md->is_object()) return;
        for (auto it = md->begin(); it != md->end();) {
            const bool orphan = (it.key().empty() || it.key()[0] != '$') && !holder.contains(it.key());
            if ((it->is_object() && it->empty()) || (orphan && !writes_source_time(component, it.key()))) it = md->erase(it);
            else ++it;
        }
    };
    if (doc.is_object()) {
        tidy(doc, {});
        for (auto c = doc.begin(); c != doc.end(); ++c)
            if (c->is_object() && !c.key().empty() && c.key()[0] != '$') tidy(*c, c.key());
    }
    const std::string old_model = state.tables[state.twin_meta[t].table].model_id;
    ParsedTwin p;
    try {
        p = parse_twin(state, id, doc);
    } catch (const ValidationError& e) {
        if (doc.is_object() && doc["$metadata"].value("$model", std::string()) != old_model)
            throw ValidationError("ValidationFailed",
                                  std::string(e.what()) + " (the twin does not conform to the new model)");
        throw;
    }
    if (p.model_id != old_model) check_model_usable(p, id);
    const Timestamp now = clock();
    auto touched = [&](const std::string& top, const std::string& sub) {
        return std::any_of(ops.begin(), ops.end(), [&](const PatchOp& op) {
            if (op.tokens[0] != top) return false;
            return sub.empty() || op.tokens.size() == 1 || op.tokens[1] == sub;
        });
    };
    // Untouched properties keep their lastUpdateTime (also across a migration).
    const TwinMeta meta = state.twin_meta[t];
    const PropertyTable& old_table = state.tables[meta.table];
    const dtdl::CompiledInterface& old_if = state.models->at(old_table.interface);
    for (PropValue& pv : p.props) {
        pv.last_update = now.ns;
        if (touched(pv.name, {})) continue;
        const dtdl::PropertySlot* slot = old_if.layout.find(pv.name);
        if (!slot) continue;
        const Column& c = old_table.columns[slot->column];
        if (c.has(meta.row) && column_value(c, meta.row) == pv.value) pv.last_update = c.last_update[meta.row];
    }
    json comps = std::move(p.components);
    const JsonPtr old_comps = state.components[t];
    finalize_components(comps, old_comps.get(), now.ns, touched);
    write_twin(t, p, now.ns, std::move(comps));
    if (want_events()) emit(ChangeType::twin_update, std::string(id), {}, json{{"modelId", p.model_id}, {"patch", patch}}, now);
}

void TwinGraph::Impl::delete_twin(std::string_view id, const std::optional<std::string>& if_match, bool cascade) {
    const TwinIndex t = require_twin(id);
    check_etag(state.twin_meta[t].etag, if_match, twin_ctx(id));
    const std::size_t n_out = state.out[t].size();
    const std::size_t n_in = state.in[t].size();
    if ((n_out + n_in) > 0 && !cascade)
        throw ConflictError("RelationshipsNotDeleted",
                            twin_ctx(id) + " still has " + std::to_string(n_out) + " outgoing and " +
                                std::to_string(n_in) +
                                " incoming relationships; delete them first (or delete with cascade)");
    const Timestamp now = clock();
    if (cascade) {
        std::vector<RelationshipIndex> rels(state.out[t].begin(), state.out[t].end());
        rels.insert(rels.end(), state.in[t].begin(), state.in[t].end());
        for (RelationshipIndex r : rels) delete_rel(r, now);
    }
    json last;
    if (want_events()) last = twin_json(state, t);
    remove_twin(t);
    if (want_events()) emit(ChangeType::twin_delete, std::string(id), {}, std::move(last), now);
}

void TwinGraph::Impl::delete_rel(RelationshipIndex r, Timestamp now) {
    json last;
    std::string source_id;
    std::string rel_id;
    if (want_events()) {
        last = relationship_json(state, r);
        source_id = state.twin_ids[state.rels[r].source];
        rel_id = state.rel_ids[r];
    }
    remove_rel(r);
    if (want_events()) emit(ChangeType::relationship_delete, std::move(source_id), std::move(rel_id), std::move(last), now);
}

void TwinGraph::Impl::write_properties(std::span<const PropertyWrite> writes) {
    check_property_writes(writes);  // everything first, so the batch applies whole or not at all
    apply_property_writes(writes, clock(), want_events());
}

void TwinGraph::Impl::check_property_writes(std::span<const PropertyWrite> writes) const {
    for (std::size_t i = 0; i < writes.size(); ++i) {
        const PropertyWrite& w = writes[i];
        auto fail = [&](const std::string& why) {
            std::string msg = "write ";
            msg += std::to_string(i);
            msg += ": ";
            msg += why;
            throw ValidationError("ValidationFailed", msg);
        };
        if (!state.alive(w.twin)) fail("no twin has index " + std::to_string(w.twin));
        const dtdl::CompiledInterface& model = state.model_of(w.twin);
        if (w.column >= model.layout.slots.size())
            fail(twin_ctx(state.twin_ids[w.twin]) + ": column " + std::to_string(w.column) +
                 " is not a property column of " + model.definition->id);
        const dtdl::PropertySlot& slot = model.layout.slots[w.column];
        // Messages are built only on failure: this loop runs millions of times a second.
        auto where = [&] { return twin_ctx(state.twin_ids[w.twin]) + ": /" + slot.name; };
        const dtdl::SchemaKind kind = slot.property->schema->kind;
        if (!std::isfinite(w.value)) fail(where() + ": expected a finite number");
        switch (slot.type) {
        case dtdl::ColumnType::float64:
            if (kind == dtdl::SchemaKind::float_ && std::fabs(w.value) > 3.4028235e38)
                fail(where() + ": out of the float range");
            break;
        case dtdl::ColumnType::int64: {
            if (std::trunc(w.value) != w.value) fail(where() + ": expected an integral value for an integer property");
            if (kind == dtdl::SchemaKind::long_) {
                if (w.value < -9.2233720368547758e18 || w.value >= 9.2233720368547758e18) fail(where() + ": out of the long range");
            } else if (kind == dtdl::SchemaKind::enum_) {
                const auto errs = dtdl::validate_value(*slot.property->schema, json(static_cast<std::int64_t>(w.value)));
                if (!errs.empty()) fail(where() + ": " + errs.front().message);
            } else if (w.value < -2147483648.0 || w.value > 2147483647.0) {
                fail(where() + ": out of the 32-bit integer range");
            }
            break;
        }
        case dtdl::ColumnType::boolean:
            if (w.value != 0.0 && w.value != 1.0) fail(where() + ": a boolean property takes 0 or 1");
            break;
        default: fail(where() + ": not a numeric property (" + std::string(dtdl::to_string(slot.type)) + ")");
        }
    }
}

std::uint32_t TwinGraph::Impl::numeric_name(std::uint32_t table, std::uint32_t column) {
    // column 0xFFFFFFFF: the table's model id
    const std::uint64_t key = (std::uint64_t{table} << 32U) | column;
    auto [it, fresh] = numeric_names.try_emplace(key, static_cast<std::uint32_t>(pending_numeric.names.size()));
    if (fresh) {
        const PropertyTable& pt = state.tables[table];
        pending_numeric.names.push_back(column == numeric_model_column ? pt.model_id
                                                                       : state.models->at(pt.interface).layout.slots[column].name);
    }
    return it->second;
}

void TwinGraph::Impl::apply_property_writes(std::span<const PropertyWrite> writes, Timestamp now, bool record) {
    // With events wanted, the writes are recorded as numbers; their JSON
    // events are built from the record only when needed (flush_numeric).
    if (writes.empty()) return;
    NumericBatch& nb = pending_numeric;
    if (record) {
        if (nb.writes.empty()) nb.etag_before = state.etag_counter;
        nb.calls.push_back({now, static_cast<std::uint32_t>(writes.size()), cause});
        nb.writes.reserve(nb.writes.size() + writes.size());
    }
    const bool log = undo != nullptr && undo->recording();
    for (const PropertyWrite& w : writes) {
        if (log) {
            const TwinMeta& before = state.twin_meta[w.twin];
            undo->twin_meta(w.twin, before);
            undo->cell(before.table, w.column, before.row, state.tables[before.table].columns[w.column]);
        }
        TwinMeta& m = state.twin_meta.mut(w.twin, copies);
        m.etag = ++state.etag_counter;
        m.last_update = now.ns;
        Column& c = state.tables[m.table].columns[w.column];
        const bool was_set = c.has(m.row);
        NumericBatch::Write r;
        switch (c.type) {
        case dtdl::ColumnType::float64:
            c.f64.set(m.row, w.value, copies);
            r.kind = NumericBatch::Kind::float64;
            r.value = w.value;
            break;
        case dtdl::ColumnType::int64:
            c.i64.set(m.row, static_cast<std::int64_t>(w.value), copies);
            r.kind = NumericBatch::Kind::int64;
            r.value = static_cast<double>(static_cast<std::int64_t>(w.value));
            break;
        case dtdl::ColumnType::boolean:
            c.b.set(m.row, w.value != 0.0 ? 1 : 0, copies);
            r.kind = NumericBatch::Kind::boolean;
            r.value = w.value != 0.0 ? 1.0 : 0.0;
            break;
        default: break;
        }
        if (!was_set) c.present.mut(m.row >> 6, copies) |= std::uint64_t{1} << (m.row & 63);
        c.last_update.set(m.row, now.ns, copies);
        if (w.source_time) c.set_source_time(m.row, w.source_time->ns, copies);
        if (record) {
            auto [it, fresh] = numeric_twins.try_emplace(w.twin, static_cast<std::uint32_t>(nb.twins.size()));
            if (fresh)
                nb.twins.push_back({state.twin_ids[w.twin], numeric_name(m.table, numeric_model_column)});
            r.twin = it->second;
            r.property = numeric_name(m.table, w.column);
            r.replaced = was_set;
            r.has_source_time = w.source_time.has_value();
            r.source_time = w.source_time ? w.source_time->ns : 0;
            nb.writes.push_back(r);
        }
    }
}

json TwinGraph::Impl::upsert_relationship(std::string_view source_id, std::string_view rel_id, const json& doc,
                                          const WriteCondition& cond) {
    const TwinIndex source = require_twin(source_id);
    const std::string ctx = rel_ctx(source_id, rel_id);
    if (const auto problem = id_problem("relationship id", rel_id)) throw ValidationError("InvalidRelationship", *problem);
    if (json_deeper_than(doc)) throw ValidationError("InvalidRelationship", ctx + ": the relationship " + json_depth_reason());
    const auto existing = state.find_rel(source, rel_id);
    if (existing && cond.if_none_match)
        throw ConflictError("RelationshipAlreadyExists", ctx + " already exists (create-only)");
    if (cond.if_match && !existing)
        throw ConflictError("PreconditionFailed", ctx + " does not exist, so If-Match " + *cond.if_match + " cannot match");
    if (existing) check_etag(state.rels[*existing].etag, cond.if_match, ctx);
    ParsedRel p = parse_relationship(state, source, source_id, rel_id, doc);
    const Timestamp now = clock();
    json before;
    if (existing && want_events()) before = relationship_json(state, *existing);
    const RelationshipIndex r = write_rel(existing ? *existing : no_index, source, rel_id, p, now.ns);
    json result = relationship_json(state, r);
    if (want_events()) {
        if (!existing) {
            emit(ChangeType::relationship_create, std::string(source_id), std::string(rel_id), result, now);
        } else {
            before.erase("$etag");
            json after = result;
            after.erase("$etag");
            emit(ChangeType::relationship_update, std::string(source_id), std::string(rel_id),
                 json{{"modelId", state.tables[state.twin_meta[source].table].model_id},
                      {"patch", diff_members(before, after)}},
                 now);
        }
    }
    return result;
}

void TwinGraph::Impl::update_relationship(std::string_view source_id, std::string_view rel_id, const json& patch,
                                          const std::optional<std::string>& if_match) {
    const TwinIndex source = require_twin(source_id);
    const RelationshipIndex r = require_rel(source, source_id, rel_id);
    const std::string ctx = rel_ctx(source_id, rel_id);
    check_etag(state.rels[r].etag, if_match, ctx);
    json doc = relationship_json(state, r);
    doc.erase("$etag");
    try {
        const std::vector<PatchOp> ops = parse_patch(patch);
        for (const PatchOp& op : ops)
            if (op.tokens.empty() || (!op.tokens[0].empty() && op.tokens[0][0] == '$'))
                throw PatchError(op.path + ": only the relationship's properties can be patched");
        apply_patch(doc, ops);
    } catch (const PatchError& e) {
        throw ValidationError("JsonPatchInvalid", ctx + ": " + e.what());
    }
    ParsedRel p = parse_relationship(state, source, source_id, rel_id, doc);
    const Timestamp now = clock();
    write_rel(r, source, rel_id, p, now.ns);
    if (want_events())
        emit(ChangeType::relationship_update, std::string(source_id), std::string(rel_id),
             json{{"modelId", state.tables[state.twin_meta[source].table].model_id}, {"patch", patch}}, now);
}

void TwinGraph::Impl::delete_relationship(std::string_view source_id, std::string_view rel_id,
                                          const std::optional<std::string>& if_match) {
    const TwinIndex source = require_twin(source_id);
    const RelationshipIndex r = require_rel(source, source_id, rel_id);
    check_etag(state.rels[r].etag, if_match, rel_ctx(source_id, rel_id));
    delete_rel(r, clock());
}

}  // namespace twinsim::graph
