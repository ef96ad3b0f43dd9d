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
#include <utility>
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

/// The scenario with the lowest mean of one KPI ("the cheapest policy"),
/// with how sure that is.
struct Cheapest {
    std::string kpi;
    std::string selection;
    std::size_t scenario = 0;  ///< index in Comparison::scenarios
    ComparedKpi summary;       ///< its mean and 95 % interval across replications
    /// The scenario with the next lowest mean, and how much more it costs:
    /// difference = its mean - the cheapest's; paired over the replications
    /// both ran. A paired interval above 0 means the ranking holds at the 5 % level.
    std::optional<std::size_t> runner_up;
    Difference versus_runner_up;
    /// The cheapest against the comparison's baseline (none when it is the baseline or there is none).
    std::optional<Difference> versus_baseline;
    /// Every scenario holding the KPI, by ascending mean: (index, mean).
    std::vector<std::pair<std::size_t, double>> ranking;
};

/// The scenario of `comparison` whose KPI `kpi` (and `selection`; "" = the
/// KPI's only selection) has the lowest mean. Scenarios without that KPI or
/// with an unknown mean are left out. Throws twinsim::Error naming the KPI and
/// what the file holds when no scenario has it, or when `selection` is "" and
/// the KPI has several selections.
[[nodiscard]] Cheapest cheapest(const Comparison& comparison, const std::string& kpi, const std::string& selection = {});

/// Cheapest as `twinsim compare --cheapest KPI --json` prints it: {file, kpi,
/// selection, statistic, unit, cheapest {scenario, n, mean, ci95_low,
/// ci95_high}, runner_up {scenario, mean, ci95_low, ci95_high, difference,
/// paired {n, mean, ci95_low, ci95_high}, significant} or null, vs_baseline
/// {baseline, difference, paired {...}} or null, ranking [{scenario, mean,
/// ci95_low, ci95_high}]}; unknown numbers are null.
[[nodiscard]] nlohmann::ordered_json to_json(const Comparison& comparison, const Cheapest& cheapest);

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
