// TwinGraph's bulk-load fast paths (import): a twin of top-level numbers or a
// relationship with numeric properties, created from compact records without
// nlohmann::json, or `false` (nothing changed) whenever the general path of
// twin_writes.cpp must decide or report something. Runs with the mutex held.
#include <algorithm>

#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/detail/messages.hpp"
#include "twinsim/graph/detail/graph_writer.hpp"
#include "twinsim/graph/detail/twin_json.hpp"
#include "twinsim/graph/detail/bulk_loader.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

// validate_value(schema, v.to_json()).empty(), without a JSON string.
bool conforms(const dtdl::Schema& schema, const ScalarValue& v) {
    if (v.kind == ScalarValue::Kind::string) return dtdl::string_conforms(schema, v.s);
    return dtdl::validate_value(schema, v.to_json()).empty();  // a number: no allocation
}

}  // namespace

bool TwinGraph::Impl::try_create_twin(std::string_view id, std::uint64_t hash, std::string_view model_id,
                                      std::span<const ScalarValue> props, std::optional<Timestamp> last_update,
                                      std::span<const PropertyTimes> times) {
    if (id_problem("twin id", id) || state.find_twin(id, hash)) return false;  // the general path says why
    const auto index = state.models->find(model_id);
    if (!index) return false;
    if (shape_models != state.models || shape_infos != state.model_infos) {
        shape_models = state.models;
        shape_infos = state.model_infos;
        shapes.assign(shape_models->size(), ModelShape{});
    }
    ModelShape& shape = shapes[*index];
    const dtdl::CompiledInterface& model = state.models->at(*index);
    if (!shape.known) {
        const ModelInfo* info = state.model_info(model_id);
        shape.usable = !(info && info->decommissioned) &&
                       std::none_of(model.contents.begin(), model.contents.end(), [](const dtdl::Content* c) {
                           // must be initialised: the general path says so
                           return c->kind == dtdl::ContentKind::component;
                       });
        shape.known = true;
    }
    if (!shape.usable) return false;
    // Validate everything before changing anything.
    scratch_columns.clear();
    for (std::size_t k = 0; k < props.size(); ++k) {
        const ScalarValue& v = props[k];
        if (k >= shape.properties.size() || shape.properties[k].name != v.name) {
            if (v.name.empty() || v.name[0] == '$') return false;
            const dtdl::Content* c = model.find(v.name);
            if (!c || c->kind != dtdl::ContentKind::property) return false;
            if (k >= shape.properties.size()) shape.properties.resize(k + 1);
            shape.properties[k] = {std::string(v.name), c, model.layout.find(v.name)->column};
        }
        const ShapeProperty& p = shape.properties[k];
        if (!conforms(*p.content->schema, v)) return false;
        for (const ScratchCell& seen : scratch_columns)
            if (seen.column == p.column) return false;  // a repeated member: the general path keeps the last
        scratch_columns.push_back({p.column, &v, no_time, no_time});
    }
    // Recorded times: each of a property set on this line, named once.
    for (std::size_t k = 0; k < times.size(); ++k) {
        const PropertyTimes& pt = times[k];
        std::size_t i = 0;
        while (i < props.size() && props[i].name != pt.name) ++i;
        if (i == props.size()) return false;  // a time of an unset property: the general path decides
        for (std::size_t j = 0; j < k; ++j)
            if (times[j].name == pt.name) return false;
        if (pt.last_update) scratch_columns[i].last_update = pt.last_update->ns;
        if (pt.source_time) scratch_columns[i].source_time = pt.source_time->ns;
    }
    const Timestamp now = clock();
    if (shape.table >= state.tables.size() || state.tables[shape.table].model_id != model_id)
        shape.table = table_for(model_id, *index);
    const std::uint32_t ti = shape.table;
    const TwinIndex t = alloc_twin(id, hash);
    const std::uint32_t row = alloc_row(ti, t);
    PropertyTable& table = state.tables[ti];
    for (const ScratchCell& cell : scratch_columns) {
        Column& c = table.columns[cell.column];
        set_scalar(c, row, *cell.value);
        c.last_update.set(row, cell.last_update != no_time ? cell.last_update : now.ns, copies);
        if (cell.source_time != no_time) c.set_source_time(row, cell.source_time, copies);
    }
    TwinMeta& m = state.twin_meta.mut(t, copies);
    m.table = ti;
    m.row = row;
    m.etag = ++state.etag_counter;
    m.last_update = last_update ? last_update->ns : now.ns;
    if (want_events()) emit(ChangeType::twin_create, std::string(id), {}, twin_json(state, t), now);
    return true;
}

std::optional<dtdl::InterfaceIndex> TwinGraph::Impl::relationship_target(const dtdl::Content& relationship) {
    if (target_models != state.models) {
        target_models = state.models;
        targets.clear();
    }
    for (const auto& [content, index] : targets)
        if (content == &relationship) return index;
    const auto index = state.models->find(relationship.target);
    if (targets.size() < 64) targets.emplace_back(&relationship, index);
    return index;
}

