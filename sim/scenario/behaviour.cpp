#include "twinsim/scenario/behaviour.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

namespace {

bool is_reference(const nlohmann::json& v) {
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    return s.size() > 3 && s.starts_with("${") && s.ends_with("}");
}

std::string shortest(double x) {
    nlohmann::json j = x;
    return j.dump();
}

}  // namespace

ParameterReader::ParameterReader(const nlohmann::json& parameters, std::span<const ModelParameter> declared)
    : parameters_(parameters), declared_(declared) {
    if (!parameters_.is_object()) throw ModelParameterError("parameters", "expected a mapping from name to value");
}

const nlohmann::json& ParameterReader::raw(std::string_view name) {
    if (auto it = parameters_.find(std::string(name)); it != parameters_.end()) return *it;
    for (const auto& p : declared_)
        if (p.name == name) {
            if (p.default_value.is_null())
                throw ModelParameterError(std::string(name), "required" + (p.description.empty() ? std::string() : " (" + p.description + ")"));
            return p.default_value;
        }
    throw std::logic_error("ParameterReader: the model reads an undeclared parameter '" + std::string(name) + "'");
}

std::optional<double> ParameterReader::number(std::string_view name, double min, double max) {
    const nlohmann::json& v = raw(name);
    if (is_reference(v)) return std::nullopt;
    double x = 0.0;
    if (v.is_number()) {
        x = v.get<double>();
    } else if (v.is_string()) {
        std::string unit;
        for (const auto& p : declared_)
            if (p.name == name) unit = p.unit;
        const auto seconds = unit == "s" ? parse_duration(v.get<std::string>()) : std::nullopt;
        if (!seconds)
            throw ModelParameterError(std::string(name), unit == "s" ? "expected seconds or an ISO 8601 duration such as \"PT2H\", found \"" + v.get<std::string>() + "\""
                                                                     : "expected a number, found \"" + v.get<std::string>() + "\"");
        x = *seconds;
    } else {
        throw ModelParameterError(std::string(name), "expected a number, found " + v.dump());
    }
    if (!std::isfinite(x)) throw ModelParameterError(std::string(name), "must be finite");
    if (x < min) throw ModelParameterError(std::string(name), "must be >= " + shortest(min) + ", found " + shortest(x));
    if (x > max) throw ModelParameterError(std::string(name), "must be <= " + shortest(max) + ", found " + shortest(x));
    return x;
}

double ParameterReader::required_number(std::string_view name, double min, double max) {
    auto x = number(name, min, max);
    if (!x) throw ModelParameterError(std::string(name), "refers to a parameter that has no value: " + raw(name).dump());
    return *x;
}

std::string ParameterReader::string(std::string_view name) {
    const nlohmann::json& v = raw(name);
    if (!v.is_string() || is_reference(v)) throw ModelParameterError(std::string(name), "expected a string, found " + v.dump());
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

}  // namespace twinsim::scenario
