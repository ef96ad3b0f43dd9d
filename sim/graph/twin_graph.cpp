#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/graph/detail/messages.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/json_pointer.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/detail/json_patch.hpp"
#include "twinsim/graph/detail/twin_json.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

std::string twin_ctx(std::string_view id) {
    std::string s = "twin ";
    s += in_quotes(id);
    return s;
}

std::string rel_ctx(std::string_view source, std::string_view rel) {
    std::string s = "relationship ";
    s += in_quotes(rel);
    s += " of twin ";
    s += in_quotes(source);
    return s;
}

std::string member_path(std::string_view prefix, std::string_view name) {
    std::string s(prefix);
    s += '/';
    s += escape_pointer_token(name);
    return s;
}

// Collects every problem of one twin or relationship, then throws them together.
class Problems {
public:
    explicit Problems(std::string context) : context_(std::move(context)) {}
    void add(std::string_view path, std::string_view message) {
        std::string s(path);
        if (!s.empty()) s += ": ";
        s += message;
        items_.push_back(std::move(s));
    }
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    void throw_if_any(const char* code = "ValidationFailed") const {
        if (items_.empty()) return;
        std::string msg = context_;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            msg += i == 0 ? ": " : "; ";
            msg += items_[i];
        }
        throw ValidationError(code, msg);
    }

private:
    std::string context_;
    std::vector<std::string> items_;
};

void check_value(const dtdl::Content& c, const json& value, std::string_view path, Problems& problems) {
    for (const dtdl::ValueError& e : dtdl::validate_value(*c.schema, value)) {
        std::string p(path);
        p += e.path;
        problems.add(p, e.message);
    }
}

const char* kind_name(dtdl::ContentKind k) {
    switch (k) {
    case dtdl::ContentKind::property: return "Property";
    case dtdl::ContentKind::telemetry: return "Telemetry";
    case dtdl::ContentKind::command: return "Command";
    case dtdl::ContentKind::relationship: return "Relationship";
    case dtdl::ContentKind::component: return "Component";
    }
    return "content";
}

// One validated top-level property of a twin to be stored.
struct PropValue {
    std::uint32_t column = 0;
    std::string name;
    json value;
    std::int64_t source_time = no_time;
    std::int64_t last_update = 0;
    std::int64_t recorded_update = no_time;  ///< lastUpdateTime given to restore_twin
};

// A twin document checked against its model, ready to store.
struct ParsedTwin {
    dtdl::InterfaceIndex model = 0;
    std::string model_id;
    std::vector<PropValue> props;
    /// name -> {props..., "$metadata": {prop: {"sourceTime"?}}}; when restoring,
    /// also the recorded "$lastUpdateTime" and per-property "lastUpdateTime".
    json components = json::object();
    std::int64_t recorded_update = no_time;  ///< $metadata.$lastUpdateTime given to restore_twin
};

// A time the graph recorded ($lastUpdateTime, lastUpdateTime), given back to
// restore_twin: no_time (and a problem) unless it is an RFC 3339 date-time.
std::int64_t parse_recorded_time(const json& value, std::string_view path, Problems& problems) {
    std::optional<Timestamp> t;
    if (value.is_string()) t = parse_timestamp(value.get_ref<const std::string&>());
    if (!t) {
        problems.add(path, "expected an RFC 3339 date-time, found " + value.dump());
        return no_time;
    }
    return t->ns;
}

// A $metadata entry of one property: sourceTime is the client's;
// lastUpdateTime is the graph's, ignored unless `recorded_update` asks for it
// (restore_twin; only for a property that is set). Returns the sourceTime
// (no_time when absent).
std::int64_t parse_property_metadata(const json& entry, std::string_view path, bool is_set, Problems& problems,
                                     std::int64_t* recorded_update = nullptr) {
    if (!entry.is_object()) {
        problems.add(path, "property metadata must be an object");
        return no_time;
    }
    std::int64_t source_time = no_time;
    for (auto it = entry.begin(); it != entry.end(); ++it) {
        if (it.key() == "lastUpdateTime") {
            if (recorded_update != nullptr) {
                const std::int64_t t = parse_recorded_time(it.value(), member_path(path, "lastUpdateTime"), problems);
                if (is_set) *recorded_update = t;
            }
            continue;
        }
        if (it.key() == "sourceTime") {
            const auto p = member_path(path, "sourceTime");
            std::optional<Timestamp> t;
            if (it->is_string()) t = parse_timestamp(it->get_ref<const std::string&>());
            if (!t) problems.add(p, "expected an RFC 3339 date-time, found " + it->dump());
            else if (!is_set) problems.add(p, "sourceTime given for a property that is not set");
            else source_time = t->ns;
            continue;
        }
        problems.add(member_path(path, it.key()), "unknown metadata (only sourceTime is writable)");
    }
    return source_time;
}

