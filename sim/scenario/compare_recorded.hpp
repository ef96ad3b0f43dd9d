#pragma once
// Modelled vs recorded in a results file (docs/replay.md): every series
// "<name>" that a replay wrote with its recorded twin "<name>.recorded",
// judged with ASHRAE Guideline 14's NMBE and CV(RMSE) at hourly resolution,
// per twin and overall, flagged against the hourly limits. `twinsim compare`
// prints it, and Python's Results.guideline14() returns it as a DataFrame.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twinsim/common/guideline14.hpp"

namespace twinsim::io {
class ResultsReader;
}

namespace twinsim::scenario {

struct RecordedComparison {
    std::string scenario;
    std::string series;  ///< the modelled series ("temperature"); its recorded twin is series + ".recorded"
    std::string unit;
    std::size_t replications = 0;  ///< the modelled value is the mean over these (NaN cells left out)
    Guideline14Report report;
};

/// Every (scenario, series) pair of `reader`'s file with a recorded twin, in
/// file order; empty when the file holds none. Time is the scenario's start
/// plus the series' time axis, so the hours are UTC clock hours.
/// Throws io::ResultsError (the file cannot be read).
[[nodiscard]] std::vector<RecordedComparison> compare_recorded(const io::ResultsReader& reader,
                                                               const Guideline14Options& options = {});

/// As `twinsim compare --json` prints it under "guideline14": [{scenario,
/// series, unit, replications, limits {nmbe, cv_rmse}, overall {hours, nmbe,
/// cv_rmse, nmbe_ok, cv_rmse_ok, meets}, twins [{twin, ...same}]}];
/// unknown numbers are null.
[[nodiscard]] nlohmann::ordered_json to_json(const std::vector<RecordedComparison>& comparisons,
                                             const Guideline14Options& options = {});

}  // namespace twinsim::scenario
