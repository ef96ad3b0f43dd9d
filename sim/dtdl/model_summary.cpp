#include "twinsim/dtdl/model_summary.hpp"

#include <algorithm>

namespace twinsim::dtdl {
namespace {

using nlohmann::ordered_json;

template <typename Range, typename Fn>
std::string join(const Range& items, std::string_view separator, Fn&& text) {
    std::string out;
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += separator;
        first = false;
        out += text(item);
    }
    return out;
}

ordered_json null_if_empty(const std::string& text) { return text.empty() ? ordered_json() : ordered_json(text); }

ordered_json payload_json(const std::optional<dtdl::CommandPayload>& payload) {
    if (!payload) return nullptr;
    return {{"name", payload->name}, {"schema", describe_schema(payload->schema)}};
}

void add_semantics(ordered_json& object, const dtdl::Annotations& annotations) {
    object["semantic_types"] = annotations.extra_types;
    object["unit"] = null_if_empty(annotations.unit);
}

}  // namespace

std::string describe_schema(const dtdl::SchemaPtr& schema) { return schema ? describe_schema(*schema) : std::string(); }

std::string describe_schema(const dtdl::Schema& schema) {
    switch (schema.kind) {
        case SchemaKind::array:
            return "Array<" + describe_schema(schema.element_schema) + ">";
        case SchemaKind::map:
            return "Map<string, " + describe_schema(schema.map_value_schema) + ">";
        case SchemaKind::object:
            return "Object{" + join(schema.fields, ", ", [](const dtdl::Field& f) {
                       return f.name + ": " + describe_schema(f.schema);
                   }) + "}";
        case SchemaKind::enum_:
            return std::string("Enum<") + dtdl::to_string(schema.enum_value_schema) + ">{" +
                   join(schema.enum_values, ", ", [](const dtdl::EnumValue& v) { return v.name; }) + "}";
        default:
            return dtdl::to_string(schema.kind);
    }
}

std::string localized(const dtdl::LocalizedText& text) {
    if (auto en = text.find("en"); en != text.end()) return en->second;
    return text.empty() ? std::string() : text.begin()->second;
}

std::string declared_in(const dtdl::ModelSet& model, const dtdl::CompiledInterface& iface, std::string_view name) {
    const auto declares = [name](const dtdl::Interface& definition) {
        return std::any_of(definition.contents.begin(), definition.contents.end(),
                           [name](const Content& c) { return c.name == name; });
    };
    if (declares(*iface.definition)) return iface.definition->id;
    for (const dtdl::InterfaceIndex ancestor : iface.ancestors) {
        if (declares(*model.at(ancestor).definition)) return model.at(ancestor).definition->id;
    }
    return {};
}

std::vector<std::string> interface_ids(const dtdl::ModelSet& model, const std::vector<dtdl::InterfaceIndex>& indices) {
    std::vector<std::string> ids;
    ids.reserve(indices.size());
    for (const dtdl::InterfaceIndex i : indices) ids.push_back(model.at(i).definition->id);
    return ids;
}

std::string counted(std::size_t n, std::string_view singular, std::string_view plural) {
    return std::to_string(n) + " " + std::string(n == 1 ? singular : plural);
}

std::string problem_counts(std::size_t errors, std::size_t unresolved) {
    std::string text;
    if (errors > 0) text = counted(errors, "error", "errors");
    if (errors > 0 && unresolved > 0) text += ", ";
    if (unresolved > 0) text += counted(unresolved, "unresolved identifier", "unresolved identifiers");
    return text;
}

std::string semantic_text(const dtdl::Annotations& annotations) {
    std::string out = join(annotations.extra_types, ", ", [](const std::string& t) { return t; });
    if (!annotations.unit.empty()) out += (out.empty() ? "" : ", ") + annotations.unit;
    return out;
}

std::string multiplicity_text(const Content& relationship) {
    const std::string low = std::to_string(relationship.min_multiplicity.value_or(0));
    const std::string high = relationship.max_multiplicity ? std::to_string(*relationship.max_multiplicity) : "*";
    return low + ".." + high;
}

ordered_json interface_json(const dtdl::ModelSet& model, const dtdl::CompiledInterface& iface) {
    const dtdl::Interface& definition = *iface.definition;
    ordered_json out;
    out["id"] = definition.id;
    out["display_name"] = null_if_empty(localized(definition.annotations.display_name));
    out["description"] = null_if_empty(localized(definition.annotations.description));
    out["file"] = definition.file;
    out["dtdl_version"] = static_cast<int>(definition.version);
    out["extends"] = definition.extends;
    out["ancestors"] = interface_ids(model, iface.ancestors);

    ordered_json properties = ordered_json::array();
    ordered_json telemetry = ordered_json::array();
    ordered_json commands = ordered_json::array();
    ordered_json relationships = ordered_json::array();
    ordered_json components = ordered_json::array();
    for (const Content* content : iface.contents) {
        ordered_json item{{"name", content->name}};
        switch (content->kind) {
            case ContentKind::property: {
                item["schema"] = describe_schema(content->schema);
                add_semantics(item, content->annotations);
                item["writable"] = content->writable;
                const dtdl::PropertySlot* slot = iface.layout.find(content->name);
                item["column_type"] = slot ? ordered_json(dtdl::to_string(slot->type)) : ordered_json();
                break;
            }
            case ContentKind::telemetry:
                item["schema"] = describe_schema(content->schema);
                add_semantics(item, content->annotations);
                break;
            case ContentKind::command:
                item["request"] = payload_json(content->request);
                item["response"] = payload_json(content->response);
                break;
            case ContentKind::relationship: {
                item["target"] = null_if_empty(content->target);
                item["min_multiplicity"] = content->min_multiplicity ? ordered_json(*content->min_multiplicity) : ordered_json();
                item["max_multiplicity"] = content->max_multiplicity ? ordered_json(*content->max_multiplicity) : ordered_json();
                item["writable"] = content->writable;
                ordered_json& props = item["properties"] = ordered_json::array();
                for (const Content& p : content->properties) {
                    props.push_back({{"name", p.name}, {"schema", describe_schema(p.schema)}, {"writable", p.writable}});
                }
                break;
            }
            case ContentKind::component:
                item["interface"] = content->component_interface;
                break;
        }
        item["declared_in"] = declared_in(model, iface, content->name);
        switch (content->kind) {
            case ContentKind::property: properties.push_back(std::move(item)); break;
            case ContentKind::telemetry: telemetry.push_back(std::move(item)); break;
            case ContentKind::command: commands.push_back(std::move(item)); break;
            case ContentKind::relationship: relationships.push_back(std::move(item)); break;
            case ContentKind::component: components.push_back(std::move(item)); break;
        }
    }
    out["properties"] = std::move(properties);
    out["telemetry"] = std::move(telemetry);
    out["commands"] = std::move(commands);
    out["relationships"] = std::move(relationships);
    out["components"] = std::move(components);
    return out;
}

ordered_json diagnostic_json(const dtdl::Diagnostic& diagnostic) {
    return {{"file", diagnostic.file},
            {"id", diagnostic.id},
            {"path", diagnostic.path},
            {"message", diagnostic.message},
            {"rule", diagnostic.rule}};
}

}  // namespace twinsim::dtdl
