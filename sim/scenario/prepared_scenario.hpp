#pragma once
// PreparedScenario: one concrete scenario (a sweep point, or a spec without a
// sweep) checked against its base graph and ready to be run any number of
// times, from any thread.
//
// prepare() does, once and before any run:
//   1. applies the structural edits to a clone of the base snapshot (the
//      "scenario graph"; an edit that fails names its index);
//   2. evaluates every `where` of models, recording and KPIs on the scenario
//      graph (so twin axes are the same in every replication);
//   3. checks model bindings (unknown model, bad parameter), recorded and KPI
//      properties (declared, numeric), injected events (the twin exists and a
//      bound behaviour handles the event), and the override expressions;
// and throws ScenarioError naming the file, line and field on the first
// problem. Overrides and parameter draws happen per replication in the Run.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

/// One recorded quantity: a property over the twins a RecordSeries selected.
struct SeriesPlan {
    std::string name;        ///< dataset name: the property, "<property>.changes" for on-change, "#k" appended on a clash
    std::string property;
    std::string model;       ///< DTMI of the (first) model declaring the property among the twins
    std::string unit;        ///< CF/UDUNITS spelling of the property's DTDL unit ("1" when none)
    std::vector<graph::TwinIndex> twins;
    std::vector<std::string> twin_ids;
    std::vector<std::uint32_t> columns;  ///< slot of the property per twin
    bool on_change = false;  ///< false: sampled at `times`
    std::vector<double> times;  ///< sample instants (interval series): 0, dt, 2 dt, ... <= horizon
    /// Replay's modelled-vs-recorded twin of a series ("<property>.recorded",
    /// docs/replay.md): the recorded values at `times`, values[k * twins + n]
    /// (NaN where the history has none); the run samples these instead of the graph.
    std::shared_ptr<const std::vector<double>> recorded;
};

/// One property a replay drives (docs/replay.md): its value at the run's
/// step instants, kept only where it changes.
struct ReplayTarget {
    graph::TwinIndex twin = 0;
    std::uint32_t column = 0;
    std::string twin_id;
    std::string property;
    std::vector<std::uint64_t> steps;  ///< step k (instant k * step) where the value changes, ascending
    std::vector<double> values;        ///< the value from that step on; NaN: left to the model from there
};

struct ReplayPlan {
    double step = 0.0;     ///< seconds between writes (the scenario's step)
    std::string source;    ///< where the history came from
    std::vector<ReplayTarget> targets;
};

/// One KPI with its twins resolved.
struct KpiPlan {
    KpiSpec spec;
    std::string unit;  ///< of the KPI's value (time statistics: "h"; counts: "1")
    std::vector<graph::TwinIndex> twins;
    std::vector<std::string> twin_ids;
    std::vector<std::uint32_t> columns;
};

/// One model binding with its twins resolved.
struct BindingPlan {
    const BehaviourModel* model = nullptr;
    std::string name;
    nlohmann::json parameters;
    std::vector<graph::TwinIndex> twins;
    /// Names the binding's random sub-streams (Run::twin_stream): derived from
    /// the model's name and how many bindings of that model come before it, not
    /// from the binding's position, so that the k-th `queue` binding draws the
    /// same numbers in every scenario of a job (common random numbers) even
    /// when another scenario binds more models before it.
    std::uint32_t stream_key = 0;
};

struct PreparedScenario {
    ScenarioSpec spec;                  ///< the concrete spec (no sweep)
    /// The scenario's position in the job (results order). Not part of the
    /// runs' random streams: replication r of every scenario of a job draws
    /// from the same streams (common random numbers), so the differences
    /// between scenarios come from what the scenarios change, and a scenario
    /// gives the same results whatever else the job holds.
    std::uint32_t index = 0;
    /// The snapshot the scenario was prepared against (before the edits): what
    /// its run tasks reference (plan_job digests it).
    graph::Snapshot base;
    graph::Snapshot graph;              ///< base + structural edits
    std::vector<BindingPlan> bindings;
    /// Every process the bindings provide (BehaviourModel::processes), sorted, no duplicates.
    std::vector<std::string> processes;
    std::vector<SeriesPlan> series;
    std::vector<KpiPlan> kpis;
    /// For each injected event: the target twin's index.
    std::vector<graph::TwinIndex> event_twins;
    /// The recorded inputs of a replay (spec.replay); null without one.
    std::shared_ptr<const ReplayPlan> replay;
    /// The fixed parameters (and sweep point) as a JSON object.
    nlohmann::json fixed_parameters = nlohmann::json::object();
};

/// Prepares `spec` (which must have no sweep: call expand() first) against
/// `base`. `index`: the scenario's position in the job (PreparedScenario::index,
/// results order); it does not enter the random streams, which depend on the
/// spec's seed and the replication only.
/// Throws ScenarioError naming the file (spec.source), line and field.
[[nodiscard]] std::shared_ptr<const PreparedScenario> prepare(const ScenarioSpec& spec, const graph::Snapshot& base,
                                                              const ModelRegistry& registry, std::uint32_t index = 0);

/// The CF/UDUNITS spelling of a DTDL unit ("degreeCelsius" -> "degC"); "1" for "".
[[nodiscard]] std::string cf_unit(std::string_view dtdl_unit);

}  // namespace twinsim::scenario
