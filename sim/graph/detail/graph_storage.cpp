#include "twinsim/graph/detail/graph_storage.hpp"

#include <algorithm>

#include "twinsim/graph/errors.hpp"

namespace twinsim::graph::detail {

using nlohmann::json;

namespace {

void erase_one(Adjacency& list, RelationshipIndex r) {
    auto it = std::find(list.begin(), list.end(), r);
    if (it != list.end()) list.erase(it);
}

}  // namespace

void resize_column(Column& c, std::size_t rows, CopyCounter& copies) {
    switch (c.type) {
    case dtdl::ColumnType::float64: c.f64.resize(rows, copies); break;
    case dtdl::ColumnType::int64: c.i64.resize(rows, copies); break;
    case dtdl::ColumnType::boolean: c.b.resize(rows, copies); break;
    case dtdl::ColumnType::string: c.str.resize(rows, copies); break;
    case dtdl::ColumnType::json: c.js.resize(rows, copies); break;
    }
    c.present.resize((rows + 63) / 64, copies);
    c.last_update.resize(rows, copies);
    c.source_time.resize(rows, copies);
}

std::uint32_t GraphStorage::table_for(std::string_view model_id, dtdl::InterfaceIndex interface) {
    for (std::size_t i = 0; i < state.tables.size(); ++i)
        if (state.tables[i].model_id == model_id) return static_cast<std::uint32_t>(i);
    PropertyTable t;
    t.model_id = std::string(model_id);
    t.interface = interface;
    for (const dtdl::PropertySlot& slot : state.models->at(interface).layout.slots) {
        Column c;
        c.type = slot.type;
        t.columns.push_back(std::move(c));
    }
    state.tables.push_back(std::move(t));
    return static_cast<std::uint32_t>(state.tables.size() - 1);
}

std::uint32_t GraphStorage::alloc_row(std::uint32_t ti, TwinIndex twin) {
    PropertyTable& t = state.tables[ti];
    std::uint32_t row = 0;
    if (!t.free_rows->empty()) {
        auto& fr = t.free_rows.mut(copies);
        row = fr.back();
        fr.pop_back();
    } else {
        row = t.rows++;
        const std::size_t n = t.rows;
        t.row_twin.resize(n, copies);
        for (Column& c : t.columns) resize_column(c, n, copies);
    }
    t.row_twin.set(row, twin, copies);
    ++t.live;
    return row;
}

void GraphStorage::clear_cell(Column& c, std::uint32_t row) {
    if (!c.has(row)) return;
    c.present.mut(row >> 6, copies) &= ~(std::uint64_t{1} << (row & 63));
    if (c.type == dtdl::ColumnType::string) c.str.set(row, std::string(), copies);
    else if (c.type == dtdl::ColumnType::json) c.js.set(row, nullptr, copies);
    c.set_source_time(row, no_time, copies);
}

void GraphStorage::free_row(std::uint32_t ti, std::uint32_t row) {
    PropertyTable& t = state.tables[ti];
    for (Column& c : t.columns) clear_cell(c, row);
    t.row_twin.set(row, no_index, copies);
    t.free_rows.mut(copies).push_back(row);
    --t.live;
}

void GraphStorage::set_cell(Column& c, std::uint32_t row, const json& v) {
    switch (c.type) {
    case dtdl::ColumnType::float64: c.f64.set(row, v.get<double>(), copies); break;
    case dtdl::ColumnType::int64: c.i64.set(row, v.get<std::int64_t>(), copies); break;
    case dtdl::ColumnType::boolean: c.b.set(row, v.get<bool>() ? 1 : 0, copies); break;
    case dtdl::ColumnType::string: c.str.set(row, v.get<std::string>(), copies); break;
    case dtdl::ColumnType::json: c.js.set(row, std::make_shared<const json>(v), copies); break;
    }
    if (!c.has(row)) c.present.mut(row >> 6, copies) |= std::uint64_t{1} << (row & 63);
}

void GraphStorage::set_scalar(Column& c, std::uint32_t row, const ScalarValue& v) {
    using Kind = ScalarValue::Kind;
    const bool number = v.kind != Kind::string;
    if (c.type == dtdl::ColumnType::float64 && number) {
        c.f64.set(row, v.kind == Kind::floating ? v.f : v.kind == Kind::integer ? static_cast<double>(v.i) : static_cast<double>(v.u),
                  copies);
    } else if (c.type == dtdl::ColumnType::int64 && number) {
        // Validated: an integer within int64, or an integral double within it.
        c.i64.set(row, v.kind == Kind::floating ? static_cast<std::int64_t>(v.f)
                       : v.kind == Kind::integer ? v.i
                                                 : static_cast<std::int64_t>(v.u),
                  copies);
    } else if (c.type == dtdl::ColumnType::string && !number) {
        c.str.set(row, std::string(v.s), copies);
    } else {
        set_cell(c, row, v.to_json());
        return;
    }
    if (!c.has(row)) c.present.mut(row >> 6, copies) |= std::uint64_t{1} << (row & 63);
}

TwinIndex GraphStorage::alloc_twin(std::string_view id, std::uint64_t hash) {
    TwinIndex t = 0;
    if (!state.free_twins->empty()) {
        auto& fl = state.free_twins.mut(copies);
        t = fl.back();
        fl.pop_back();
    } else {
        t = static_cast<TwinIndex>(state.twin_meta.size());
        if (t == no_index) throw GraphError("TooManyTwins", "the graph cannot hold more twins");
        const std::size_t n = std::size_t{t} + 1;
        state.twin_ids.resize(n, copies);
        state.twin_meta.resize(n, copies);
        state.components.resize(n, copies);
        state.out.resize(n, copies);
        state.in.resize(n, copies);
    }
    state.twin_ids.set(t, std::string(id), copies);
    state.twin_index.insert(hash, t, copies);
    ++state.twin_count;
    return t;
}

void GraphStorage::write_twin(TwinIndex t, const ParsedTwin& p, std::int64_t now, json components) {
    const std::uint32_t ti = table_for(p.model_id, p.model);
    const TwinMeta old = state.twin_meta[t];
    std::uint32_t row = 0;
    PropertyTable* table = nullptr;
    if (old.table == ti) {
        row = old.row;
        table = &state.tables[ti];
        std::size_t k = 0;
        for (std::uint32_t col = 0; col < table->columns.size(); ++col) {
            if (k < p.props.size() && p.props[k].column == col) {
                ++k;
                continue;
            }
            clear_cell(table->columns[col], row);
        }
    } else {
        if (old.table != no_index) free_row(old.table, old.row);
        row = alloc_row(ti, t);
        table = &state.tables[ti];
    }
    for (const PropValue& pv : p.props) {
        Column& c = table->columns[pv.column];
        set_cell(c, row, pv.value);
        c.last_update.set(row, pv.last_update, copies);
        c.set_source_time(row, pv.source_time, copies);
    }
    TwinMeta& m = state.twin_meta.mut(t, copies);
    m.table = ti;
    m.row = row;
    m.etag = ++state.etag_counter;
    m.last_update = now;
    if (components.empty()) {
        if (state.components[t]) state.components.set(t, nullptr, copies);
    } else {
        state.components.set(t, std::make_shared<const json>(std::move(components)), copies);
    }
}

void GraphStorage::remove_twin(TwinIndex t) {
    const TwinMeta m = state.twin_meta[t];
    free_row(m.table, m.row);
    state.twin_index.erase(GraphState::twin_hash(state.twin_ids[t]), t, copies);
    state.twin_meta.set(t, TwinMeta{}, copies);
    state.twin_ids.set(t, std::string(), copies);
    if (state.components[t]) state.components.set(t, nullptr, copies);
    state.free_twins.mut(copies).push_back(t);
    --state.twin_count;
}

std::uint32_t GraphStorage::intern(const std::string& name) {
    auto it = state.name_index->find(name);
    if (it != state.name_index->end()) return it->second;
    auto& names = state.names.mut(copies);
    const auto id = static_cast<std::uint32_t>(names.size());
    names.push_back(name);
    auto index = std::make_shared<std::unordered_map<std::string, std::uint32_t>>(*state.name_index);
    index->emplace(name, id);
    state.name_index = std::move(index);
    return id;
}

RelationshipIndex GraphStorage::alloc_rel() {
    if (!state.free_rels->empty()) {
        auto& fl = state.free_rels.mut(copies);
        const RelationshipIndex r = fl.back();
        fl.pop_back();
        return r;
    }
    const auto r = static_cast<RelationshipIndex>(state.rels.size());
    if (r == no_index) throw GraphError("TooManyRelationships", "the graph cannot hold more relationships");
    const std::size_t n = std::size_t{r} + 1;
    state.rels.resize(n, copies);
    state.rel_ids.resize(n, copies);
    state.rel_props.resize(n, copies);
    return r;
}

void GraphStorage::remove_rel(RelationshipIndex r) {
    const RelRecord rec = state.rels[r];
    erase_one(state.out.mut(rec.source, copies), r);
    erase_one(state.in.mut(rec.target, copies), r);
    state.rel_index.erase(GraphState::rel_hash(rec.source, state.rel_ids[r]), r, copies);
    state.rels.set(r, RelRecord{}, copies);
    state.rel_ids.set(r, std::string(), copies);
    if (state.rel_props[r]) state.rel_props.set(r, nullptr, copies);
    state.free_rels.mut(copies).push_back(r);
    --state.relationship_count;
}

RelationshipIndex GraphStorage::write_rel(RelationshipIndex existing, TwinIndex source, std::string_view rel_id,
                                          ParsedRel& p, std::int64_t now) {
    const std::uint32_t name = intern(p.name);
    RelationshipIndex r = existing;
    if (r == no_index) {
        r = alloc_rel();
        state.rel_ids.set(r, std::string(rel_id), copies);
        state.rel_index.insert(GraphState::rel_hash(source, rel_id), r, copies);
        state.out.mut(source, copies).push_back(r);
        state.in.mut(p.target, copies).push_back(r);
        ++state.relationship_count;
    } else if (state.rels[r].target != p.target) {
        erase_one(state.in.mut(state.rels[r].target, copies), r);
        state.in.mut(p.target, copies).push_back(r);
    }
    RelRecord& rec = state.rels.mut(r, copies);
    rec.source = source;
    rec.target = p.target;
    rec.name = name;
    rec.etag = ++state.etag_counter;
    rec.last_update = now;
    if (p.props.empty()) {
        if (state.rel_props[r]) state.rel_props.set(r, nullptr, copies);
    } else {
        state.rel_props.set(r, std::make_shared<const json>(std::move(p.props)), copies);
    }
    return r;
}

}  // namespace twinsim::graph::detail
