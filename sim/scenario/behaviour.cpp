#include "twinsim/scenario/behaviour.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "twinsim/common/time.hpp"
#include "twinsim/common/units.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

namespace {

std::string shortest(double x) {
    std::ostringstream out;
    out << std::setprecision(15) << x;
    return out.str();
}

}  // namespace

ParameterReader::ParameterReader(const nlohmann::json& parameters, std::span<const ModelParameter> declared)
    : parameters_(parameters), declared_(declared) {
    if (!parameters_.is_object()) throw ModelParameterError("parameters", "expected a mapping from name to value");
}

const ModelParameter& ParameterReader::declared(std::string_view name) const {
    for (const auto& p : declared_)
        if (p.name == name) return p;
    throw UsageError("ParameterReader: the model reads an undeclared parameter '" + std::string(name) + "'");
}

const nlohmann::json& ParameterReader::raw(std::string_view name) {
    const ModelParameter& p = declared(name);
    if (auto it = parameters_.find(std::string(name)); it != parameters_.end()) {
        if (!p.scenario_parameter && is_parameter_reference(*it))
            throw ModelParameterError(p.name, "cannot be set from a scenario parameter (" + it->dump() +
                                                  "): it shapes the model, so every run must have the same value");
        return *it;
    }
    if (p.default_value.is_null())
        throw ModelParameterError(p.name, "required" + (p.description.empty() ? std::string() : " (" + p.description + ")"));
    return p.default_value;
}

void ParameterReader::check_range(const ModelParameter& p, double x, double min, double max, const std::string& what) const {
    const std::string unit = p.unit.empty() || p.unit == "1" ? "" : " " + p.unit;
    if (!std::isfinite(x)) throw ModelParameterError(p.name, what + "must be finite");
    const double lo = std::max(min, p.min);
    if (p.min_exclusive && x <= p.min)
        throw ModelParameterError(p.name, what + "must be > " + shortest(p.min) + unit + ", found " + shortest(x) + unit);
    if (x < lo) throw ModelParameterError(p.name, what + "must be >= " + shortest(lo) + unit + ", found " + shortest(x) + unit);
    const double hi = std::min(max, p.max);
    if (x > hi) throw ModelParameterError(p.name, what + "must be <= " + shortest(hi) + unit + ", found " + shortest(x) + unit);
}

std::optional<double> ParameterReader::number(std::string_view name, double min, double max) {
    const ModelParameter& p = declared(name);
    const nlohmann::json& v = raw(name);
    if (is_parameter_reference(v)) return std::nullopt;
    double x = 0.0;
    if (v.is_number()) {
        x = v.get<double>();
    } else if (v.is_string()) {
        const std::string& text = v.get_ref<const std::string&>();
        const auto seconds = p.unit == "s" ? duration_seconds(text) : std::nullopt;
        if (seconds) {
            x = *seconds;
        } else {
            const auto q = split_quantity(text);
            const std::string expected = p.unit.empty() ? std::string("a number")
                                                        : "a number in " + p.unit + " or a string \"<number> <unit>\" with a unit of the same kind" +
                                                              (p.unit == "s" ? " (or an ISO 8601 duration such as \"PT2H\")" : "");
            if (!q || q->unit.empty()) throw ModelParameterError(p.name, "expected " + expected + ", found \"" + text + "\"");
            const auto converted = convert_unit(q->value, q->unit, p.unit);
            if (!converted) {
                const auto from = unit_info(q->unit);
                const auto to = unit_info(p.unit);
                const std::string why = !from ? "unknown unit \"" + q->unit + "\""
                                        : !to ? "this parameter takes no unit"
                                              : "\"" + q->unit + "\" is a unit of " + std::string(from->kind) + ", this parameter is a " +
                                                    std::string(to->kind) + " in " + p.unit;
                throw ModelParameterError(p.name, why + " (in \"" + text + "\")");
            }
            x = *converted;
        }
    } else {
        throw ModelParameterError(p.name, "expected a number, found " + v.dump());
    }
    check_range(p, x, min, max, "");
    return x;
}

double ParameterReader::required_number(std::string_view name, double min, double max) {
    auto x = number(name, min, max);
    if (!x) throw ModelParameterError(std::string(name), "refers to a parameter that has no value: " + raw(name).dump());
    return *x;
}