void parse_component(const GraphState& s, const dtdl::Content& c, const json& v, Problems& problems, json& out,
                     bool restore) {
    const std::string path = member_path("", c.name);
    if (!v.is_object()) {
        problems.add(path, "a component must be a JSON object, found " + std::string(v.type_name()));
        return;
    }
    const dtdl::CompiledInterface& ci = s.models->get(c.component_interface);
    json stored = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string& key = it.key();
        const std::string p = member_path(path, key);
        if (key == "$metadata") continue;
        if (!key.empty() && key[0] == '$') {
            problems.add(p, "unknown member");
            continue;
        }
        const dtdl::Content* pc = ci.find(key);
        if (!pc) {
            problems.add(p, "not declared by component interface " + ci.definition->id);
        } else if (pc->kind != dtdl::ContentKind::property) {
            problems.add(p, std::string("is a ") + kind_name(pc->kind) + " of " + ci.definition->id + ", not a property");
        } else {
            check_value(*pc, it.value(), p, problems);
            stored[key] = it.value();
        }
    }
    json md = json::object();
    auto mdi = v.find("$metadata");
    if (mdi != v.end()) {
        const std::string mp = member_path(path, "$metadata");
        if (!mdi->is_object()) {
            problems.add(mp, "must be an object");
        } else {
            for (auto it = mdi->begin(); it != mdi->end(); ++it) {
                if (it.key() == "$lastUpdateTime") {
                    if (restore) {
                        const std::int64_t t = parse_recorded_time(it.value(), member_path(mp, it.key()), problems);
                        if (t != no_time) md["$lastUpdateTime"] = format_timestamp(Timestamp{t});
                    }
                    continue;
                }
                const std::string p = member_path(mp, it.key());
                const bool is_set = stored.contains(it.key());
                std::int64_t recorded = no_time;
                const std::int64_t st = parse_property_metadata(it.value(), p, is_set, problems, restore ? &recorded : nullptr);
                if (st != no_time) md[it.key()]["sourceTime"] = format_timestamp(Timestamp{st});
                if (recorded != no_time) md[it.key()]["lastUpdateTime"] = format_timestamp(Timestamp{recorded});
            }
        }
    }
    stored["$metadata"] = std::move(md);
    out[c.name] = std::move(stored);
}

// Checks a whole twin document against its model: every property value
// (type, enum member, object fields, map/array elements), no undeclared
// member, every component present. `restore` (restore_twin) also reads the
// recorded times; otherwise they are ignored.
ParsedTwin parse_twin(const GraphState& s, std::string_view id, const json& doc, bool restore = false) {
    const std::string ctx = twin_ctx(id);
    if (!doc.is_object()) throw ValidationError("ValidationFailed", ctx + ": a twin must be a JSON object");
    auto md = doc.find("$metadata");
    if (md == doc.end() || !md->is_object())
        throw ValidationError("ValidationFailed", ctx + ": /$metadata is missing or not an object");
    auto model_it = md->find("$model");
    if (model_it == md->end() || !model_it->is_string())
        throw ValidationError("ValidationFailed", ctx + ": /$metadata/$model is missing or not a string");
    const std::string& model_id = model_it->get_ref<const std::string&>();
    const auto index = s.models->find(model_id);
    if (!index) throw NotFoundError("ModelNotFound", ctx + ": model " + model_id + " does not exist");
    const dtdl::CompiledInterface& model = s.models->at(*index);

    ParsedTwin out;
    out.model = *index;
    out.model_id = model_id;
    Problems problems(ctx);
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const std::string& key = it.key();
        const std::string path = member_path("", key);
        if (key == "$dtId") {
            if (!it->is_string() || it->get_ref<const std::string&>() != id)
                problems.add(path, "does not match the twin id " + in_quotes(id));
            continue;
        }
        if (key == "$etag" || key == "$metadata") continue;
        if (!key.empty() && key[0] == '$') {
            problems.add(path, "unknown member");
            continue;
        }
        const dtdl::Content* c = model.find(key);
        if (!c) {
            problems.add(path, "not declared by " + model_id);
            continue;
        }
        switch (c->kind) {
        case dtdl::ContentKind::property: {
            check_value(*c, it.value(), path, problems);
            PropValue pv;
            pv.column = model.layout.find(key)->column;
            pv.name = key;
            pv.value = it.value();
            out.props.push_back(std::move(pv));
            break;
        }
        case dtdl::ContentKind::component: parse_component(s, *c, it.value(), problems, out.components, restore); break;
        default:
            problems.add(path, std::string("is a ") + kind_name(c->kind) + " of " + model_id + ", not a property");
        }
    }
    for (auto it = md->begin(); it != md->end(); ++it) {
        const std::string& key = it.key();
        if (key == "$model") continue;
        const std::string path = member_path("/$metadata", key);
        if (key == "$lastUpdateTime") {
            if (restore) out.recorded_update = parse_recorded_time(it.value(), path, problems);
            continue;
        }
        if (!key.empty() && key[0] == '$') {
            problems.add(path, "unknown metadata");
            continue;
        }
        auto pv = std::find_if(out.props.begin(), out.props.end(), [&](const PropValue& p) { return p.name == key; });
        const bool is_set = pv != out.props.end();
        std::int64_t recorded = no_time;
        const std::int64_t st = parse_property_metadata(it.value(), path, is_set, problems, restore ? &recorded : nullptr);
        if (is_set) {
            pv->source_time = st;
            pv->recorded_update = recorded;
        }
    }
    for (const dtdl::Content* c : model.contents)
        if (c->kind == dtdl::ContentKind::component && !out.components.contains(c->name))
            problems.add(member_path("", c->name), "component of " + model_id +
                                                       " must be present (initialise it, possibly as {})");
    problems.throw_if_any();
    std::sort(out.props.begin(), out.props.end(), [](const PropValue& a, const PropValue& b) { return a.column < b.column; });
    return out;
}

