#pragma once
// What the runs of one scenario contribute to a results file besides their
// interval series, and how the replications combine into the scenario's
// on-change series, event table, KPI table and summaries. The runner's reduce
// stage (sim/scenario/reduce.hpp) and the merge of results shards
// (sim/io/merge.hpp) both combine through combine_runs(), so a merged file and
// a single process's file hold the same numbers, bit for bit.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twinsim/common/statistics.hpp"
#include "twinsim/io/results_format.hpp"

namespace twinsim::io {

class ResultsWriter;
class AsyncResultsWriter;

/// One change of an on-change series: at `time`, the twin at position `twin`
/// of the series' twin axis took `value` (NaN: unset).
struct ChangeRecord {
    double time = 0.0;
    std::uint32_t twin = 0;
    double value = 0.0;
    friend bool operator==(const ChangeRecord&, const ChangeRecord&) = default;
};

/// One finished run (a replication of a scenario), succeeded or failed.
struct RunResults {
    std::uint32_t replication = 0;
    std::optional<std::string> failure;  ///< set when the run failed: the message
    std::string parameters_json = "{}";  ///< the run's parameters (fixed and drawn), JSON text
    std::vector<EventRecord> events;     ///< the recorded event log (after the parameters row), in order
    std::vector<KpiRow> kpis;            ///< per-run KPI rows (aggregate ""), in KPI order
    /// For each on-change series of the scenario (OnChangeSeries order): its
    /// changes in order, starting with every twin's value at time 0.
    std::vector<std::vector<ChangeRecord>> changes;
};

/// Which summary rows (replication all_replications) a KPI gets besides "n":
/// the aggregates its spec asks for ("mean", "std", "ci95_low", "ci95_high",
/// "p50", "p90", "p95"), in order.
struct KpiAggregates {
    std::string kpi;
    std::vector<std::string> aggregates;
    friend bool operator==(const KpiAggregates&, const KpiAggregates&) = default;
};

/// What a scenario's runs combine into, besides its fixed-axis series.
struct ScenarioLayout {
    std::string scenario;
    std::uint32_t replications = 1;
    /// The on-change series (times empty: their axis is the union of the
    /// runs' change instants), in the order they are defined.
    std::vector<SeriesDefinition> on_change;
    /// By KPI name; a KPI not listed gets only its "n" row.
    std::vector<KpiAggregates> summaries;
};

/// One KPI and selection summarised across the replications that gave it a value.
struct KpiSummaryRow {
    std::string name;
    std::string selection;
    std::string statistic;
    std::string unit;
    SampleSummary summary;
};

/// A scenario's tables, ready to be written.
struct CombinedScenario {
    struct OnChange {
        SeriesDefinition definition;  ///< times: the union of change instants (never empty)
        /// (replication, values[k * twins + n]) for every run that succeeded
        std::vector<std::pair<std::uint32_t, std::vector<double>>> blocks;
    };
    std::vector<OnChange> on_change;  ///< series that changed in no run are left out
    std::vector<EventRecord> events;  ///< per replication: "parameters" (or "run_failed"), then the run's events
    std::vector<KpiRow> kpis;         ///< per-run rows by replication, then the summary rows
    std::vector<KpiSummaryRow> summaries;  ///< by (KPI, selection) in first-seen order
};

/// A scenario's finished runs as a results shard keeps them, unreduced.
struct ShardRuns {
    ScenarioLayout layout;
    std::vector<RunResults> runs;  ///< the shard's runs of the scenario, by replication
};

/// As JSON text (non-finite numbers as the strings "nan", "inf", "-inf", so
/// every double comes back with the same bits).
[[nodiscard]] std::string encode_shard_runs(const ShardRuns& runs);
/// Throws std::invalid_argument naming what is wrong.
[[nodiscard]] ShardRuns decode_shard_runs(std::string_view text);
/// The same in a binary form (what a shard holds since the JSON text cost a
/// distributed job's merge most of its time): lengths and numbers as they lie in
/// memory (little-endian), doubles bit for bit. Smaller and several times faster
/// to write and read than the JSON text.
[[nodiscard]] std::string encode_shard_runs_binary(const ShardRuns& runs);
/// Throws std::invalid_argument naming what is wrong (truncated, a count larger
/// than the bytes left, bytes left over, no header).
[[nodiscard]] ShardRuns decode_shard_runs_binary(std::string_view bytes);

/// Combines the runs of one scenario. `runs` are in replication order (a
/// subset of the replications is allowed: the others are simply absent).
/// Throws std::invalid_argument when a run's `changes` do not match
/// layout.on_change or its replication is out of range or repeated.
[[nodiscard]] CombinedScenario combine_runs(const ScenarioLayout& layout, std::span<const RunResults> runs);

/// Writes a combined scenario into a file whose scenario (and fixed-axis
/// series) are already defined: defines the on-change series, writes their
/// blocks, the events and the KPI rows. Throws what the writer throws.
void write_combined(ResultsWriter& writer, const std::string& scenario, const CombinedScenario& combined);
void write_combined(AsyncResultsWriter& writer, const std::string& scenario, const CombinedScenario& combined);

}  // namespace twinsim::io
