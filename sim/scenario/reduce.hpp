#pragma once
// Stage 3 of a job (plan, execute, reduce; docs/runner.md): the finished runs
// of a scenario become its tables (on-change series over the union of the
// runs' change instants, the event table, per-run and summary KPI rows) and
// its KPI summaries across replications. Also: how a prepared scenario is laid
// out in a results file, which the runner and the shard writer share.
//
// Reducing is a pure function of the runs in replication order: the same runs
// reduce to the same bits whichever threads or processes executed them, which
// is what makes a merge of results shards equal to a single process's file.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "twinsim/common/statistics.hpp"
#include "twinsim/io/results_format.hpp"
#include "twinsim/io/run_results.hpp"
#include "twinsim/scenario/execute.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"

namespace twinsim::scenario {

struct RunFailure {
    std::string scenario;
    std::uint32_t replication = 0;
    std::string message;
};

/// One KPI across the replications of one scenario.
struct KpiSummary {
    std::string scenario;
    std::string name;
    std::string selection;  ///< twin id (over: each) or the selection
    std::string statistic;
    std::string unit;
    std::size_t n = 0;      ///< runs that produced a value
    double mean = 0.0;
    double std = 0.0;       ///< sample standard deviation (n - 1); NaN when n < 2
    /// mean -/+ t(0.975, n-1) * std / sqrt(n), kept inside the statistic's
    /// range (statistic_range(), sim/common/statistics.hpp); NaN when n < 2
    double ci95_low = 0.0;
    double ci95_high = 0.0;
    double p50 = 0.0;  ///< percentiles across the runs (linear interpolation); NaN when n == 0
    double p90 = 0.0;
    double p95 = 0.0;
};

/// A summary row of a scenario's KPI table as the runner reports it.
[[nodiscard]] KpiSummary kpi_summary(const std::string& scenario, const io::KpiSummaryRow& row);

/// Summaries of per-run values (mean, sample std, 95 % t interval within
/// `range`, percentiles), in the order given.
[[nodiscard]] KpiSummary summarize(std::span<const double> values, ValueRange range = {});

/// What a scenario's group in a results file says about it (name, spec as
/// JSON, fixed parameters, seed, replications, start).
[[nodiscard]] io::ScenarioDefinition results_definition(const PreparedScenario& scenario);
/// The series with a fixed time axis (interval series), defined before any run.
[[nodiscard]] std::vector<io::SeriesDefinition> fixed_series(const PreparedScenario& scenario);
/// What reduce needs to know of the scenario: its on-change series and which
/// summary rows each KPI gets (the spec's `across`).
[[nodiscard]] io::ScenarioLayout results_layout(const PreparedScenario& scenario);

/// A task's outcome as the results it contributes. Precondition: the outcome
/// is finished (a record or a failure), of this scenario.
[[nodiscard]] io::RunResults run_results(const PreparedScenario& scenario, TaskOutcome outcome);

/// A scenario reduced.
struct ReducedScenario {
    std::vector<KpiSummary> kpis;      ///< in KPI order (then selection, first seen)
    std::vector<RunFailure> failures;  ///< by replication
    io::CombinedScenario tables;       ///< what io::write_combined writes
};

/// Reduces the runs of `scenario` (any subset of its replications, in
/// replication order, each at most once). Throws twinsim::Error when a run does
/// not belong to the scenario.
[[nodiscard]] ReducedScenario reduce(const PreparedScenario& scenario, std::span<const io::RunResults> runs);

}  // namespace twinsim::scenario
