#pragma once
// The calibration statistics of ASHRAE Guideline 14 (Measurement of Energy,
// Demand, and Water Savings): the normalized mean bias error (NMBE) and the
// coefficient of variation of the root-mean-square error (CV(RMSE)) of a
// model's output against measured data, at hourly resolution, flagged against
// the guideline's limits for hourly data (|NMBE| <= 10 %, CV(RMSE) <= 30 %).
// docs/replay.md ("Modelled vs recorded") gives the definitions and the
// conventions twinsim uses (sign, the n - p denominator, hourly averaging).
//
// With y_i the measured (recorded) hourly values, ŷ_i the modelled ones, ȳ
// the mean of y over the n hours and p the number of model parameters:
//     NMBE     = 100 * Σ (y_i - ŷ_i) / ((n - p) * ȳ)
//     CV(RMSE) = 100 * sqrt( Σ (y_i - ŷ_i)² / (n - p) ) / ȳ
// A positive NMBE means the model under-predicts.

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "twinsim/common/time.hpp"

namespace twinsim {

struct Guideline14Options {
    /// p of the n - p denominators: the model's adjusted parameters. 1 by
    /// default (docs/replay.md says why); 0 gives the plain means.
    std::size_t parameters = 1;
    double nmbe_limit = 10.0;     ///< % : |NMBE| must not exceed it (hourly limit)
    double cv_rmse_limit = 30.0;  ///< % : CV(RMSE) must not exceed it (hourly limit)
};

struct Guideline14 {
    std::size_t hours = 0;  ///< n: hourly pairs compared
    double nmbe = std::numeric_limits<double>::quiet_NaN();     ///< %
    double cv_rmse = std::numeric_limits<double>::quiet_NaN();  ///< %
    double mean_measured = std::numeric_limits<double>::quiet_NaN();  ///< ȳ
    bool nmbe_ok = false;     ///< |NMBE| <= options.nmbe_limit
    bool cv_rmse_ok = false;  ///< CV(RMSE) <= options.cv_rmse_limit
    /// Both limits met (false when the statistics are undefined: n <= p or ȳ == 0).
    [[nodiscard]] bool meets() const noexcept { return nmbe_ok && cv_rmse_ok; }
};

/// NMBE and CV(RMSE) of `modelled` against `measured`, value by value (the
/// values are taken as they are: pass hourly values, see hourly_pairs).
/// Pairs where either value is NaN are left out. NaN statistics (and both
/// flags false) when n <= p or ȳ == 0.
/// Throws twinsim::UsageError when the spans differ in length.
[[nodiscard]] Guideline14 guideline14(std::span<const double> measured, std::span<const double> modelled,
                                      const Guideline14Options& options = {});

/// Hourly means of paired samples: sample k is at origin + times[k] seconds;
/// it falls in the UTC clock hour that holds that instant. An hour counts
/// when it holds at least one sample where both values are numbers; its
/// measured and modelled means are taken over those samples only.
struct HourlyPairs {
    std::vector<Timestamp> hour;   ///< start of each hour, ascending
    std::vector<double> measured;  ///< mean per hour
    std::vector<double> modelled;  ///< mean per hour
};
/// Precondition: times ascending. Throws twinsim::UsageError when the spans
/// differ in length.
[[nodiscard]] HourlyPairs hourly_pairs(Timestamp origin, std::span<const double> times,
                                       std::span<const double> measured, std::span<const double> modelled);

/// The statistics per twin and over every twin (the hourly pairs of all
/// twins pooled into one sample: Σ over twins and hours, ȳ the mean of all
/// measured hourly values).
struct Guideline14Report {
    std::vector<std::string> twins;
    std::vector<Guideline14> per_twin;
    Guideline14 overall;
};
/// `measured` and `modelled` hold one row per sample time, one column per
/// twin: value[k * twins.size() + n]. Throws twinsim::UsageError when the
/// sizes do not match times.size() * twins.size().
[[nodiscard]] Guideline14Report guideline14_report(Timestamp origin, std::span<const double> times,
                                                   const std::vector<std::string>& twins,
                                                   std::span<const double> measured, std::span<const double> modelled,
                                                   const Guideline14Options& options = {});

}  // namespace twinsim
