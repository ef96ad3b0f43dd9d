#include "twinsim/graph/snapshot.hpp"
#include "twinsim/graph/detail/messages.hpp"

#include <algorithm>

#include "twinsim/common/assert.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/detail/twin_json.hpp"
#include "twinsim/graph/errors.hpp"

namespace twinsim::graph {

using detail::GraphState;
using detail::in_quotes;
using nlohmann::json;

namespace {

std::shared_ptr<const GraphState> empty_state() {
    auto s = std::make_shared<GraphState>();
    s->models = dtdl::ModelSet::from_interfaces({});
    return s;
}

TwinIndex require_twin(const GraphState& s, std::string_view id, const char* code = "DigitalTwinNotFound") {
    auto t = s.find_twin(id);
    if (!t) throw NotFoundError(code, "twin " + in_quotes(id) + " does not exist");
    return *t;
}

}  // namespace

Snapshot::Snapshot() : state_(empty_state()) {}
Snapshot::Snapshot(std::shared_ptr<const GraphState> state) : state_(std::move(state)) {}

const std::shared_ptr<const dtdl::ModelSet>& Snapshot::models() const noexcept { return state_->models; }

std::vector<ModelInfo> Snapshot::list_models() const { return *state_->model_infos; }

ModelInfo Snapshot::get_model(std::string_view model_id) const {
    const ModelInfo* m = state_->model_info(model_id);
    if (!m) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
    return *m;
}

std::uint64_t Snapshot::version() const noexcept {
    // Every create bumps the etag counter once and adds one live object; every
    // other write bumps it; every delete removes one live object without a
    // bump. So 2 * etag_counter - live increases by 1 or 2 on every change.
    return 2 * state_->etag_counter - state_->twin_count - state_->relationship_count;
}

std::uint64_t Snapshot::event_sequence() const noexcept { return state_->sequence; }

std::size_t Snapshot::twin_count() const noexcept { return state_->twin_count; }
std::size_t Snapshot::twin_capacity() const noexcept { return state_->twin_meta.size(); }
bool Snapshot::contains(std::string_view twin_id) const { return state_->find_twin(twin_id).has_value(); }
std::optional<TwinIndex> Snapshot::find(std::string_view twin_id) const { return state_->find_twin(twin_id); }
bool Snapshot::alive(TwinIndex twin) const noexcept { return state_->alive(twin); }
const std::string& Snapshot::twin_id(TwinIndex twin) const { return state_->twin_ids[twin]; }

dtdl::InterfaceIndex Snapshot::twin_model(TwinIndex twin) const {
    return state_->tables[state_->twin_meta[twin].table].interface;
}

json Snapshot::get_twin(std::string_view twin_id) const { return detail::twin_json(*state_, require_twin(*state_, twin_id)); }

json Snapshot::get_twin(TwinIndex twin) const {
    if (!state_->alive(twin)) throw NotFoundError("DigitalTwinNotFound", "no twin has index " + std::to_string(twin));
    return detail::twin_json(*state_, twin);
}

std::string Snapshot::twin_etag(std::string_view twin_id) const {
    return detail::format_etag(state_->twin_meta[require_twin(*state_, twin_id)].etag);
}

std::optional<json> Snapshot::get_property(std::string_view twin_id, std::string_view property) const {
    const GraphState& s = *state_;
    const TwinIndex t = require_twin(s, twin_id);
    const dtdl::CompiledInterface& model = s.model_of(t);
    const auto slash = property.find('/');
    if (slash == std::string_view::npos) {
        const dtdl::PropertySlot* slot = model.layout.find(property);
        if (!slot)
            throw ValidationError("ValidationFailed", "twin " + in_quotes(twin_id) + ": /" + std::string(property) +
                                                         ": not a property of " + model.definition->id);
        const detail::TwinMeta& m = s.twin_meta[t];
        const detail::Column& c = s.tables[m.table].columns[slot->column];
        if (!c.has(m.row)) return std::nullopt;
        return detail::column_value(c, m.row);
    }
    const std::string component(property.substr(0, slash));
    const std::string name(property.substr(slash + 1));
    const dtdl::Content* content = model.find(component);
    if (!content || content->kind != dtdl::ContentKind::component ||
        !s.models->get(content->component_interface).layout.find(name))
        throw ValidationError("ValidationFailed", "twin " + in_quotes(twin_id) + ": /" + std::string(property) +
                                                     ": not a component property of " + model.definition->id);
    const detail::JsonPtr& comps = s.components[t];
    if (!comps) return std::nullopt;
    auto c = comps->find(component);
    if (c == comps->end()) return std::nullopt;
    auto v = c->find(name);
    if (v == c->end()) return std::nullopt;
    return *v;
}

std::optional<double> Snapshot::numeric_value(TwinIndex twin, std::uint32_t column) const {
    return state_->numeric_value(twin, column);
}

NumericColumn Snapshot::numeric_column(std::string_view model_id, std::string_view property, bool include_derived) const {
    const GraphState& s = *state_;
    const auto base = s.models->find(model_id);
    if (!base) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
    const dtdl::PropertySlot* slot = s.models->at(*base).layout.find(property);
    if (!slot)
        throw ValidationError("ValidationFailed",
                              std::string(model_id) + ": " + std::string(property) + " is not a property of the model");
    if (slot->type != dtdl::ColumnType::float64 && slot->type != dtdl::ColumnType::int64 &&
        slot->type != dtdl::ColumnType::boolean)
        throw ValidationError("ValidationFailed", std::string(model_id) + ": property " + std::string(property) +
                                                      " is not numeric (" + dtdl::to_string(slot->type) + ")");
    NumericColumn out;
    if (slot->property && slot->property->schema) out.unit = slot->property->annotations.unit;
    std::vector<std::pair<TwinIndex, double>> items;
    for (const detail::PropertyTable& table : s.tables) {
        if (table.interface == no_index || table.live == 0) continue;
        if (include_derived ? !s.models->is_a(table.interface, *base) : table.interface != *base) continue;
        const dtdl::PropertySlot* ts = s.models->at(table.interface).layout.find(property);
        // A derived interface inherits the property, and with it its column type.
        TWINSIM_ASSERT(ts != nullptr && ts->type == slot->type, "an extending interface lays out the inherited property alike");
        const detail::Column& c = table.columns[ts->column];
        for (std::uint32_t row = 0; row < table.rows; ++row) {
            if (!c.has(row)) continue;
            double v = 0;
            switch (c.type) {
            case dtdl::ColumnType::float64: v = c.f64[row]; break;
            case dtdl::ColumnType::int64: v = static_cast<double>(c.i64[row]); break;
            case dtdl::ColumnType::boolean: v = c.b[row] != 0 ? 1.0 : 0.0; break;
            default: TWINSIM_ASSERT(false, "numeric_column reads numeric columns only");
            }
            items.emplace_back(table.row_twin[row], v);
        }
    }
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out.twins.reserve(items.size());
    out.values.reserve(items.size());
    for (const auto& [t, v] : items) {
        out.twins.push_back(t);
        out.values.push_back(v);
    }
    return out;
}

std::vector<TwinIndex> Snapshot::twins() const {
    std::vector<TwinIndex> out;
    out.reserve(state_->twin_count);
    const auto n = static_cast<TwinIndex>(state_->twin_meta.size());
    for (TwinIndex t = 0; t < n; ++t)
        if (state_->alive(t)) out.push_back(t);
    return out;
}

std::size_t Snapshot::relationship_count() const noexcept { return state_->relationship_count; }
std::size_t Snapshot::relationship_capacity() const noexcept { return state_->rels.size(); }
bool Snapshot::relationship_alive(RelationshipIndex r) const noexcept { return state_->rel_alive(r); }

json Snapshot::get_relationship(std::string_view source_id, std::string_view relationship_id) const {
    const TwinIndex t = require_twin(*state_, source_id);
    auto r = state_->find_rel(t, relationship_id);
    if (!r)
        throw NotFoundError("RelationshipNotFound", "twin " + in_quotes(source_id) + " has no relationship " +
                                                         in_quotes(relationship_id));
    return detail::relationship_json(*state_, *r);
}

json Snapshot::get_relationship(RelationshipIndex r) const {
    if (!state_->rel_alive(r))
        throw NotFoundError("RelationshipNotFound", "no relationship has index " + std::to_string(r));
    return detail::relationship_json(*state_, r);
}

std::vector<json> Snapshot::list_relationships(std::string_view source_id, std::string_view relationship_name) const {
    const TwinIndex t = require_twin(*state_, source_id);
    std::vector<json> out;
    for (RelationshipIndex r : state_->out[t]) {
        if (!relationship_name.empty() && relationship_name != state_->names.get()[state_->rels[r].name]) continue;
        out.push_back(detail::relationship_json(*state_, r));
    }
    return out;
}

std::vector<json> Snapshot::list_incoming_relationships(std::string_view target_id) const {
    const TwinIndex t = require_twin(*state_, target_id);
    std::vector<json> out;
    for (RelationshipIndex r : state_->in[t]) {
        const detail::RelRecord& rec = state_->rels[r];
        const std::string& source = state_->twin_ids[rec.source];
        json item = json::object();
        item["$relationshipId"] = state_->rel_ids[r];
        item["$sourceId"] = source;
        item["$relationshipName"] = state_->names.get()[rec.name];
        std::string link = "/digitaltwins/";
        link += source;
        link += "/relationships/";
        link += state_->rel_ids[r];
        item["$relationshipLink"] = std::move(link);
        out.push_back(std::move(item));
    }
    return out;
}

std::span<const RelationshipIndex> Snapshot::out_relationships(TwinIndex twin) const { return state_->out[twin]; }
std::span<const RelationshipIndex> Snapshot::in_relationships(TwinIndex twin) const { return state_->in[twin]; }
TwinIndex Snapshot::source(RelationshipIndex r) const { return state_->rels[r].source; }
TwinIndex Snapshot::target(RelationshipIndex r) const { return state_->rels[r].target; }
const std::string& Snapshot::relationship_name(RelationshipIndex r) const { return state_->names.get()[state_->rels[r].name]; }
const std::string& Snapshot::relationship_id(RelationshipIndex r) const { return state_->rel_ids[r]; }

}  // namespace twinsim::graph