std::vector<std::optional<double>> ParameterReader::per_twin(std::string_view name, const graph::Snapshot& graph,
                                                             std::span<const graph::TwinIndex> twins, const TwinValue& value) {
    const ModelParameter& p = declared(name);
    if (p.twin_property.empty())
        throw UsageError("ParameterReader::per_twin: parameter '" + p.name + "' declares no twin_property");
    const std::optional<double> fallback = number(name);
    std::vector<std::optional<double>> out;
    out.reserve(twins.size());
    for (const graph::TwinIndex t : twins) {
        const auto& model = graph.models()->at(graph.twin_model(t));
        const dtdl::PropertySlot* slot = model.layout.find(p.twin_property);
        std::optional<double> own;
        if (slot != nullptr && (slot->type == dtdl::ColumnType::float64 || slot->type == dtdl::ColumnType::int64))
            own = value(t, slot->column);
        if (own) {
            check_range(p, *own, -HUGE_VAL, HUGE_VAL,
                        "twin \"" + graph.twin_id(t) + "\" property " + p.twin_property + " (which overrides it) ");
            out.push_back(own);
        } else {
            out.push_back(fallback);
        }
    }
    return out;
}

std::string ParameterReader::string(std::string_view name) {
    const nlohmann::json& v = raw(name);
    if (!v.is_string() || is_parameter_reference(v)) throw ModelParameterError(std::string(name), "expected a string, found " + v.dump());
    return v.get<std::string>();
}

void ParameterReader::finish() const {
    for (const auto& [k, v] : parameters_.items()) {
        const bool known = std::any_of(declared_.begin(), declared_.end(), [&k = k](const ModelParameter& p) { return p.name == k; });
        if (!known) {
            std::string list;
            for (const auto& p : declared_) list += (list.empty() ? "" : ", ") + p.name;
            throw ModelParameterError(k, "unknown parameter (this model takes: " + list + ")");
        }
    }
}

std::optional<double> quantity(const nlohmann::json& value, std::string_view unit, const std::string& parameter) {
    if (is_parameter_reference(value)) return std::nullopt;
    double x = 0.0;
    if (value.is_number()) {
        x = value.get<double>();
    } else if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        const auto q = split_quantity(text);
        if (!q) throw ModelParameterError(parameter, "expected a number or \"<number> <unit>\", found \"" + text + "\"");
        if (q->unit.empty()) {
            x = q->value;
        } else if (unit.empty()) {
            throw ModelParameterError(parameter, "the property has no unit, so \"" + text + "\" cannot be converted: give a plain number");
        } else if (const auto converted = convert_unit(q->value, q->unit, unit)) {
            x = *converted;
        } else {
            const auto from = unit_info(q->unit);
            const auto to = unit_info(unit);
            throw ModelParameterError(parameter, !from ? "unknown unit \"" + q->unit + "\" in \"" + text + "\" (the property is in " + std::string(unit) + ")"
                                                 : !to ? "cannot convert \"" + text + "\" to the property's unit " + std::string(unit)
                                                       : "\"" + q->unit + "\" is a unit of " + std::string(from->kind) + ", the property is a " +
                                                             std::string(to->kind) + " in " + std::string(unit));
        }
    } else {
        throw ModelParameterError(parameter, "expected a number, found " + value.dump());
    }
    if (!std::isfinite(x)) throw ModelParameterError(parameter, "must be finite");
    return x;
}

std::string property_unit(const graph::Snapshot& graph, std::span<const graph::TwinIndex> twins, std::string_view property,
                          const std::string& parameter) {
    std::optional<std::string> unit;
    std::string first;
    for (const graph::TwinIndex t : twins) {
        const auto& model = graph.models()->at(graph.twin_model(t));
        const dtdl::PropertySlot* slot = model.layout.find(property);
        if (slot == nullptr || slot->property == nullptr) continue;
        const std::string& u = slot->property->annotations.unit;
        if (!unit) {
            unit = u, first = model.definition->id;
        } else if (*unit != u) {
            throw ModelParameterError(parameter, "property \"" + std::string(property) + "\" is in " + (unit->empty() ? "no unit" : *unit) +
                                                     " in " + first + " but in " + (u.empty() ? "no unit" : u) + " in " + model.definition->id);
        }
    }
    return unit.value_or("");
}

