#pragma once
// Comparing the scenarios of a results file: every KPI of every scenario with
// its mean and 95 % confidence interval across replications, and how each
// scenario differs from a baseline scenario, unpaired (the difference of the
// means, whether the two intervals overlap) and paired (the interval of the
// per-replication differences: replication r of every scenario of a job draws
// the same random numbers, so the shared noise cancels). `twinsim compare`
// prints it, Python's Results.compare() returns it as a DataFrame.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace twinsim::io {
class ResultsReader;
}

namespace twinsim::scenario {

/// One KPI and selection of one scenario, summarised across its replications.
struct ComparedKpi {
    std::string name;
    std::string selection;
    std::string statistic;
    std::string unit;
    std::size_t n = 0;
    double mean = std::numeric_limits<double>::quiet_NaN();
    double std = std::numeric_limits<double>::quiet_NaN();
    double ci95_low = std::numeric_limits<double>::quiet_NaN();
    double ci95_high = std::numeric_limits<double>::quiet_NaN();
    double p50 = std::numeric_limits<double>::quiet_NaN();  ///< percentiles across the runs
    double p90 = std::numeric_limits<double>::quiet_NaN();
    double p95 = std::numeric_limits<double>::quiet_NaN();
    std::map<std::int32_t, double> runs;  ///< replication -> the run's value (runs with a value)
};

struct ScenarioKpis {
    std::string name;
    std::vector<ComparedKpi> kpis;  ///< in the order the file lists them
    /// The KPI of that name and selection, or null.
    [[nodiscard]] const ComparedKpi* find(const std::string& kpi, const std::string& selection) const;
};

/// How a KPI differs from the baseline scenario's value of the same KPI and selection.
struct Difference {
    double baseline_mean = std::numeric_limits<double>::quiet_NaN();
    double difference = std::numeric_limits<double>::quiet_NaN();  ///< mean - baseline mean
    std::optional<bool> overlap;  ///< whether the two 95 % intervals overlap; none when either is unknown
    std::size_t paired_n = 0;     ///< replications both scenarios have a value for
    double paired_mean = std::numeric_limits<double>::quiet_NaN();
    double paired_low = std::numeric_limits<double>::quiet_NaN();   ///< 95 % interval of the mean difference (t, n - 1)
    double paired_high = std::numeric_limits<double>::quiet_NaN();
};

struct Comparison {
    std::string file;
    std::vector<ScenarioKpis> scenarios;  ///< in file order
    /// Index of the baseline in `scenarios`; none when there is no baseline
    /// (a single scenario and none asked for).
    std::optional<std::size_t> baseline;
    /// How KPI `kpi` of scenario `scenario` differs from the baseline's; none
    /// when there is no baseline, `scenario` is the baseline, or the baseline
    /// lacks the KPI and selection. Precondition: scenario < scenarios.size().
    [[nodiscard]] std::optional<Difference> difference(std::size_t scenario, const ComparedKpi& kpi) const;
};

/// Reads the KPI tables of every scenario of `reader`'s file. A scenario's
/// summary rows (replication -1) give mean, std, ci95_low, ci95_high, p50,
/// p90, p95 and n; one its spec did not ask for (`across`), or a file written
/// before percentiles existed lacks, is computed from the runs' own rows (the
/// interval within the statistic's range, statistic_range()).
/// `baseline`: the scenario the others are compared with; "" picks the first
/// when the file holds more than one. Throws io::ResultsError for a file that
/// cannot be read and for a baseline the file does not hold (naming the file
/// and listing its scenarios).
[[nodiscard]] Comparison compare(const io::ResultsReader& reader, const std::string& baseline = {});

/// The comparison as `twinsim compare --json` prints it: {file, baseline,
/// scenarios [{name, kpis [{name, selection, statistic, unit, n, mean, std,
/// ci95_low, ci95_high, p50, p90, p95, vs_baseline {baseline_mean, difference, ci_overlap,
/// paired {n, mean, ci95_low, ci95_high}} or null}]}]}; unknown numbers are null.
[[nodiscard]] nlohmann::ordered_json to_json(const Comparison& comparison);

}  // namespace twinsim::scenario