// Gives stored components their service fields ($lastUpdateTime, per property
// lastUpdateTime): `now` where touched, else the previous time. A time the
// component already holds is a recorded one (parse_component adds them only
// for restore_twin) and is kept.
void finalize_components(json& comps, const json* old, std::int64_t now,
                         const std::function<bool(const std::string&, const std::string&)>& touched) {
    const std::string now_text = format_timestamp(Timestamp{now});
    for (auto c = comps.begin(); c != comps.end(); ++c) {
        const json* oc = nullptr;
        if (old) {
            auto f = old->find(c.key());
            if (f != old->end()) oc = &*f;
        }
        const json* omd = nullptr;
        if (oc) {
            auto f = oc->find("$metadata");
            if (f != oc->end()) omd = &*f;
        }
        json& md = (*c)["$metadata"];
        bool any = oc == nullptr;
        for (auto p = c->begin(); p != c->end(); ++p) {
            if (p.key() == "$metadata") continue;
            json& pm = md[p.key()];
            if (!pm.is_object()) pm = json::object();
            if (pm.contains("lastUpdateTime")) continue;  // recorded
            std::string time = now_text;
            if (oc && !touched(c.key(), p.key())) {
                auto ov = oc->find(p.key());
                if (ov != oc->end() && *ov == p.value() && omd && omd->contains(p.key()) &&
                    (*omd)[p.key()].contains("lastUpdateTime"))
                    time = (*omd)[p.key()]["lastUpdateTime"].get<std::string>();
                else
                    any = true;
            } else {
                any = true;
            }
            pm["lastUpdateTime"] = time;
        }
        if (md.contains("$lastUpdateTime")) continue;  // recorded
        if (oc && !any && omd && omd->contains("$lastUpdateTime") && !touched(c.key(), std::string()))
            md["$lastUpdateTime"] = (*omd)["$lastUpdateTime"];
        else
            md["$lastUpdateTime"] = now_text;
    }
}

struct ParsedRel {
    TwinIndex target = no_index;
    std::string name;
    json props = json::object();
};

ParsedRel parse_relationship(const GraphState& s, TwinIndex source, std::string_view source_id,
                             std::string_view rel_id, const json& doc) {
    const std::string ctx = rel_ctx(source_id, rel_id);
    if (!doc.is_object()) throw ValidationError("InvalidRelationship", ctx + ": a relationship must be a JSON object");
    auto target_it = doc.find("$targetId");
    auto name_it = doc.find("$relationshipName");
    if (target_it == doc.end() || !target_it->is_string() || target_it->get_ref<const std::string&>().empty())
        throw ValidationError("InvalidRelationship", ctx + ": /$targetId is missing or not a non-empty string");
    if (name_it == doc.end() || !name_it->is_string())
        throw ValidationError("InvalidRelationship", ctx + ": /$relationshipName is missing or not a string");
    ParsedRel out;
    out.name = name_it->get<std::string>();
    const std::string& target_id = target_it->get_ref<const std::string&>();
    const dtdl::CompiledInterface& model = s.model_of(source);
    const dtdl::Content* c = model.find(out.name);
    if (!c || c->kind != dtdl::ContentKind::relationship)
        throw ValidationError("InvalidRelationship", ctx + ": " + in_quotes(out.name) + " is not a Relationship of " +
                                                         model.definition->id);
    if (target_id == source_id)
        throw ValidationError("InvalidRelationship", ctx + ": a twin cannot have a relationship to itself");
    const auto target = s.find_twin(target_id);
    if (!target) throw NotFoundError("TargetTwinNotFound", ctx + ": target twin " + in_quotes(target_id) + " does not exist");
    out.target = *target;
    if (!c->target.empty()) {
        const auto want = s.models->find(c->target);
        const dtdl::InterfaceIndex have = s.tables[s.twin_meta[*target].table].interface;
        if (!want || !s.models->is_a(have, *want))
            throw ValidationError("InvalidRelationship", ctx + ": target twin " + in_quotes(target_id) + " has model " +
                                                             s.models->at(have).definition->id + ", but " +
                                                             in_quotes(out.name) + " requires " + c->target);
    }
    Problems problems(ctx);
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const std::string& key = it.key();
        const std::string path = member_path("", key);
        if (key == "$targetId" || key == "$relationshipName" || key == "$etag") continue;
        if (key == "$sourceId") {
            if (!it->is_string() || it->get_ref<const std::string&>() != source_id)
                problems.add(path, "does not match the source twin " + in_quotes(source_id));
            continue;
        }
        if (key == "$relationshipId") {
            if (!it->is_string() || it->get_ref<const std::string&>() != rel_id)
                problems.add(path, "does not match the relationship id " + in_quotes(rel_id));
            continue;
        }
        if (!key.empty() && key[0] == '$') {
            problems.add(path, "unknown member");
            continue;
        }
        auto p = std::find_if(c->properties.begin(), c->properties.end(),
                              [&](const dtdl::Content& pc) { return pc.name == key; });
        if (p == c->properties.end()) {
            problems.add(path, "not a property of relationship " + in_quotes(out.name));
            continue;
        }
        check_value(*p, it.value(), path, problems);
        out.props[key] = it.value();
    }
    problems.throw_if_any("ValidationFailed");
    return out;
}

