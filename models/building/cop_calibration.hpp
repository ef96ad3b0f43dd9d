#pragma once
// Calibration of the chillers' coefficient of performance from recorded
// chiller electric power (models/building/calibration.md, "COP"). In
// thermal_zones a chiller draws P = L / COP + A: its cooling load L (set by
// the rooms' demand and the plant's dispatch, not by the COP) over its COP,
// plus its running pumps A. P is linear in u = 1 / COP, so the least-squares
// fit of the recorded power is closed-form: u = sum L (R - A) / sum L^2 over
// the steps with a recorded value R. L and A come from the scenario itself:
// it is run twice with every chiller's coefficientOfPerformance set to 1 and
// to 2 (P1 = L + A, P2 = L / 2 + A), so the fit sees exactly the loads of the
// scenario (a replay driven by the record, or any other).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {
class RecordedHistory;
}

namespace twinsim::models {

struct CopOptions {
    std::size_t binding = 0;    ///< the binding-th thermal_zones binding of the scenario
    /// The chillers to fit: "*" (every chiller the binding reaches), a $dtId,
    /// or a prefix ending in '*'.
    std::string chillers = "*";
    /// The recorded key of chiller power (kW, what thermal_zones writes); ""
    /// = the binding's chiller_power_property.
    std::string power_property;
    double window_start = 0.0;  ///< s from the scenario's start
    double window_end = 0.0;    ///< s; 0 = the horizon
    /// s: the longest stretch between two recorded values interpolated across;
    /// a step farther from any recorded value is left out of the fit.
    double max_gap = 3600.0;
    double min_load = 1.0;      ///< kW: steps where the chiller carries less are left out (no information on the COP)
};

struct FittedCop {
    std::string chiller;
    double value = 0.0;           ///< the fitted COP
    double standard_error = 0.0;  ///< delta method from the standard error of 1 / COP
    double initial = 0.0;         ///< the COP the scenario gives the chiller
    std::size_t samples = 0;      ///< steps fitted (a recorded value and a load >= min_load)
    double rmse_kw = 0.0;         ///< of recorded - modelled power at the fitted COP
};

struct CopResult {
    std::vector<FittedCop> chillers;
    std::string power_property;
    /// [{chiller, initial, value, standard_error, samples, rmse_kw}]
    [[nodiscard]] nlohmann::json report() const;
};

/// Takes the COP choices out of `fit` (the texts of `--fit` / fit=): "cop"
/// (every chiller) and "cop@CHILLERS" (a $dtId or a prefix ending in '*'),
/// returned as CopOptions::chillers patterns in order; the other texts stay.
[[nodiscard]] std::vector<std::string> take_cop_choices(std::vector<std::string>& fit);

/// Writes fitted COPs into a calibration file's JSON (CalibrationResult::
/// to_file_json()'s layout; a null `file` becomes a new one): thermal_zones'
/// chiller_cop parameter gains each chiller's value (a scenario loading the
/// file uses it instead of the chiller's coefficientOfPerformance), and the
/// report under fit.cop.
void merge_cop(nlohmann::json& file, const CopResult& result);

/// Writes a calibration file's JSON to `path` (a temporary name renamed when
/// complete), as CalibrationResult::save does. Throws twinsim::IoError naming the file.
void save_calibration_json(const nlohmann::json& file, const std::string& path);

/// Fits the COP of the chosen chillers of `spec` (no sweep) on `base` to the
/// recorded chiller power in `recorded` (whatever COPs the scenario gives them,
/// thermal_zones' chiller_cop included, are replaced while fitting; the
/// one in force is reported as `initial`). Throws CalibrationError
/// (calibration.hpp): no thermal_zones binding at that index, no power
/// property named (neither options.power_property nor the binding's
/// chiller_power_property), no chiller matches, a chosen chiller without a
/// recorded power or without a step carrying load in the window; and
/// ScenarioError as prepare().
[[nodiscard]] CopResult calibrate_cop(const scenario::ScenarioSpec& spec, const graph::Snapshot& base,
                                      const scenario::RecordedHistory& recorded, const CopOptions& options);

}  // namespace twinsim::models
