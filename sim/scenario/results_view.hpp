#pragma once
// What a viewer of a results file needs, in small answers (the explorer's
// what-if view, docs/explorer.md): the file's scenarios with their series and
// every KPI by selection (a twin id for `over: each`), and one twin's series
// reduced to a few hundred points for a sparkline. Built on io::ResultsReader
// and scenario::compare, so the numbers are those `twinsim compare` and
// Python's Results show. The REST service (`twinsim serve --results`) is a
// thin shell over these functions.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::io {
class ResultsReader;
}

namespace twinsim::scenario {

/// The most points a sparkline may ask for.
inline constexpr std::size_t max_sparkline_points = 2000;

/// The file's scenarios as {file, scenarios [{name, replications, series
/// [{name, unit, property, twins [ids]}], kpis [{name, statistic, unit,
/// selections [{selection, n, mean, ci95_low, ci95_high}]}]}]}, KPIs in file
/// order, their selections in the order the file lists them; unknown numbers
/// are null. Throws io::ResultsError when the file cannot be read.
[[nodiscard]] nlohmann::ordered_json describe_results(const io::ResultsReader& reader);

/// One twin's recorded series, reduced for a sparkline.
struct Sparkline {
    std::string scenario, series, twin, unit;
    std::size_t replications = 0;  ///< replications averaged
    std::size_t steps = 0;         ///< recorded times before reduction
    /// Per point: the mean over its bucket of recorded times of the mean
    /// across replications, and the lowest and highest replication value in
    /// the bucket; `time` is the bucket's first recorded time (seconds from
    /// the scenario's start). NaN where nothing was recorded.
    std::vector<double> time, mean, low, high;
};

/// The series `series` of twin `twin` in scenario `scenario`, in at most
/// `points` points (1..max_sparkline_points): consecutive recorded times are
/// bucketed evenly. Reads one replication at a time (memory: one
/// replication of the series). Throws io::ResultsError for an unknown
/// scenario or series or an unreadable file, twinsim::Error naming the series
/// and listing its twins for a twin it does not record, and for `points`
/// out of range.
[[nodiscard]] Sparkline sparkline(const io::ResultsReader& reader, std::string_view scenario, std::string_view series,
                                  std::string_view twin, std::size_t points = 200);

/// {scenario, series, twin, unit, replications, steps, time [], mean [], low [], high []}; NaN as null.
[[nodiscard]] nlohmann::ordered_json to_json(const Sparkline& sparkline);

}  // namespace twinsim::scenario
