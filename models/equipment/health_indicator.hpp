#pragma once
// A health indicator fused from the informative sensors of a unit
// (models/equipment/prognostics.md, "Health indicator"):
//
//   1. operating conditions: the clusters of the operating settings, found
//      on the training rows as the groups separated by gaps wider than
//      gap_fraction of each setting's range; every row is assigned the
//      nearest condition centre (settings scaled by their training range);
//   2. per-condition normalisation: z = (x - mean_c) / sd_c for every sensor,
//      so a multi-condition fleet looks like a single-condition one;
//   3. informative sensors: those whose normalised value correlates with
//      the life fraction t / L of the training units by at least
//      min_correlation in absolute value;
//   4. fusion: ordinary least squares of min(RUL, rul_cap) / rul_cap on the
//      informative z (plus an intercept), so the indicator reads about 1 on
//      a healthy unit (>= rul_cap cycles left) and about 0 at failure.
//
// Immutable once fitted; every method is const and thread-safe.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/equipment/histories.hpp"

namespace twinsim::models {

/// A parameters file (or its part) that cannot be used: names the field and why.
class PrognosticsParameterError : public Error {
public:
    using Error::Error;
};

struct HealthIndicatorOptions {
    double rul_cap = 125.0;          ///< cycles; > 0
    double min_correlation = 0.3;    ///< in [0, 1)
    double gap_fraction = 0.15;      ///< in (0, 1)
    double min_condition_share = 0.005;  ///< conditions with fewer rows (share of all) merge into the nearest
};

class HealthIndicator {
public:
    /// Fits on the failed units of `training` (at least 2, with rows beyond
    /// the settings' and sensors' counts). Throws HistoryInputError when
    /// there are too few failed units or no sensor varies with age, and
    /// std::invalid_argument for options out of range.
    [[nodiscard]] static HealthIndicator fit(const HistorySet& training, const HealthIndicatorOptions& options = {});

    /// The condition (index into centres) of one row of settings, in this
    /// indicator's setting order. Precondition: settings.size() == setting_count().
    [[nodiscard]] std::size_t condition_of(std::span<const double> settings) const;
    /// The indicator of one row (settings and sensors in this indicator's order).
    /// Precondition: the sizes match setting_count() and sensor_count().
    [[nodiscard]] double evaluate(std::span<const double> settings, std::span<const double> sensors) const;
    /// The indicator of every row of a unit whose columns are in this indicator's order.
    [[nodiscard]] std::vector<double> evaluate(const UnitHistory& unit) const;

    /// `set` with its columns in this indicator's order (by name; extra
    /// columns dropped). Throws HistoryInputError naming a missing column.
    [[nodiscard]] HistorySet reorder(const HistorySet& set) const;

    [[nodiscard]] const std::vector<std::string>& setting_names() const noexcept { return setting_names_; }
    [[nodiscard]] const std::vector<std::string>& sensor_names() const noexcept { return sensor_names_; }
    [[nodiscard]] std::size_t setting_count() const noexcept { return setting_names_.size(); }
    [[nodiscard]] std::size_t sensor_count() const noexcept { return sensor_names_.size(); }
    [[nodiscard]] std::size_t condition_count() const noexcept { return conditions_; }
    /// The informative sensors' names and their weights on z (intercept apart).
    [[nodiscard]] std::vector<std::string> informative_sensors() const;
    [[nodiscard]] std::span<const double> weights() const noexcept { return weights_; }
    [[nodiscard]] double intercept() const noexcept { return intercept_; }
    [[nodiscard]] double rul_cap() const noexcept { return rul_cap_; }

    [[nodiscard]] nlohmann::json to_json() const;
    /// Throws PrognosticsParameterError naming the field (`where` prefixes it).
    [[nodiscard]] static HealthIndicator from_json(const nlohmann::json& j, const std::string& where = "health_indicator");

private:
    std::vector<std::string> setting_names_;
    std::vector<std::string> sensor_names_;
    std::vector<double> setting_scale_;  ///< per setting
    std::size_t conditions_ = 0;
    std::vector<double> centres_;        ///< conditions x settings
    std::vector<double> mean_;           ///< conditions x sensors
    std::vector<double> sd_;             ///< conditions x sensors (1 where a sensor is constant)
    std::vector<std::uint32_t> used_;    ///< informative sensor indices
    std::vector<double> weights_;        ///< one per used sensor
    double intercept_ = 0.0;
    double rul_cap_ = 125.0;
};

}  // namespace twinsim::models
