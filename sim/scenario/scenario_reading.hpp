#pragma once
// Reading a scenario with a choice about the files it names while it is read
// (its `calibration:` files, applied at once; other paths are resolved later
// by the front end with the same choice, input_paths.hpp). The readers of
// scenario_spec.hpp are these with the default options.

#include <filesystem>
#include <string>
#include <string_view>

#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

struct ScenarioReadOptions {
    /// Accept `calibration:` paths that are absolute or lead out of the
    /// scenario file's folder tree (`--allow-outside-paths`).
    bool allow_outside_paths = false;
};

/// As read_scenario_file(path), with `options`. Throws IoError, ScenarioError.
[[nodiscard]] ScenarioSpec read_scenario_file(const std::filesystem::path& path, const ScenarioReadOptions& options);
/// As scenario_from_yaml(text, source) (its folder is where `calibration:`
/// paths resolve), with `options`. Throws ScenarioError.
[[nodiscard]] ScenarioSpec scenario_from_yaml(std::string_view text, std::string source,
                                              const ScenarioReadOptions& options);
/// As scenario_from_json_text(text, source), with `options`. Throws ScenarioError.
[[nodiscard]] ScenarioSpec scenario_from_json_text(std::string_view text, std::string source,
                                                   const ScenarioReadOptions& options);

}  // namespace twinsim::scenario
