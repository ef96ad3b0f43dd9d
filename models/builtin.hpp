#pragma once
// The behaviour models that ship with twinsim (models/README.md):
//   relaxation    first-order relaxation of a property toward a target (generic/relaxation.md)
//   queue         M/M/c(/K) queue per twin (generic/queue.md)
//   availability  failure and repair of equipment (generic/availability.md)
//   maintenance   maintenance policies for replaceable units (equipment/maintenance.md)
//   predicted_failures  failures drawn from each unit's RUL distribution (equipment/prognostics.md)
//
// Include as "models/builtin.hpp" (build tree) or <twinsim/models/builtin.hpp>
// (installed); link twinsim::models.

#include <filesystem>

#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::models {

/// Adds every built-in model to `registry`. Throws std::invalid_argument when
/// one of their names is already taken there.
void register_builtin_models(scenario::ModelRegistry& registry);

/// A registry holding exactly the built-in models, built once on first use
/// (thread-safe) and immutable afterwards.
[[nodiscard]] const scenario::ModelRegistry& builtin_registry();

/// The folder holding the DTDL interfaces the built-in models bind to (this
/// source tree's models/): public files that a scenario may name from
/// anywhere (scenario::InputPathOptions::trusted_folders), as the bundled
/// scenarios do with base_models: [../../models/building]. It may not exist
/// (an installed program away from its sources).
[[nodiscard]] std::filesystem::path builtin_dtdl_folder();

}  // namespace twinsim::models