void check_etag(std::uint64_t etag, const std::optional<std::string>& if_match, const std::string& ctx) {
    if (if_match && *if_match != "*" && *if_match != format_etag(etag))
        throw ConflictError("PreconditionFailed",
                            ctx + ": etag " + *if_match + " does not match the current " + format_etag(etag));
}

void erase_one(Adjacency& list, RelationshipIndex r) {
    auto it = std::find(list.begin(), list.end(), r);
    if (it != list.end()) list.erase(it);
}

}  // namespace

// ---------------------------------------------------------------------------

struct TwinGraph::Impl {
    explicit Impl(TwinGraphOptions o) : options(std::move(o)) { state.models = dtdl::ModelSet::from_interfaces({}); }
    /// A graph whose state is `base` (every chunk shared with it; see from_snapshot).
    Impl(TwinGraphOptions o, const GraphState& base) : options(std::move(o)), state(base), sequence(base.sequence) {}

    TwinGraphOptions options;
    mutable std::recursive_mutex mutex;
    GraphState state;
    CopyCounter copies;
    std::map<ListenerId, ChangeListener> listeners;
    ListenerId next_listener = 1;
    std::uint64_t sequence = 0;
    int atomic_depth = 0;
    std::vector<ChangeEvent> pending;
    bool delivering = false;
    struct ScratchCell {
        std::uint32_t column = 0;
        json value;
        std::int64_t last_update = no_time;  // recorded, else the clock's
        std::int64_t source_time = no_time;
    };
    std::vector<ScratchCell> scratch_columns;  // try_create_twin's validated values, in the order of `props`

    Timestamp clock() const { return options.clock ? options.clock() : utc_now(); }
    [[nodiscard]] bool want_events() const noexcept { return !listeners.empty(); }

    void guard() const {
        if (delivering) throw std::logic_error("a change listener must not modify the graph");
    }

    // --- events -----------------------------------------------------------------
    void emit(ChangeType type, std::string twin_id, std::string rel_id, json data, Timestamp time) {
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
        pending.push_back(std::move(e));
        if (atomic_depth == 0) deliver();
    }

    void deliver() {
        std::vector<ChangeEvent> events = std::move(pending);
        pending.clear();
        delivering = true;
        for (ChangeEvent& e : events) {
            e.sequence = ++sequence;
            for (auto& [id, listener] : listeners) {
                try {
                    listener(e);
                } catch (...) {
                    // The change is committed; a failing listener cannot undo it
                    // nor stop the others from hearing of it.
                }
            }
        }
        delivering = false;
    }

    template <class Body>
    void run_atomic(Body&& body) {
        if (atomic_depth > 0) {
            body();
            return;
        }
        GraphState saved = state;  // O(tables + columns): shares every chunk
        ++atomic_depth;
        try {
            body();
        } catch (...) {
            state = std::move(saved);
            pending.clear();
            --atomic_depth;
            throw;
        }
        --atomic_depth;
        deliver();
    }

    // --- storage ------------------------------------------------------------------
    std::uint32_t table_for(std::string_view model_id, dtdl::InterfaceIndex interface) {
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

    std::uint32_t alloc_row(std::uint32_t ti, TwinIndex twin) {
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
            for (Column& c : t.columns) {
                switch (c.type) {
                case dtdl::ColumnType::float64: c.f64.resize(n, copies); break;
                case dtdl::ColumnType::int64: c.i64.resize(n, copies); break;
                case dtdl::ColumnType::boolean: c.b.resize(n, copies); break;
                case dtdl::ColumnType::string: c.str.resize(n, copies); break;
                case dtdl::ColumnType::json: c.js.resize(n, copies); break;
                }
                c.present.resize((n + 63) / 64, copies);
                c.last_update.resize(n, copies);
                c.source_time.resize(n, copies);
            }
        }
        t.row_twin.set(row, twin, copies);
        ++t.live;
        return row;
    }

    void clear_cell(Column& c, std::uint32_t row) {
        if (!c.has(row)) return;
        c.present.mut(row >> 6, copies) &= ~(std::uint64_t{1} << (row & 63));
        if (c.type == dtdl::ColumnType::string) c.str.set(row, std::string(), copies);
        else if (c.type == dtdl::ColumnType::json) c.js.set(row, nullptr, copies);
        c.set_source_time(row, no_time, copies);
    }

