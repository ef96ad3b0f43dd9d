#include "models/generic/support.hpp"

#include <algorithm>
#include <stdexcept>

namespace twinsim::models::detail {

bool given(scenario::ParameterReader& reader, std::string_view name) {
    const nlohmann::json& v = reader.raw(name);
    return !v.is_null() && v != none;
}

NumberOrProperty number_or_property(scenario::ParameterReader& reader, std::string_view name, double min, double max) {
    NumberOrProperty out;
    const nlohmann::json& v = reader.raw(name);
    if (scenario::is_parameter_reference(v)) {
        out.unresolved = true;
    } else if (v.is_string()) {
        out.property = v.get<std::string>();
        if (out.property.empty())
            throw scenario::ModelParameterError(std::string(name), "expected a number or a property name, found \"\"");
    } else {
        out.number = reader.number(name, min, max);
    }
    return out;
}

std::vector<std::uint32_t> typed_columns(const graph::Snapshot& graph, std::span<const graph::TwinIndex> twins,
                                         std::string_view property, std::string_view parameter,
                                         std::initializer_list<dtdl::ColumnType> allowed, std::string_view needed) {
    std::vector<std::uint32_t> columns = scenario::numeric_columns(graph, twins, property, parameter);
    for (std::size_t i = 0; i < twins.size(); ++i) {
        const auto& model = graph.models()->at(graph.twin_model(twins[i]));
        const dtdl::ColumnType type = model.layout.slots.at(columns[i]).type;
        if (std::find(allowed.begin(), allowed.end(), type) == allowed.end())
            throw scenario::ModelParameterError(std::string(parameter),
                                                "property \"" + std::string(property) + "\" of " + model.definition->id +
                                                    " (twin \"" + graph.twin_id(twins[i]) + "\") is " +
                                                    dtdl::to_string(type) + "; this model needs " + std::string(needed));
    }
    return columns;
}

const graph::Snapshot& binding_graph(const scenario::Binding& binding, const graph::Snapshot* fallback) {
    if (binding.graph != nullptr) return *binding.graph;
    if (fallback != nullptr) return *fallback;
    throw std::invalid_argument("model binding \"" + binding.model + "\" has no graph");
}

std::string twin_message(std::string_view model, const std::string& twin_id, std::string_view what) {
    return std::string(model) + ": twin \"" + twin_id + "\": " + std::string(what);
}

void require_ascending(const scenario::Binding& binding) {
    for (std::size_t i = 1; i < binding.twins.size(); ++i)
        if (!(binding.twins[i - 1] < binding.twins[i]))
            throw std::invalid_argument("model binding \"" + binding.model + "\": twins must be in ascending order, without repeats");
}

std::optional<std::size_t> position_of(std::span<const graph::TwinIndex> twins, graph::TwinIndex twin) {
    const auto it = std::lower_bound(twins.begin(), twins.end(), twin);
    if (it == twins.end() || *it != twin) return std::nullopt;
    return static_cast<std::size_t>(it - twins.begin());
}

}  // namespace twinsim::models::detail
