#pragma once
// Degradation-based prognostics: a remaining-useful-life DISTRIBUTION per
// unit from its sensor history, calibrated on run-to-failure histories
// (models/equipment/prognostics.md has the equations and the validation).
//
// Model. Let h_k be the health indicator (health_indicator.hpp) of a unit at
// cycle t_k, and T its (unknown) alignment cycle, the cycle at which it
// reaches the fleet's end-of-life. Then
//     h_k = m(s (T - t_k)) + a + e_k,      e_k ~ N(0, v(s (T - t_k)))
// where m(tau) is the fleet's mean indicator tau cycles before failure and
// v(tau) its residual variance (both estimated on the training units), and
// the unit's random effects are an offset a ~ N(0, sigma_a^2) (integrated
// out in closed form) and a degradation rate s = exp(l), l ~ N(0, sigma_l^2)
// (a grid). The fleet prior of T is the lognormal of the training lifetimes.
// Each unit's data update that prior (Bayes on a grid of T); the likelihood
// is tempered by (1 - phi) / (1 + phi), the effective share of independent
// observations under the residuals' lag-1 autocorrelation phi. The failure
// cycle is T + delta, delta ~ N(0, sigma_delta^2), the spread of the
// end-of-life alignment measured on the training units; conditioned on the
// unit running at its last cycle t_n, RUL = T + delta - t_n >= 0.
//
// Every number above is estimated from the training histories alone;
// nothing is tuned on test data. Fitting 100 C-MAPSS engines takes well
// under a second.
//
// A fitted PrognosticsModel is immutable; every method is const and
// thread-safe.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "models/equipment/health_indicator.hpp"
#include "models/equipment/histories.hpp"

namespace twinsim::models {

struct PrognosticsOptions {
    HealthIndicatorOptions health;
    /// Points of the degradation-rate grid (odd, 1 to 101; 1: no rate effect).
    std::uint32_t rate_points = 11;
};

/// The degradation model's fitted numbers (see the file comment).
struct DegradationParameters {
    std::vector<double> curve;     ///< m(tau), tau = 0, 1, ... cycles before failure
    std::vector<double> variance;  ///< v(tau), same grid
    double offset_variance = 0.0;  ///< sigma_a^2
    double log_rate_sd = 0.0;      ///< sigma_l
    double autocorrelation = 0.0;  ///< phi
    double temper = 1.0;           ///< (1 - phi) / (1 + phi)
    double life_log_mean = 0.0;    ///< lognormal prior of the life (cycles)
    double life_log_sd = 1.0;
    double max_life = 0.0;         ///< the longest training life (cycles)
    double end_offset_sd = 1.0;    ///< sigma_delta (cycles)
    std::uint32_t rate_points = 11;
};

/// The remaining useful life of one unit after its last observed cycle, as a
/// distribution on whole cycles: pmf[k] = P(RUL = k), k = 0, 1, ...
/// (RUL = 0: the unit fails at the cycle just observed).
struct RulDistribution {
    std::string unit;
    double cycle = 0.0;   ///< the last observed cycle
    double health = std::numeric_limits<double>::quiet_NaN();  ///< the mean indicator of the last 5 cycles, in [0, 1]
    std::vector<double> pmf;

    [[nodiscard]] double mean() const;
    /// The smallest k with P(RUL <= k) >= p. Precondition: p in [0, 1].
    [[nodiscard]] double quantile(double p) const;
    /// P(RUL <= h): the probability that the unit fails within h cycles.
    [[nodiscard]] double probability_within(double h) const;
    /// E[min(RUL, cap)] and the quantile of min(RUL, cap) (the C-MAPSS
    /// protocol caps the truth at 125 cycles).
    [[nodiscard]] double capped_mean(double cap) const;
    [[nodiscard]] double capped_quantile(double p, double cap) const;
};

class PrognosticsModel {
public:
    /// Fits the health indicator and the degradation model on the failed
    /// units of `training` (units still running are used for the
    /// normalisation only). Throws HistoryInputError (fewer than 2 failed
    /// units, unusable histories) and std::invalid_argument (options).
    [[nodiscard]] static PrognosticsModel fit(const HistorySet& training, const PrognosticsOptions& options = {});

    /// The RUL distribution of a unit whose columns are in the model's order
    /// (health_indicator().reorder). Throws HistoryInputError for a unit
    /// without rows or with non-finite values.
    [[nodiscard]] RulDistribution predict(const UnitHistory& unit) const;
    /// The same from the unit's health indicator at its cycles (increasing).
    [[nodiscard]] RulDistribution predict_health(std::string unit, std::span<const double> cycles,
                                                 std::span<const double> health) const;
    /// Every unit of `set` (columns matched by name), in order.
    [[nodiscard]] std::vector<RulDistribution> predict(const HistorySet& set) const;

    [[nodiscard]] const HealthIndicator& health_indicator() const noexcept { return health_; }
    [[nodiscard]] const DegradationParameters& degradation() const noexcept { return degradation_; }
    /// What the model was fitted on: {"units", "rows", "life": {"min", "mean", "max"}, "seconds"}.
    [[nodiscard]] const nlohmann::json& training() const noexcept { return training_; }

    /// The parameters file (format "twinsim-prognostics", version 1).
    [[nodiscard]] nlohmann::json to_json() const;
    /// Throws PrognosticsParameterError naming the field.
    [[nodiscard]] static PrognosticsModel from_json(const nlohmann::json& j);
    /// Writes to_json() to `file` (via a temporary, renamed). Throws IoError.
    void save(const std::filesystem::path& file) const;
    /// Reads a parameters file (at most 64 MiB). Throws IoError,
    /// PrognosticsParameterError (naming the file).
    [[nodiscard]] static PrognosticsModel load(const std::filesystem::path& file);

private:
    /// Posterior of the alignment offset d = T - t_n on [d_lo, d_hi] (normalised).
    [[nodiscard]] std::vector<double> alignment_posterior(std::span<const double> cycles, std::span<const double> health,
                                                          std::int64_t d_lo, std::int64_t d_hi) const;

    HealthIndicator health_;
    DegradationParameters degradation_;
    nlohmann::json training_ = nlohmann::json::object();
};

}  // namespace twinsim::models