    void free_row(std::uint32_t ti, std::uint32_t row) {
        PropertyTable& t = state.tables[ti];
        for (Column& c : t.columns) clear_cell(c, row);
        t.row_twin.set(row, no_index, copies);
        t.free_rows.mut(copies).push_back(row);
        --t.live;
    }

    void set_cell(Column& c, std::uint32_t row, const json& v) {
        switch (c.type) {
        case dtdl::ColumnType::float64: c.f64.set(row, v.get<double>(), copies); break;
        case dtdl::ColumnType::int64: c.i64.set(row, v.get<std::int64_t>(), copies); break;
        case dtdl::ColumnType::boolean: c.b.set(row, v.get<bool>() ? 1 : 0, copies); break;
        case dtdl::ColumnType::string: c.str.set(row, v.get<std::string>(), copies); break;
        case dtdl::ColumnType::json: c.js.set(row, std::make_shared<const json>(v), copies); break;
        }
        if (!c.has(row)) c.present.mut(row >> 6, copies) |= std::uint64_t{1} << (row & 63);
    }

    TwinIndex alloc_twin(std::string_view id) {
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
        state.twin_index.insert(GraphState::twin_hash(id), t, copies);
        ++state.twin_count;
        return t;
    }

    // Stores a validated twin at index t (new: meta.table == no_index).
    void write_twin(TwinIndex t, const ParsedTwin& p, std::int64_t now, json components) {
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

    void remove_twin(TwinIndex t) {
        const TwinMeta m = state.twin_meta[t];
        free_row(m.table, m.row);
        state.twin_index.erase(GraphState::twin_hash(state.twin_ids[t]), t, copies);
        state.twin_meta.set(t, TwinMeta{}, copies);
        state.twin_ids.set(t, std::string(), copies);
        if (state.components[t]) state.components.set(t, nullptr, copies);
        state.free_twins.mut(copies).push_back(t);
        --state.twin_count;
    }

    std::uint32_t intern(const std::string& name) {
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

    RelationshipIndex alloc_rel() {
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

    void remove_rel(RelationshipIndex r) {
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

    // Stores a validated relationship; `existing` is no_index for a new one.
    RelationshipIndex write_rel(RelationshipIndex existing, TwinIndex source, std::string_view rel_id, ParsedRel& p,
                                std::int64_t now) {
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

    // --- operations (mutex held) ------------------------------------------------------
    TwinIndex require_twin(std::string_view id) const {
        auto t = state.find_twin(id);
        if (!t) throw NotFoundError("DigitalTwinNotFound", twin_ctx(id) + " does not exist");
        return *t;
    }

    RelationshipIndex require_rel(TwinIndex source, std::string_view source_id, std::string_view rel_id) const {
        auto r = state.find_rel(source, rel_id);
        if (!r) throw NotFoundError("RelationshipNotFound", rel_ctx(source_id, rel_id) + " does not exist");
        return *r;
    }

    void check_model_usable(const ParsedTwin& p, std::string_view id) const {
        const ModelInfo* info = state.model_info(p.model_id);
        if (info && info->decommissioned)
            throw ValidationError("ModelDecommissioned", twin_ctx(id) + ": model " + p.model_id +
                                                             " is decommissioned; no new twins of it can be created");
    }

    // `restore` (restore_twin, with cond.if_none_match): recorded times are
    // kept, and no result is built (it returns null).
    json upsert_twin(std::string_view id, const json& doc, const WriteCondition& cond, bool restore = false) {
        if (id.empty()) throw ValidationError("ValidationFailed", "a twin id must not be empty");
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

    static json twin_diff(json before, json after) {
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

    void update_twin(std::string_view id, const json& patch, const std::optional<std::string>& if_match) {
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
        // Drop the empty metadata entries again (and entries of unset properties).
        if (doc.is_object() && doc.contains("$metadata") && doc["$metadata"].is_object()) {
            json& md = doc["$metadata"];
            for (auto it = md.begin(); it != md.end();) {
                if (it->is_object() && it->empty()) it = md.erase(it);
                else ++it;
            }
        }
        for (auto c = doc.begin(); c != doc.end(); ++c) {
            if (!c->is_object() || c.key().empty() || c.key()[0] == '$') continue;
            auto cm = c->find("$metadata");
            if (cm == c->end() || !cm->is_object()) continue;
            for (auto it = cm->begin(); it != cm->end();) {
                if (it->is_object() && it->empty()) it = cm->erase(it);
                else ++it;
            }
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

    void delete_twin(std::string_view id, const std::optional<std::string>& if_match, bool cascade) {
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

    void delete_rel(RelationshipIndex r, Timestamp now) {
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

    void write_properties(std::span<const PropertyWrite> writes) {
        // Check everything first, so the batch applies whole or not at all.
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
        const Timestamp now = clock();
        const bool events = want_events();
        std::vector<std::pair<TwinIndex, json>> patches;  // per twin, first-write order
        std::unordered_map<TwinIndex, std::size_t> patch_of;
        for (const PropertyWrite& w : writes) {
            TwinMeta& m = state.twin_meta.mut(w.twin, copies);
            m.etag = ++state.etag_counter;
            m.last_update = now.ns;
            Column& c = state.tables[m.table].columns[w.column];
            const bool was_set = c.has(m.row);
            switch (c.type) {
            case dtdl::ColumnType::float64: c.f64.set(m.row, w.value, copies); break;
            case dtdl::ColumnType::int64: c.i64.set(m.row, static_cast<std::int64_t>(w.value), copies); break;
            case dtdl::ColumnType::boolean: c.b.set(m.row, w.value != 0.0 ? 1 : 0, copies); break;
            default: break;
            }
            if (!was_set) c.present.mut(m.row >> 6, copies) |= std::uint64_t{1} << (m.row & 63);
            c.last_update.set(m.row, now.ns, copies);
            if (w.source_time) c.set_source_time(m.row, w.source_time->ns, copies);
            if (events) {
                auto [it, fresh] = patch_of.emplace(w.twin, patches.size());
                if (fresh) patches.emplace_back(w.twin, json::array());
                const std::string& name = state.model_of(w.twin).layout.slots[w.column].name;
                json& patch = patches[it->second].second;
                patch.push_back({{"op", was_set ? "replace" : "add"}, {"path", member_path("", name)},
                                 {"value", column_value(c, m.row)}});
                if (w.source_time)
                    patch.push_back({{"op", "add"}, {"path", member_path(member_path("/$metadata", name), "sourceTime")},
                                     {"value", format_timestamp(*w.source_time)}});
            }
        }
        if (events) {
            for (auto& [t, patch] : patches)
                emit(ChangeType::twin_update, state.twin_ids[t], {},
                     json{{"modelId", state.tables[state.twin_meta[t].table].model_id}, {"patch", std::move(patch)}}, now);
        }
    }

    json upsert_relationship(std::string_view source_id, std::string_view rel_id, const json& doc, const WriteCondition& cond) {
        const TwinIndex source = require_twin(source_id);
        const std::string ctx = rel_ctx(source_id, rel_id);
        if (rel_id.empty()) throw ValidationError("InvalidRelationship", "a relationship id must not be empty");
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

    void update_relationship(std::string_view source_id, std::string_view rel_id, const json& patch,
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

    void delete_relationship(std::string_view source_id, std::string_view rel_id, const std::optional<std::string>& if_match) {
        const TwinIndex source = require_twin(source_id);
        const RelationshipIndex r = require_rel(source, source_id, rel_id);
        check_etag(state.rels[r].etag, if_match, rel_ctx(source_id, rel_id));
        delete_rel(r, clock());
    }

    // --- bulk loading (mutex held) ---------------------------------------------------
    bool try_create_twin(std::string_view id, std::string_view model_id, std::span<const NumericValue> props,
                         std::optional<Timestamp> last_update, std::span<const PropertyTimes> times) {
        if (id.empty() || state.find_twin(id)) return false;
        const auto index = state.models->find(model_id);
        if (!index) return false;
        const ModelInfo* info = state.model_info(model_id);
        if (info && info->decommissioned) return false;
        const dtdl::CompiledInterface& model = state.models->at(*index);
        for (const dtdl::Content* c : model.contents)
            if (c->kind == dtdl::ContentKind::component) return false;  // must be initialised: the general path says so
        // Validate everything before changing anything.
        scratch_columns.clear();
        for (const NumericValue& v : props) {
            if (v.name.empty() || v.name[0] == '$') return false;
            const dtdl::Content* c = model.find(v.name);
            if (!c || c->kind != dtdl::ContentKind::property) return false;
            const json value = v.to_json();
            if (!dtdl::validate_value(*c->schema, value).empty()) return false;
            const std::uint32_t column = model.layout.find(v.name)->column;
            for (const ScratchCell& seen : scratch_columns)
                if (seen.column == column) return false;  // a repeated member: the general path keeps the last
            scratch_columns.push_back({column, value, no_time, no_time});
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
        const std::uint32_t ti = table_for(model_id, *index);
        const TwinIndex t = alloc_twin(id);
        const std::uint32_t row = alloc_row(ti, t);
        PropertyTable& table = state.tables[ti];
        for (const ScratchCell& cell : scratch_columns) {
            Column& c = table.columns[cell.column];
            set_cell(c, row, cell.value);
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

    bool try_create_relationship(std::string_view source_id, std::string_view rel_id, std::string_view target_id,
                                 std::string_view name, std::span<const NumericValue> props) {
        if (rel_id.empty() || target_id.empty() || target_id == source_id) return false;
        const auto source = state.find_twin(source_id);
        if (!source || state.find_rel(*source, rel_id)) return false;
        const dtdl::CompiledInterface& model = state.model_of(*source);
        const dtdl::Content* c = model.find(name);
        if (!c || c->kind != dtdl::ContentKind::relationship) return false;
        const auto target = state.find_twin(target_id);
        if (!target) return false;
        if (!c->target.empty()) {
            const auto want = state.models->find(c->target);
            if (!want || !state.models->is_a(state.tables[state.twin_meta[*target].table].interface, *want)) return false;
        }
        ParsedRel p;
        p.target = *target;
        p.name = std::string(name);
        for (const NumericValue& v : props) {
            if (v.name.empty() || v.name[0] == '$') return false;
            const auto pc = std::find_if(c->properties.begin(), c->properties.end(),
                                         [&](const dtdl::Content& x) { return x.name == v.name; });
            if (pc == c->properties.end()) return false;
            json value = v.to_json();
            if (!dtdl::validate_value(*pc->schema, value).empty()) return false;
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

    // --- models -----------------------------------------------------------------------
    std::vector<dtdl::Document> stored_documents(std::string_view except = {}) const {
        std::vector<dtdl::Document> docs;
        for (const ModelInfo& m : *state.model_infos) {
            if (m.definition.is_null() || m.id == except) continue;
            docs.push_back(dtdl::Document{"<model " + m.id + ">", m.definition.dump()});
        }
        return docs;
    }

    void install_models(std::shared_ptr<const dtdl::ModelSet> models, std::vector<ModelInfo> infos) {
        std::sort(infos.begin(), infos.end(), [](const ModelInfo& a, const ModelInfo& b) { return a.id < b.id; });
        state.models = std::move(models);
        state.model_infos = std::make_shared<const std::vector<ModelInfo>>(std::move(infos));
        for (PropertyTable& t : state.tables) {
            const auto i = state.models->find(t.model_id);
            t.interface = i ? *i : no_index;
        }
    }

    std::vector<std::string> add_models(std::span<const dtdl::Document> documents) {
        // Top-level interfaces of the new documents, with their definitions.
        std::map<std::string, json> defined;
        for (const dtdl::Document& d : documents) {
            // Malformed or too deep: the DTDL parser below reports it with line and column.
            if (find_json_depth_excess(d.text)) continue;
            json j = json::parse(d.text, nullptr, false);
            if (j.is_discarded()) continue;
            auto take = [&](const json& e) {
                if (!e.is_object()) return;
                auto id = e.find("@id");
                if (id == e.end() || !id->is_string()) return;
                const std::string& s = id->get_ref<const std::string&>();
                if (state.model_info(s) || state.models->find(s))
                    throw ConflictError("ModelAlreadyExists", "model " + s + " (" + d.source +
                                                                  ") already exists; a model cannot be redefined");
                defined.emplace(s, e);
            };
            if (j.is_array())
                for (const json& e : j) take(e);
            else
                take(j);
        }
        std::vector<dtdl::Document> all = stored_documents();
        all.insert(all.end(), documents.begin(), documents.end());
        dtdl::ParseOptions po;
        po.allow_undefined_extensions = options.allow_undefined_extensions;
        auto models = dtdl::ModelSet::compile(all, po);
        std::vector<ModelInfo> infos = *state.model_infos;
        std::vector<std::string> added;
        const Timestamp now = clock();
        for (const dtdl::CompiledInterface& ci : models->interfaces()) {
            const std::string& id = ci.definition->id;
            if (state.model_info(id)) continue;
            ModelInfo info;
            info.id = id;
            info.upload_time = now;
            auto d = defined.find(id);
            if (d != defined.end()) info.definition = d->second;  // inline interfaces travel inside their parent
            infos.push_back(std::move(info));
            added.push_back(id);
        }
        install_models(std::move(models), std::move(infos));
        return added;
    }

    void decommission_model(std::string_view model_id) {
        if (!state.model_info(model_id)) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
        auto infos = std::make_shared<std::vector<ModelInfo>>(*state.model_infos);
        for (ModelInfo& m : *infos)
            if (m.id == model_id) m.decommissioned = true;
        state.model_infos = std::move(infos);
    }

    void delete_model(std::string_view model_id) {
        const ModelInfo* info = state.model_info(model_id);
        if (!info) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
        const std::string id(model_id);
        if (info->definition.is_null())
            throw ConflictError("ModelReferencesNotDeleted",
                                "model " + id + " is defined inside another model; delete that model instead");
        const dtdl::InterfaceIndex self = *state.models->find(id);
        // Other models that extend it, use it as a component or name it as a relationship target.
        std::vector<std::string> users;
        for (const dtdl::CompiledInterface& ci : state.models->interfaces()) {
            if (ci.index == self) continue;
            bool uses = std::find(ci.bases.begin(), ci.bases.end(), self) != ci.bases.end();
            for (const dtdl::Content& c : ci.definition->contents)
                if ((c.kind == dtdl::ContentKind::component && c.component_interface == id) ||
                    (c.kind == dtdl::ContentKind::relationship && c.target == id))
                    uses = true;
            if (uses) users.push_back(ci.definition->id);
        }
        // Recompiling without it also catches references only the parser sees.
        std::shared_ptr<const dtdl::ModelSet> models;
        if (users.empty()) {
            try {
                dtdl::ParseOptions po;
                po.allow_undefined_extensions = options.allow_undefined_extensions;
                models = dtdl::ModelSet::compile(stored_documents(id), po);
            } catch (const dtdl::ModelError& e) {
                throw ConflictError("ModelReferencesNotDeleted",
                                    "model " + id + " is still referenced by other models: " + e.what());
            }
        } else {
            std::string list;
            for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
            throw ConflictError("ModelReferencesNotDeleted", "model " + id + " is still used by " + list);
        }
        // Twins of it, or of interfaces defined inside it, block deletion.
        for (const PropertyTable& t : state.tables)
            if (t.live > 0 && !models->find(t.model_id))
                throw ConflictError("ModelReferencesNotDeleted", "model " + id + " still has " + std::to_string(t.live) +
                                                                     " twins of " + t.model_id);
        std::vector<ModelInfo> infos;
        for (const ModelInfo& m : *state.model_infos)
            if (models->find(m.id)) infos.push_back(m);
        install_models(std::move(models), std::move(infos));
    }
};

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

std::vector<std::string> TwinGraph::add_models(std::span<const dtdl::Document> documents) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    return impl_->add_models(documents);
}

void TwinGraph::decommission_model(std::string_view model_id) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->decommission_model(model_id);
}

void TwinGraph::delete_model(std::string_view model_id) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->delete_model(model_id);
}

json TwinGraph::upsert_twin(std::string_view twin_id, const json& twin, const WriteCondition& condition) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    return impl_->upsert_twin(twin_id, twin, condition);
}

void TwinGraph::update_twin(std::string_view twin_id, const json& patch, const std::optional<std::string>& if_match) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->update_twin(twin_id, patch, if_match);
}

void TwinGraph::delete_twin(std::string_view twin_id, const std::optional<std::string>& if_match, bool cascade) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    // A cascade is several changes; make it one.
    impl_->run_atomic([&] { impl_->delete_twin(twin_id, if_match, cascade); });
}

void TwinGraph::update_twins(std::span<const TwinPatch> patches) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->run_atomic([&] {
        for (const TwinPatch& p : patches) impl_->update_twin(p.twin_id, p.patch, p.if_match);
    });
}

void TwinGraph::write_properties(std::span<const PropertyWrite> writes) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->write_properties(writes);
}

json TwinGraph::upsert_relationship(std::string_view source_id, std::string_view relationship_id, const json& relationship,
                                    const WriteCondition& condition) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    return impl_->upsert_relationship(source_id, relationship_id, relationship, condition);
}

void TwinGraph::update_relationship(std::string_view source_id, std::string_view relationship_id, const json& patch,
                                    const std::optional<std::string>& if_match) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->update_relationship(source_id, relationship_id, patch, if_match);
}

void TwinGraph::delete_relationship(std::string_view source_id, std::string_view relationship_id,
                                    const std::optional<std::string>& if_match) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->delete_relationship(source_id, relationship_id, if_match);
}

void TwinGraph::restore_twin(std::string_view twin_id, const json& twin) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    (void)impl_->upsert_twin(twin_id, twin, WriteCondition{std::nullopt, true}, /*restore=*/true);
}

bool TwinGraph::try_create_twin(std::string_view twin_id, std::string_view model_id,
                                std::span<const NumericValue> properties, std::optional<Timestamp> last_update,
                                std::span<const PropertyTimes> times) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    return impl_->try_create_twin(twin_id, model_id, properties, last_update, times);
}

bool TwinGraph::try_create_relationship(std::string_view source_id, std::string_view relationship_id,
                                        std::string_view target_id, std::string_view name,
                                        std::span<const NumericValue> properties) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    return impl_->try_create_relationship(source_id, relationship_id, target_id, name, properties);
}

void TwinGraph::atomically(const std::function<void(TwinGraph&)>& body) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->run_atomic([&] { body(*this); });
}

Snapshot TwinGraph::snapshot() const {
    std::lock_guard lock(impl_->mutex);
    auto state = std::make_shared<GraphState>(impl_->state);
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

void TwinGraph::unsubscribe(ListenerId id) {
    std::lock_guard lock(impl_->mutex);
    impl_->guard();
    impl_->listeners.erase(id);
}

json TwinGraph::get_twin(std::string_view twin_id) const {
    std::lock_guard lock(impl_->mutex);
    return twin_json(impl_->state, impl_->require_twin(twin_id));
}

json TwinGraph::get_relationship(std::string_view source_id, std::string_view relationship_id) const {
    std::lock_guard lock(impl_->mutex);
    const TwinIndex s = impl_->require_twin(source_id);
    return relationship_json(impl_->state, impl_->require_rel(s, source_id, relationship_id));
}

std::optional<double> TwinGraph::numeric_value(TwinIndex twin, std::uint32_t column) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.numeric_value(twin, column);
}

std::optional<TwinIndex> TwinGraph::find(std::string_view twin_id) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.find_twin(twin_id);
}

std::size_t TwinGraph::twin_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.twin_count;
}

std::size_t TwinGraph::relationship_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.relationship_count;
}

GraphStats TwinGraph::stats() const {
    std::lock_guard lock(impl_->mutex);
    GraphStats s;
    s.twins = impl_->state.twin_count;
    s.relationships = impl_->state.relationship_count;
    s.models = impl_->state.model_infos->size();
    s.bytes_copied = impl_->copies.bytes;
    s.chunks_copied = impl_->copies.chunks;
    s.directories_copied = impl_->copies.directories;
    s.events_emitted = impl_->sequence;
    return s;
}

}  // namespace twinsim::graph
