#include "twinsim/scenario/reduce.hpp"

#include <stdexcept>

#include "twinsim/common/error.hpp"
#include "twinsim/common/statistics.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::scenario {

KpiSummary summarize(std::span<const double> values, ValueRange range) {
    const SampleSummary s = summarize_sample(values, range);
    KpiSummary k;
    k.n = s.n;
    k.mean = s.mean;
    k.std = s.std;
    k.ci95_low = s.ci95_low;
    k.ci95_high = s.ci95_high;
    k.p50 = s.p50;
    k.p90 = s.p90;
    k.p95 = s.p95;
    return k;
}

io::ScenarioDefinition results_definition(const PreparedScenario& s) {
    io::ScenarioDefinition def;
    def.name = s.spec.name;
    def.description = s.spec.description;
    def.spec_json = to_json(s.spec).dump();
    def.parameters_json = s.fixed_parameters.dump();
    def.seed = s.spec.seed;
    def.replications = s.spec.replications;
    def.start = format_timestamp(s.spec.start, TimestampPrecision::seconds);
    return def;
}

std::vector<io::SeriesDefinition> fixed_series(const PreparedScenario& s) {
    std::vector<io::SeriesDefinition> out;
    for (const SeriesPlan& p : s.series) {
        if (p.on_change) continue;  // defined by reduce: its time axis is the union of the runs' changes
        io::SeriesDefinition def;
        def.name = p.name;
        def.unit = p.unit;
        def.twin_ids = p.twin_ids;
        def.times = p.times;
        def.model = p.model;
        def.property = p.property;
        def.description = p.property;
        out.push_back(std::move(def));
    }
    return out;
}

io::ScenarioLayout results_layout(const PreparedScenario& s) {
    io::ScenarioLayout layout;
    layout.scenario = s.spec.name;
    layout.replications = s.spec.replications;
    for (const SeriesPlan& p : s.series) {
        if (!p.on_change) continue;
        io::SeriesDefinition def;
        def.name = p.name;
        def.unit = p.unit;
        def.twin_ids = p.twin_ids;
        def.model = p.model;
        def.property = p.property;
        def.description = p.property + " at each change";
        layout.on_change.push_back(std::move(def));
    }
    for (const KpiPlan& k : s.kpis) {
        io::KpiAggregates a{k.spec.name, {}};
        for (const KpiSpec::Across across : k.spec.across) {
            switch (across) {
                case KpiSpec::Across::mean: a.aggregates.emplace_back("mean"); break;
                case KpiSpec::Across::std: a.aggregates.emplace_back("std"); break;
                case KpiSpec::Across::ci95:
                    a.aggregates.emplace_back("ci95_low");
                    a.aggregates.emplace_back("ci95_high");
                    break;
                case KpiSpec::Across::percentiles:
                    a.aggregates.emplace_back("p50");
                    a.aggregates.emplace_back("p90");
                    a.aggregates.emplace_back("p95");
                    break;
            }
        }
        layout.summaries.push_back(std::move(a));
    }
    return layout;
}

io::RunResults run_results(const PreparedScenario& s, TaskOutcome outcome) {
    io::RunResults out;
    out.replication = outcome.replication;
    if (outcome.failure || !outcome.record) {
        out.failure = outcome.failure.value_or("the run did not finish");
        return out;
    }
    RunRecord& r = *outcome.record;
    out.parameters_json = r.parameters.dump();
    if (s.spec.recording.events) out.events = std::move(r.events);
    out.kpis = std::move(r.kpis);
    for (std::size_t i = 0; i < s.series.size(); ++i) {
        if (!s.series[i].on_change) continue;
        std::vector<io::ChangeRecord> log;
        if (i < r.changes.size()) {
            log.reserve(r.changes[i].size());
            for (const RunRecord::Change& c : r.changes[i]) log.push_back({c.time, c.twin, c.value});
        }
        out.changes.push_back(std::move(log));
    }
    return out;
}

ReducedScenario reduce(const PreparedScenario& s, std::span<const io::RunResults> runs) {
    ReducedScenario out;
    try {
        out.tables = io::combine_runs(results_layout(s), runs);
    } catch (const std::invalid_argument& x) {
        throw Error(std::string("reduce: ") + x.what());
    }
    for (const io::RunResults& run : runs)
        if (run.failure) out.failures.push_back({s.spec.name, run.replication, *run.failure});
    for (const io::KpiSummaryRow& row : out.tables.summaries) out.kpis.push_back(kpi_summary(s.spec.name, row));
    return out;
}

KpiSummary kpi_summary(const std::string& scenario, const io::KpiSummaryRow& row) {
    KpiSummary k;
    k.scenario = scenario;
    k.name = row.name;
    k.selection = row.selection;
    k.statistic = row.statistic;
    k.unit = row.unit;
    k.n = row.summary.n;
    k.mean = row.summary.mean;
    k.std = row.summary.std;
    k.ci95_low = row.summary.ci95_low;
    k.ci95_high = row.summary.ci95_high;
    k.p50 = row.summary.p50;
    k.p90 = row.summary.p90;
    k.p95 = row.summary.p95;
    return k;
}

}  // namespace twinsim::scenario
