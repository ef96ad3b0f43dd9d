#include "twinsim/graph/detail/twin_json.hpp"

#include <algorithm>
#include <cstdio>

#include "twinsim/common/time.hpp"

namespace twinsim::graph::detail {

using nlohmann::json;

std::string format_etag(std::uint64_t etag) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "W/\"%016llx\"", static_cast<unsigned long long>(etag));
    return buf;
}

const ModelInfo* GraphState::model_info(std::string_view id) const {
    const auto& infos = *model_infos;
    auto it = std::lower_bound(infos.begin(), infos.end(), id,
                               [](const ModelInfo& m, std::string_view k) { return m.id < k; });
    return it != infos.end() && it->id == id ? &*it : nullptr;
}

std::string format_source_time(std::int64_t ns) {
    return format_timestamp(Timestamp{ns}, ns % 100 == 0 ? TimestampPrecision::adt : TimestampPrecision::nanoseconds);
}

json column_value(const Column& c, std::uint32_t row) {
    switch (c.type) {
    case dtdl::ColumnType::float64: return c.f64[row];
    case dtdl::ColumnType::int64: return c.i64[row];
    case dtdl::ColumnType::boolean: return c.b[row] != 0;
    case dtdl::ColumnType::string: return c.str[row];
    case dtdl::ColumnType::json: {
        const JsonPtr& p = c.js[row];
        return p ? *p : json();
    }
    }
    return json();
}

namespace {

// Strips service-set fields from a stored component for the patch view.
json component_patch_view(const json& stored) {
    json out = json::object();
    for (const auto& [key, value] : stored.items()) {
        if (key != "$metadata") {
            out[key] = value;
            continue;
        }
        json md = json::object();
        for (const auto& [p, entry] : value.items()) {
            if (p == "$lastUpdateTime" || !entry.is_object()) continue;
            json e = entry;
            e.erase("lastUpdateTime");
            md[p] = std::move(e);
        }
        out["$metadata"] = std::move(md);
    }
    return out;
}

}  // namespace

json twin_json(const GraphState& s, TwinIndex t, TwinView view) {
    const TwinMeta& meta = s.twin_meta[t];
    const PropertyTable& table = s.tables[meta.table];
    const dtdl::CompiledInterface& model = s.models->at(table.interface);
    json out = json::object();
    json md = json::object();
    if (view == TwinView::adt) {
        out["$dtId"] = s.twin_ids[t];
        out["$etag"] = format_etag(meta.etag);
    }
    md["$model"] = table.model_id;
    if (view == TwinView::adt) md["$lastUpdateTime"] = format_timestamp(Timestamp{meta.last_update});
    const auto& slots = model.layout.slots;
    for (std::size_t k = 0; k < slots.size(); ++k) {
        const Column& c = table.columns[k];
        if (!c.has(meta.row)) continue;
        out[slots[k].name] = column_value(c, meta.row);
        json pm = json::object();
        if (view == TwinView::adt) pm["lastUpdateTime"] = format_timestamp(Timestamp{c.last_update[meta.row]});
        const std::int64_t st = c.source_time_at(meta.row);
        if (st != no_time) pm["sourceTime"] = format_source_time(st);
        md[slots[k].name] = std::move(pm);
    }
    if (const JsonPtr& comps = s.components[t]) {
        for (auto it = comps->begin(); it != comps->end(); ++it)
            out[it.key()] = view == TwinView::adt ? it.value() : component_patch_view(it.value());
    }
    out["$metadata"] = std::move(md);
    return out;
}

json relationship_json(const GraphState& s, RelationshipIndex r) {
    const RelRecord& rec = s.rels[r];
    json out = json::object();
    out["$relationshipId"] = s.rel_ids[r];
    out["$etag"] = format_etag(rec.etag);
    out["$sourceId"] = s.twin_ids[rec.source];
    out["$targetId"] = s.twin_ids[rec.target];
    out["$relationshipName"] = s.names.get()[rec.name];
    if (const JsonPtr& props = s.rel_props[r])
        for (auto it = props->begin(); it != props->end(); ++it) out[it.key()] = it.value();
    return out;
}

}  // namespace twinsim::graph::detail