void check_property_use(const graph::Snapshot& g, std::span<const graph::TwinIndex> binding_twins, const PropertyUse& use) {
    const std::string parameter = use.parameter.empty() ? "properties." + use.property : use.parameter;
    const std::span<const graph::TwinIndex> twins =
        use.twins.empty() ? binding_twins : std::span<const graph::TwinIndex>(use.twins);
    const std::string unit = use.unit.empty() || use.unit == "1" ? "" : " " + use.unit;
    for (const graph::TwinIndex t : twins) {
        const auto& model = g.models()->at(g.twin_model(t));
        const dtdl::PropertySlot* slot = model.layout.find(use.property);
        const bool numeric = slot != nullptr && (slot->type == dtdl::ColumnType::float64 || slot->type == dtdl::ColumnType::int64 ||
                                                 slot->type == dtdl::ColumnType::boolean);
        if (!numeric) {
            if (!use.required) continue;
            (void)numeric_columns(g, std::span<const graph::TwinIndex>(&t, 1), use.property, parameter);  // throws with the reason
        }
        if (!use.unit.empty() && slot->property != nullptr && !slot->property->annotations.unit.empty()) {
            const std::string& declared = slot->property->annotations.unit;
            const auto zero = convert_unit(0.0, declared, use.unit);
            const auto one = convert_unit(1.0, declared, use.unit);
            if (!zero || !one || std::abs(*zero) > 1e-12 || std::abs(*one - 1.0) > 1e-12)
                throw ModelParameterError(parameter, "property \"" + use.property + "\" of " + model.definition->id + " is in " + declared +
                                                         ", but the model " + (use.access == PropertyUse::Access::read ? "reads" : "writes") +
                                                         " it in " + use.unit);
        }
        const std::optional<double> v = g.numeric_value(t, slot->column);
        if (!v) continue;
        const std::string what = "twin \"" + g.twin_id(t) + "\" has " + use.property + " = " + shortest(*v) + unit + ", ";
        if (!std::isfinite(*v)) throw ModelParameterError(parameter, what + "which is not finite");
        if (use.min_exclusive && *v <= use.min)
            throw ModelParameterError(parameter, what + "but the model needs > " + shortest(use.min) + unit);
        if (*v < use.min) throw ModelParameterError(parameter, what + "but the model needs >= " + shortest(use.min) + unit);
        if (*v > use.max) throw ModelParameterError(parameter, what + "but the model needs <= " + shortest(use.max) + unit);
    }
}

std::vector<std::uint32_t> numeric_columns(const graph::Snapshot& graph, std::span<const graph::TwinIndex> twins,
                                           std::string_view property, std::string_view parameter) {
    std::vector<std::uint32_t> out;
    out.reserve(twins.size());
    for (const graph::TwinIndex t : twins) {
        const auto& model = graph.models()->at(graph.twin_model(t));
        const dtdl::PropertySlot* slot = model.layout.find(property);
        if (slot == nullptr)
            throw ModelParameterError(std::string(parameter), "twin \"" + graph.twin_id(t) + "\" (" + model.definition->id +
                                                                  ") has no property \"" + std::string(property) + "\"");
        if (slot->type != dtdl::ColumnType::float64 && slot->type != dtdl::ColumnType::int64 &&
            slot->type != dtdl::ColumnType::boolean)
            throw ModelParameterError(std::string(parameter), "property \"" + std::string(property) + "\" of " +
                                                                  model.definition->id + " is not a number (" +
                                                                  dtdl::to_string(slot->type) + ")");
        out.push_back(slot->column);
    }
    return out;
}

void ModelRegistry::add(std::shared_ptr<const BehaviourModel> model) {
    if (!model || model->name().empty()) throw std::invalid_argument("ModelRegistry::add: a model needs a name");
    std::string name(model->name());
    if (!models_.emplace(name, std::move(model)).second)
        throw std::invalid_argument("ModelRegistry::add: a model named '" + name + "' is already registered");
}

const BehaviourModel* ModelRegistry::find(std::string_view name) const {
    auto it = models_.find(name);
    return it == models_.end() ? nullptr : it->second.get();
}

std::vector<const BehaviourModel*> ModelRegistry::list() const {
    std::vector<const BehaviourModel*> out;
    for (const auto& [name, m] : models_) out.push_back(m.get());
    return out;
}

nlohmann::json describe(const BehaviourModel& behaviour) {
    nlohmann::json parameters = nlohmann::json::array();
    for (const ModelParameter& p : behaviour.parameters()) {
        nlohmann::json d = {{"name", p.name},
                            {"unit", p.unit},
                            {"description", p.description},
                            {"default", p.default_value},
                            {"required", p.default_value.is_null()},
                            {"scenario_parameter", p.scenario_parameter}};
        if (std::isfinite(p.min)) d[p.min_exclusive ? "greater_than" : "min"] = p.min;
        if (std::isfinite(p.max)) d["max"] = p.max;
        if (!p.twin_property.empty()) d["twin_property"] = p.twin_property;
        parameters.push_back(std::move(d));
    }
    return {{"name", behaviour.name()},
            {"description", behaviour.description()},
            {"interface", behaviour.interface().empty() ? nlohmann::json() : nlohmann::json(behaviour.interface())},
            {"events", behaviour.events()},
            {"parameters", std::move(parameters)}};
}

}  // namespace twinsim::scenario
