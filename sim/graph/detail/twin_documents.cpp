#include "twinsim/graph/detail/twin_documents.hpp"

#include <algorithm>

#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/common/json_pointer.hpp"
#include "twinsim/graph/detail/json_patch.hpp"
#include "twinsim/graph/detail/messages.hpp"
#include "twinsim/graph/detail/twin_json.hpp"
#include "twinsim/graph/errors.hpp"

namespace twinsim::graph::detail {

using nlohmann::json;

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

void Problems::add(std::string_view path, std::string_view message) {
    std::string s(path);
    if (!s.empty()) s += ": ";
    s += message;
    items_.push_back(std::move(s));
}

void Problems::throw_if_any(const char* code) const {
    if (items_.empty()) return;
    std::string msg = context_;
    for (std::size_t i = 0; i < items_.size(); ++i) {
        msg += i == 0 ? ": " : "; ";
        msg += items_[i];
    }
    throw ValidationError(code, msg);
}

namespace {

bool same_ignoring_case(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

/// " (did you mean 'since'? ...)" when a declared name differs from `key` in
/// ASCII case only, else "".
template <class Names>
std::string case_hint(std::string_view key, const Names& names) {
    for (const std::string_view name : names)
        if (name != key && same_ignoring_case(name, key))
            return " (did you mean " + in_quotes(name) + "? names are case-sensitive)";
    return {};
}

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
                if (st != no_time) md[it.key()]["sourceTime"] = format_source_time(st);
                if (recorded != no_time) md[it.key()]["lastUpdateTime"] = format_timestamp(Timestamp{recorded});
            }
        }
    }
    stored["$metadata"] = std::move(md);
    out[c.name] = std::move(stored);
}

}  // namespace

ParsedTwin parse_twin(const GraphState& s, std::string_view id, const json& doc, bool restore) {
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
            std::vector<std::string_view> names;
            for (const dtdl::Content* content : model.contents) names.push_back(content->name);
            problems.add(path, "not declared by " + model_id + case_hint(key, names));
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
            std::vector<std::string_view> names;
            for (const dtdl::Content& pc : c->properties) names.push_back(pc.name);
            problems.add(path, "not a property of relationship " + in_quotes(out.name) + case_hint(key, names));
            continue;
        }
        check_value(*p, it.value(), path, problems);
        out.props[key] = it.value();
    }
    problems.throw_if_any("ValidationFailed");
    return out;
}

}  // namespace twinsim::graph::detail
