#include "twinsim/live/telemetry.hpp"

#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/units.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/errors.hpp"

namespace twinsim::live {

using nlohmann::json;

namespace {

std::string names_of(const dtdl::CompiledInterface& ci, dtdl::ContentKind kind) {
    std::string out;
    for (const dtdl::Content* c : ci.contents) {
        if (c->kind != kind) continue;
        if (!out.empty()) out += ", ";
        out += c->name;
    }
    return out.empty() ? "none" : out;
}

const char* article_kind(dtdl::ContentKind k) {
    switch (k) {
    case dtdl::ContentKind::property: return "a Property";
    case dtdl::ContentKind::telemetry: return "a Telemetry";
    case dtdl::ContentKind::command: return "a Command";
    case dtdl::ContentKind::relationship: return "a Relationship";
    case dtdl::ContentKind::component: return "a Component";
    }
    return "a content";
}

}  // namespace

TelemetryMessage check_telemetry(const graph::Snapshot& snapshot, std::string_view twin_id, std::string_view component,
                                 const json& payload, const std::map<std::string, std::string>& units) {
    std::string where = "telemetry of twin '";
    where += twin_id;
    where += "'";
    const auto twin = snapshot.find(twin_id);
    if (!twin) throw graph::NotFoundError("DigitalTwinNotFound", where + ": the twin does not exist");
    const auto& models = snapshot.models();
    const dtdl::CompiledInterface* ci = &models->at(snapshot.twin_model(*twin));
    std::string model_id = ci->definition->id;
    where += " (model " + model_id;
    if (!component.empty()) {
        const dtdl::Content* c = ci->find(component);
        if (!c || c->kind != dtdl::ContentKind::component)
            throw graph::NotFoundError("ComponentNotFound", where + "): the model has no component '" + std::string(component) +
                                                                "' (components: " + names_of(*ci, dtdl::ContentKind::component) + ")");
        ci = &models->get(c->component_interface);
        model_id = ci->definition->id;
        where += ", component '" + std::string(component) + "' of model " + model_id;
    }
    where += ")";
    if (!payload.is_object())
        throw TelemetryError(where + ": the payload must be a JSON object of telemetry names and values, not " +
                             (payload.is_array() ? "an array" : payload.is_null() ? "null" : std::string("a ") + payload.type_name()));
    if (payload.empty()) throw TelemetryError(where + ": the payload is empty (it names no telemetry)");
    if (json_deeper_than(payload)) throw TelemetryError(where + ": " + json_depth_reason());
    for (const auto& [name, unit] : units)
        if (!payload.contains(name))
            throw TelemetryError(where + ": a unit is given for '" + name + "', which the payload does not carry");
    TelemetryMessage out;
    out.twin_id = std::string(twin_id);
    out.component = std::string(component);
    out.model_id = model_id;
    out.payload = payload;
    for (auto it = out.payload.begin(); it != out.payload.end(); ++it) {
        const std::string& name = it.key();
        const std::string what = where + ", telemetry '" + name + "'";
        const dtdl::Content* c = ci->find(name);
        if (!c)
            throw TelemetryError(what + ": the model declares no such telemetry (its telemetry: " +
                                 names_of(*ci, dtdl::ContentKind::telemetry) + ")");
        if (c->kind != dtdl::ContentKind::telemetry)
            throw TelemetryError(what + ": '" + name + "' is " + article_kind(c->kind) +
                                 " of the model, not a Telemetry (set properties with update_digital_twin)");
        if (auto u = units.find(name); u != units.end()) {
            const std::string& declared = c->annotations.unit;
            if (declared.empty())
                throw TelemetryError(what + ": a unit ('" + u->second + "') is given, but the Telemetry declares no unit");
            if (!it.value().is_number())
                throw TelemetryError(what + ": a unit ('" + u->second + "') is given for a value that is not a number");
            if (!unit_info(u->second))
                throw TelemetryError(what + ": unknown unit '" + u->second + "'");
            const auto converted = convert_unit(it.value().get<double>(), u->second, declared);
            if (!converted)
                throw TelemetryError(what + ": unit '" + u->second + "' does not convert to the Telemetry's unit '" + declared + "'");
            it.value() = *converted;
        }
        const std::vector<dtdl::ValueError> errors = dtdl::validate_value(*c->schema, it.value());
        if (!errors.empty()) {
            std::string why;
            for (const dtdl::ValueError& e : errors) {
                if (!why.empty()) why += "; ";
                if (!e.path.empty()) why += e.path + ": ";
                why += e.message;
            }
            throw TelemetryError(what + ": " + why);
        }
    }
    return out;
}

}  // namespace twinsim::live
