#pragma once
// Calibration files (format "twinsim-calibration", version 1): fitted
// behaviour parameters a scenario loads with `calibration: FILE` (or a list
// of files), written by `twinsim calibrate --scenario` / twinsim.calibrate
// (models/building/calibration.md, docs/scenario-format.md). A file is
// outside input: it is read with limits (size, nesting, entries) and fuzzed
// (tests/fuzz/fuzz_calibration_file.cpp).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

/// The largest calibration file read (bytes).
inline constexpr std::size_t max_calibration_file_bytes = std::size_t{64} << 20;
/// The most `behaviours` entries of a calibration file.
inline constexpr std::size_t max_calibration_behaviours = 1000;

/// Merges the `behaviours[].parameters` of a calibration file's text into
/// every binding of `models` whose model has the entry's name: each
/// parameter replaces the binding's, except that two objects of the same
/// name (thermal_zones' zone_parameters) are merged entry by entry (a room
/// of the file replaces the same room's values name by name). The `fit`
/// report is not read. Throws ScenarioError(source, 0, field, reason) for
/// text that is not a calibration file (too large, too deep, not JSON, wrong
/// format or version, unknown keys, a parameter that is a "${name}"
/// reference) and for an entry whose model no binding of `models` uses.
void apply_calibration_text(std::vector<ModelBindingSpec>& models, std::string_view text, const std::string& source);

/// Reads `path` (at most max_calibration_file_bytes) and applies it as
/// apply_calibration_text. Throws IoError when it cannot be read.
void apply_calibration_file(std::vector<ModelBindingSpec>& models, const std::filesystem::path& path);

}  // namespace twinsim::scenario
