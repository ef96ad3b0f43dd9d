#pragma once
// Helpers shared by the generic models (internal to twinsim_models).

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::models::detail {

/// The default of a parameter that may be left out and has no natural value:
/// ModelParameter's null default means "required", so optional parameters
/// without a default declare this string ("none") instead; writing it, or
/// null, is the same as leaving the parameter out.
inline const nlohmann::json none = "none";

/// Whether the (possibly defaulted) parameter was given: not "none" or null.
[[nodiscard]] bool given(scenario::ParameterReader& reader, std::string_view name);

/// A parameter that is either a number or the name of a numeric property of
/// each twin ("target: 21.0" or "target: temperatureSetpoint").
struct NumberOrProperty {
    std::optional<double> number;  ///< set when a number (or a resolved reference)
    std::string property;          ///< set when a property name
    bool unresolved = false;       ///< a "${name}" reference at check time
};
[[nodiscard]] NumberOrProperty number_or_property(scenario::ParameterReader& reader, std::string_view name,
                                                  double min = -HUGE_VAL, double max = HUGE_VAL);

/// numeric_columns() restricted to some column types: throws
/// ModelParameterError naming `parameter` when a twin's property is of
/// another type; `needed` says what is needed ("a double").
[[nodiscard]] std::vector<std::uint32_t> typed_columns(const graph::Snapshot& graph,
                                                       std::span<const graph::TwinIndex> twins,
                                                       std::string_view property, std::string_view parameter,
                                                       std::initializer_list<dtdl::ColumnType> allowed,
                                                       std::string_view needed);

/// The graph a binding is checked and instantiated against: binding.graph,
/// else `fallback`. Throws std::invalid_argument when neither is set.
[[nodiscard]] const graph::Snapshot& binding_graph(const scenario::Binding& binding,
                                                   const graph::Snapshot* fallback = nullptr);

/// "relaxation: twin \"room-1\": <what>" — for run-time errors.
[[nodiscard]] std::string twin_message(std::string_view model, const std::string& twin_id, std::string_view what);

/// Throws std::invalid_argument unless the binding's twins are strictly ascending (Binding's contract).
void require_ascending(const scenario::Binding& binding);

/// Position of `twin` in the binding's (ascending) twins, or nullopt.
[[nodiscard]] std::optional<std::size_t> position_of(std::span<const graph::TwinIndex> twins, graph::TwinIndex twin);

/// Event priority of the continuous steps (scenario::step_priority).
inline constexpr int step_priority = scenario::step_priority;

}  // namespace twinsim::models::detail
