#include "twinsim/graph/adt_api.hpp"

#include <array>
#include <utility>

#include "twinsim/common/json_pointer.hpp"
#include "twinsim/graph/detail/json_patch.hpp"
#include "twinsim/graph/detail/messages.hpp"
#include "twinsim/graph/errors.hpp"

namespace twinsim::graph::adt {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<MatchCondition, const char*>, 5> condition_names{{
    {MatchCondition::unconditionally, "Unconditionally"},
    {MatchCondition::if_not_modified, "IfNotModified"},
    {MatchCondition::if_modified, "IfModified"},
    {MatchCondition::if_present, "IfPresent"},
    {MatchCondition::if_missing, "IfMissing"},
}};

[[noreturn]] void unsupported(MatchCondition condition, const char* why = "") {
    std::string message = "Unsupported match condition: MatchConditions.";
    message += to_string(condition);
    message += why;
    throw ValidationError("InvalidArgument", message);
}

/// displayName / description as ADT reports them: language -> text.
json localized(const json& definition, const char* key) {
    if (!definition.is_object()) return json::object();
    const auto it = definition.find(key);
    if (it == definition.end()) return json::object();
    if (it->is_string()) return json{{"en", *it}};
    if (it->is_object()) return *it;
    return json::object();
}

}  // namespace

std::optional<MatchCondition> parse_match_condition(std::string_view name) noexcept {
    for (const auto& [condition, text] : condition_names)
        if (name == text) return condition;
    return std::nullopt;
}

const char* to_string(MatchCondition condition) noexcept {
    for (const auto& [c, text] : condition_names)
        if (c == condition) return text;
    return "?";
}

MatchCondition effective_condition(std::optional<MatchCondition> condition, const std::optional<std::string>& etag) {
    if (!condition) return etag ? MatchCondition::if_not_modified : MatchCondition::unconditionally;
    if (*condition == MatchCondition::if_not_modified && !etag)
        throw ValidationError("InvalidArgument", "etag must be provided for match_condition IfNotModified");
    return *condition;
}

WriteCondition upsert_condition(std::optional<MatchCondition> condition, const std::optional<std::string>& etag) {
    WriteCondition out;
    switch (effective_condition(condition, etag)) {
        case MatchCondition::unconditionally: break;
        case MatchCondition::if_not_modified: out.if_match = *etag; break;
        case MatchCondition::if_present: out.if_match.emplace(1, '*'); break;
        case MatchCondition::if_missing: out.if_none_match = true; break;
        case MatchCondition::if_modified: unsupported(MatchCondition::if_modified);
    }
    return out;
}

std::optional<std::string> if_match(std::optional<MatchCondition> condition, const std::optional<std::string>& etag) {
    switch (effective_condition(condition, etag)) {
        case MatchCondition::unconditionally: return std::nullopt;
        case MatchCondition::if_not_modified: return *etag;
        case MatchCondition::if_present: return std::string("*");
        case MatchCondition::if_missing: unsupported(MatchCondition::if_missing, " (create only applies to upserts)");
        case MatchCondition::if_modified: unsupported(MatchCondition::if_modified);
    }
    return std::nullopt;
}

std::vector<ModelInfo> dependencies_for(const Snapshot& snapshot, std::span<const std::string> model_ids) {
    const auto& models = snapshot.models();
    std::vector<bool> wanted(models->size(), false);
    std::vector<dtdl::InterfaceIndex> pending;
    for (const std::string& id : model_ids) {
        const auto index = models->find(id);
        if (!index) throw NotFoundError("ModelNotFound", "There is no model with the id " + id + ".");
        pending.push_back(*index);
    }
    while (!pending.empty()) {
        const dtdl::InterfaceIndex index = pending.back();
        pending.pop_back();
        if (wanted[index]) continue;
        wanted[index] = true;
        const dtdl::CompiledInterface& iface = models->at(index);
        for (const dtdl::InterfaceIndex base : iface.ancestors) pending.push_back(base);
        for (const dtdl::Content* content : iface.contents) {
            if (content->kind != dtdl::ContentKind::component) continue;
            if (const auto component = models->find(content->component_interface)) pending.push_back(*component);
        }
    }
    std::vector<ModelInfo> out = snapshot.list_models();
    std::erase_if(out, [&](const ModelInfo& info) {
        const auto index = models->find(info.id);
        return !index || !wanted[*index];
    });
    return out;
}

json model_data(const ModelInfo& model, bool include_definition) {
    json out = json::object();
    out["id"] = model.id;
    out["displayName"] = localized(model.definition, "displayName");
    out["description"] = localized(model.definition, "description");
    out["uploadTime"] = format_timestamp(model.upload_time);
    out["decommissioned"] = model.decommissioned;
    if (include_definition) out["model"] = model.definition;
    return out;
}

