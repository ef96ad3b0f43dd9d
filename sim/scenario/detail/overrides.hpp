#pragma once
// Applying a scenario's property overrides to a graph (internal to
// sim/scenario): the Run applies them per replication; prepare() applies the
// ones whose values are known before any run to a scratch graph, so the
// models' checks see the values runs start with.

#include <nlohmann/json.hpp>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario::detail {

/// Applies spec.overrides in order, each to the twins its `where` selects on
/// the graph as the previous ones left it, with "${name}" references
/// substituted from `parameters` (a JSON object). With `known_only`, a
/// property whose value still holds a reference after substitution (a
/// parameter drawn per replication) is left out; otherwise the values are
/// patched as they are. Throws ScenarioError naming overrides[i], its line and
/// the twin when the graph refuses a value (wrong type, unknown property).
void apply_overrides(graph::TwinGraph& graph, const ScenarioSpec& spec, const nlohmann::json& parameters, bool known_only);

}  // namespace twinsim::scenario::detail