bool TwinGraph::Impl::try_create_relationship(std::string_view source_id, std::uint64_t source_hash,
                                              std::string_view rel_id, std::uint64_t id_hash, std::string_view target_id,
                                              std::uint64_t target_hash, std::string_view name,
                                              std::span<const ScalarValue> props) {
    if (id_problem("relationship id", rel_id) || target_id.empty() || target_id == source_id) return false;
    const auto source = state.find_twin(source_id, source_hash);
    if (!source || state.find_rel(*source, rel_id, GraphState::rel_hash_of(*source, id_hash))) return false;
    const dtdl::CompiledInterface& model = state.model_of(*source);
    const dtdl::Content* c = model.find(name);
    if (!c || c->kind != dtdl::ContentKind::relationship) return false;
    const auto target = state.find_twin(target_id, target_hash);
    if (!target) return false;
    if (!c->target.empty()) {
        const auto want = relationship_target(*c);
        if (!want || !state.models->is_a(state.tables[state.twin_meta[*target].table].interface, *want)) return false;
    }
    ParsedRel p;
    p.target = *target;
    p.name = std::string(name);
    for (const ScalarValue& v : props) {
        if (v.name.empty() || v.name[0] == '$') return false;
        const auto pc = std::find_if(c->properties.begin(), c->properties.end(),
                                     [&](const dtdl::Content& x) { return x.name == v.name; });
        if (pc == c->properties.end()) return false;
        if (!conforms(*pc->schema, v)) return false;
        json value = v.to_json();
        const std::string key(v.name);
        if (p.props.contains(key)) return false;
        p.props[key] = std::move(value);
    }
    const Timestamp now = clock();
    const RelationshipIndex r = write_rel(no_index, *source, rel_id, p, now.ns);
    if (want_events())
        emit(ChangeType::relationship_create, std::string(source_id), std::string(rel_id), relationship_json(state, r), now);
    return true;
}

// --- detail::BulkLoader --------------------------------------------------------------

namespace detail {

std::uint64_t BulkHashes::twin(std::string_view id) noexcept { return GraphState::twin_hash(id); }
std::uint64_t BulkHashes::relationship_id(std::string_view id) noexcept { return GraphState::rel_id_hash(id); }

BulkLoader::BulkLoader(TwinGraph& graph) : impl_(*graph.impl_), lock_(impl_.mutex) {
    impl_.guard();
    if (impl_.write_depth == 0 || impl_.atomic_depth == 0)
        throw UsageError("detail::BulkLoader is used only inside a TwinGraph::atomically body, on its thread");
}

BulkLoader::~BulkLoader() = default;

bool BulkLoader::create_twin(std::string_view twin_id, std::uint64_t hash, std::string_view model_id,
                             std::span<const ScalarValue> properties, std::optional<Timestamp> last_update,
                             std::span<const PropertyTimes> times) {
    // As TwinGraph::try_create_twin inside atomically: mutate() and batch()
    // only join the open group there.
    return impl_.try_create_twin(twin_id, hash, model_id, properties, last_update, times);
}

bool BulkLoader::create_relationship(std::string_view source_id, std::uint64_t source_hash,
                                     std::string_view relationship_id, std::uint64_t id_hash,
                                     std::string_view target_id, std::uint64_t target_hash, std::string_view name,
                                     std::span<const ScalarValue> properties) {
    return impl_.try_create_relationship(source_id, source_hash, relationship_id, id_hash, target_id, target_hash, name,
                                         properties);
}

void BulkLoader::prefetch_twin_shard(std::uint64_t hash) const noexcept { impl_.state.twin_index.prefetch_shard(hash); }

void BulkLoader::prefetch_twin_slot(std::uint64_t hash) const noexcept { impl_.state.twin_index.prefetch_slot(hash); }

std::optional<TwinIndex> BulkLoader::prefetch_twin(std::uint64_t hash) const noexcept {
    const GraphState& s = impl_.state;
    const auto t = s.twin_index.candidate(hash);
    if (!t || *t >= s.twin_meta.size()) return std::nullopt;
    const std::string& id = s.twin_ids[*t];
    prefetch_line(&id);
    prefetch_line(&s.twin_meta[*t]);
    prefetch_line(&s.out[*t]);
    prefetch_line(&s.in[*t]);
    return t;
}

void BulkLoader::prefetch_twin_id(TwinIndex t) const noexcept {
    const GraphState& s = impl_.state;
    if (t < s.twin_ids.size()) prefetch_line(s.twin_ids[t].data());
}

void BulkLoader::prefetch_relationship_shard(TwinIndex source, std::uint64_t id_hash) const noexcept {
    impl_.state.rel_index.prefetch_shard(GraphState::rel_hash_of(source, id_hash));
}

void BulkLoader::prefetch_relationship_slot(TwinIndex source, std::uint64_t id_hash) const noexcept {
    impl_.state.rel_index.prefetch_slot(GraphState::rel_hash_of(source, id_hash));
}

}  // namespace detail

}  // namespace twinsim::graph
