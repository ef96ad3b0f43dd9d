#pragma once
// Calibration of the thermal_zones network (thermal.hpp) against a recorded
// window: chosen parameters (per room or binding-wide, with bounds) are fitted
// by bounded Levenberg-Marquardt least squares on modelled minus recorded room
// air temperatures, the network driven by the recorded cooling, gains and the
// binding's weather. Reports each value with its standard error, correlation
// warnings and the ASHRAE Guideline 14 statistics of the fit, and writes the
// values as a calibration file a scenario loads (`calibration:` key,
// docs/scenario-format.md). Equations, method and sources:
// models/building/calibration.md.
//
// Eigen stays in calibration.cpp.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/building/thermal.hpp"
#include "twinsim/common/guideline14.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::scenario {
struct PreparedScenario;
class RecordedHistory;
}

namespace twinsim::models {

/// Bad calibration input: an unknown parameter or twin, an empty window,
/// missing or non-finite recorded data. The message names what, where, why.
class CalibrationError : public Error {
public:
    using Error::Error;
};

/// The setup of the `binding`-th `thermal_zones` binding (0 = the first) of a
/// prepared scenario without a sweep: its start instant and step, its graph
/// (base + structural edits). Throws CalibrationError when the scenario has
/// no such binding, and as thermal_setup(Binding, ...).
[[nodiscard]] ThermalSetup thermal_setup(const scenario::PreparedScenario& scenario, std::size_t binding = 0);

/// A parameter to fit. `zones`: "" = one value for the whole binding (the
/// binding's parameter); a room $dtId, or a prefix ending in '*' ("room-01-*",
/// "*" = every room), = one value per selected room (zone_parameters).
struct ParameterChoice {
    std::string name;
    std::string zones;
    std::optional<double> lower, upper;  ///< bounds; default initial/10 .. initial*10 (0 .. 1 for radiant_fraction)
};

/// Parses "NAME", "NAME@ZONES", "NAME=LOW:HIGH" or "NAME@ZONES=LOW:HIGH"
/// (either bound may be empty). Throws CalibrationError.
[[nodiscard]] ParameterChoice parse_parameter_choice(std::string_view text);

/// The parameters calibrate_thermal can fit: per room (ua_per_area,
/// air_heat_capacity, mass_capacity, air_mass_conductance) and binding-wide
/// only (adjacent_conductance, gain_per_person, radiant_fraction, solar_peak).
[[nodiscard]] std::span<const std::string_view> calibratable_parameters();

struct CalibrationOptions {
    double window_start = 0.0;  ///< s from the scenario's start
    double window_end = 0.0;    ///< s, > window_start by at least one step
    std::string temperature_property = "temperature";  ///< recorded room air temperature (degC)
    /// Recorded cooling delivered per room (W), the heat removed over each step
    /// (the value recorded at the step's end); "" = no cooling (free-floating rooms).
    std::string cooling_property = "coolingPower";
    /// s: the longest stretch between two recorded samples interpolated
    /// across (scenario::resample, linear, GapAction::refuse): a longer gap
    /// inside the window is refused naming the twin, property and time.
    double max_gap = 3600.0;
    double warmup = 0.0;  ///< s at the window's start whose residuals are not fitted (the mass nodes settle)
    int max_iterations = 100;
    double tolerance = 1e-10;  ///< stop when an accepted step lowers the sum of squares by less than this fraction
    double correlation_warning = 0.95;  ///< |correlation| of two estimates above which a warning is given
};

struct FittedParameter {
    std::string name;
    std::string zone;  ///< the room for a per-room value; "" for binding-wide
    double initial = 0.0, value = 0.0;
    double standard_error = 0.0;  ///< sqrt of the diagonal of s^2 (J^T J)^-1 at the optimum
    double lower = 0.0, upper = 0.0;
    bool at_bound = false;  ///< the value sits on a bound: its standard error is not meaningful
};

struct CalibrationResult {
    std::vector<FittedParameter> parameters;
    std::vector<std::vector<double>> correlation;  ///< of the estimates (parameters order)
    std::vector<std::string> warnings;             ///< strong correlations, values at bounds, not converged
    std::size_t residuals = 0;   ///< m: fitted temperature samples
    std::size_t iterations = 0;  ///< accepted and rejected LM steps
    std::size_t simulations = 0; ///< group simulations of the whole window
    bool converged = false;
    std::string stop_reason;
    double initial_rss = 0.0, rss = 0.0;  ///< K^2
    double residual_sd = 0.0;             ///< s = sqrt(rss / (m - p)), K
    double seconds = 0.0;                 ///< wall time of the fit
    /// ASHRAE Guideline 14 (twinsim/common/guideline14.hpp, p = 1) of the
    /// fitted window's hourly mean temperatures, per recorded room and pooled.
    Guideline14Report guideline14;

    /// The calibration file (format twinsim-calibration 1, models/building/calibration.md):
    /// the fitted values as thermal_zones parameters, and this report.
    [[nodiscard]] nlohmann::json to_file_json() const;
    [[nodiscard]] nlohmann::json report() const;
    /// Writes to_file_json() to `path` (a temporary name renamed when
    /// complete). Throws twinsim::IoError naming the file.
    void save(const std::string& path) const;
};

/// Fits `fit` (at least one; each name and room once) for the network
/// `setup` on `recorded` (docs/replay.md's recorded inputs) over options'
/// window. Throws CalibrationError on bad input (unknown parameter or room,
/// a parameter chosen twice, bounds not around the initial value, an empty
/// window, no recorded temperature at all, a non-finite value),
/// scenario::RecordedInputError naming twin, property and time (a room's
/// recorded cooling or temperature missing, or a gap longer than max_gap),
/// and twinsim::Error when the network cannot be built.
[[nodiscard]] CalibrationResult calibrate_thermal(const ThermalSetup& setup, const scenario::RecordedHistory& recorded,
                                                  std::span<const ParameterChoice> fit,
                                                  const CalibrationOptions& options);

/// The setup with the result's values in place.
[[nodiscard]] ThermalSetup apply_calibration(ThermalSetup setup, const CalibrationResult& result);

/// Modelled vs recorded on a window (no fitting): the Guideline 14
/// statistics overall and per room. Throws as calibrate_thermal.
struct ModelFit {
    Guideline14Report guideline14;
    double rmse = 0.0;  ///< K, over every sample after the warm-up
};
[[nodiscard]] ModelFit evaluate_thermal(const ThermalSetup& setup, const scenario::RecordedHistory& recorded,
                                        const CalibrationOptions& options);

}  // namespace twinsim::models