void update_model(TwinGraph& graph, std::string_view model_id, const json& patch) {
    const auto invalid = [&](std::size_t index, const std::string& why) {
        throw ValidationError("JsonPatchInvalid", "JSON Patch of model " + std::string(model_id) + ", operation " +
                                                      std::to_string(index) + ": " + why);
    };
    if (!patch.is_array() || patch.empty())
        throw ValidationError("JsonPatchInvalid", "JSON Patch of model " + std::string(model_id) +
                                                      ": expected a non-empty array of operations");
    bool decommission = false;
    for (std::size_t i = 0; i < patch.size(); ++i) {
        const json& op = patch[i];
        if (!op.is_object()) invalid(i, "not an object");
        const json& kind = op.contains("op") ? op.at("op") : json();
        const json& path = op.contains("path") ? op.at("path") : json();
        const json& value = op.contains("value") ? op.at("value") : json();
        if (!kind.is_string() || (kind != "replace" && kind != "add"))
            invalid(i, "only \"replace\" of /decommissioned is allowed on a model");
        if (!path.is_string() || path != "/decommissioned") invalid(i, "only /decommissioned can change on a model");
        if (!value.is_boolean()) invalid(i, "/decommissioned takes true or false");
        if (value.get<bool>()) decommission = true;
        else if (graph.snapshot().get_model(model_id).decommissioned)
            invalid(i, "a decommissioned model cannot be brought back (decommissioned: false)");
    }
    if (decommission) graph.decommission_model(model_id);
    else (void)graph.snapshot().get_model(model_id);  // ModelNotFound for an unknown id
}

DeletedCounts delete_all(TwinGraph& graph) {
    DeletedCounts counts;
    graph.atomically([&](TwinGraph& g) {
        const Snapshot now = g.snapshot();
        for (const TwinIndex twin : now.twins()) {
            const std::string& id = now.twin_id(twin);
            for (const RelationshipIndex r : now.out_relationships(twin)) {
                g.delete_relationship(id, now.relationship_id(r));
                ++counts.relationships;
            }
        }
        for (const TwinIndex twin : now.twins()) {
            g.delete_twin(now.twin_id(twin));
            ++counts.twins;
        }
        // A model another one extends or uses cannot go first: delete what
        // nothing references, again and again, until none is left.
        std::vector<ModelInfo> left = now.list_models();
        while (!left.empty()) {
            std::vector<ModelInfo> kept;
            for (const ModelInfo& model : left) {
                try {
                    g.delete_model(model.id);
                    ++counts.models;
                } catch (const ConflictError&) {
                    kept.push_back(model);
                }
            }
            if (kept.size() == left.size())
                throw ConflictError("ModelReferencesNotDeleted", "the models " + kept.front().id + " ... reference each other");
            left = std::move(kept);
        }
    });
    return counts;
}

json get_component(const Snapshot& snapshot, std::string_view twin_id, std::string_view component_name) {
    json twin = snapshot.get_twin(twin_id);  // DigitalTwinNotFound
    const auto index = snapshot.find(twin_id);
    const dtdl::Content* content = snapshot.models()->at(snapshot.twin_model(*index)).find(component_name);
    const std::string name(component_name);
    if (content == nullptr || content->kind != dtdl::ContentKind::component || !twin.contains(name)) {
        std::string message = "Twin ";
        message += twin_id;
        message += " has no component named ";
        message += component_name;
        message += '.';
        throw NotFoundError("ComponentNotFound", message);
    }
    return std::move(twin[name]);
}

json component_patch(std::string_view component_name, const json& patch) {
    json out = patch;
    if (!out.is_array()) return out;
    std::string prefix(1, '/');
    prefix += escape_pointer_token(component_name);
    for (json& operation : out) {
        if (!operation.is_object()) continue;
        const auto path = operation.find("path");
        if (path != operation.end() && path->is_string()) path->get_ref<std::string&>().insert(0, prefix);
    }
    return out;
}

void update_component(TwinGraph& graph, std::string_view twin_id, std::string_view component_name, const json& patch,
                      const std::optional<std::string>& if_match) {
    const json prefixed = component_patch(component_name, patch);
    graph.atomically([&](TwinGraph& g) {
        (void)get_component(g.snapshot(), twin_id, component_name);  // DigitalTwinNotFound, ComponentNotFound
        g.update_twin(twin_id, prefixed, if_match);
    });
}

}  // namespace twinsim::graph::adt
