#pragma once
// Run: one scenario replication (DESIGN.md, "structure is shared, state is
// cloned"). A Run is a writable copy-on-write clone of a base Snapshot
// (graph::TwinGraph::from_snapshot: microseconds whatever the graph's size,
// no state copied until written) driven by its own discrete-event kernel
// (kernel::Simulator), its own random stream derived from (seed,
// replication) — the same for replication r of every scenario of a job
// (common random numbers; see PreparedScenario::index) — the behaviours of the scenario's model bindings and a
// recorder (series, event log, KPIs). Runs share nothing mutable, so any
// number of them run side by side on different threads; two Runs of the same
// prepared scenario and replication produce identical results.
//
// The graph's clock is simulated time: every $lastUpdateTime, property
// lastUpdateTime and change-event time written during the run is
// simulator().instant_at(simulator().now()), so results are reproducible and
// do not depend on the wall clock.
//
// Order at time 0 (Run(prepared, replication)): parameters drawn (sub-stream
// 0, in declaration order), overrides applied (in order), behaviours started
// (in binding order), injected events scheduled, the recorder's first sample
// taken when the first event at or after 0 runs. Recorder samples run after
// every other event at the same instant (lowest priority).

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/numeric_read.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/io/results_format.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/kernel/simulator.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::scenario {

struct PreparedScenario;
class Behaviour;

struct RunOptions {
    /// The run's random stream (a prepared scenario's runs use {seed, 0, replication}).
    kernel::StreamId stream;
    /// The UTC instant simulated time 0 stands for.
    kernel::Instant start{};
    /// Passed to the DTDL parser if the run adds models.
    bool allow_undefined_extensions = false;
};

/// Receives a run's results as they are produced (the runner forwards them to
/// the HDF5 writer thread). Called on the run's thread.
class RunSink {
public:
    virtual ~RunSink() = default;
    /// Samples of interval series `series` (index into PreparedScenario::series):
    /// time steps first_time.. of values[k * twins + n].
    virtual void series_block(std::size_t series, std::uint64_t first_time, std::vector<double> values) = 0;
};

/// What a finished run produced besides its interval series.
struct RunRecord {
    std::uint32_t replication = 0;
    nlohmann::json parameters;              ///< fixed and drawn values
    std::vector<io::EventRecord> events;    ///< the event log, in order of occurrence
    /// On-change series: for each, the changes (time, twin position, value) in
    /// order, starting with the value of every twin at time 0 (NaN when unset).
    struct Change {
        double time;
        std::uint32_t twin;
        double value;
    };
    std::vector<std::vector<Change>> changes;
    /// Interval series, only for a Run without a sink: for each series (in
    /// PreparedScenario::series order; empty for on-change ones) the samples
    /// taken, values[k * twins + n] for time step k.
    std::vector<std::vector<double>> samples;
    /// Per-run KPI rows (replication set, aggregate ""), in KPI order.
    std::vector<io::KpiRow> kpis;
    double end_time = 0.0;          ///< simulated seconds reached
    std::uint64_t events_processed = 0;
};

class Run {
public:
    /// A bare run: clones `base` (O(tables + columns), nothing copied until
    /// written) with a simulator at time 0 = options.start; no behaviours, no
    /// recorder. For tests and custom drivers.
    Run(const graph::Snapshot& base, const RunOptions& options);
    /// Replication `replication` of a prepared scenario: clones its graph,
    /// draws the replication's parameters, applies the overrides, starts the
    /// behaviours and schedules the injected events. `sink` (may be null: then
    /// interval samples are kept and returned by finish()) must outlive the Run.
    /// Throws ScenarioError when an override cannot be applied (naming the
    /// override and the twin) and whatever a behaviour's start() throws.
    Run(std::shared_ptr<const PreparedScenario> scenario, std::uint32_t replication, RunSink* sink = nullptr);
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    ~Run();

    /// The run's graph as it is now (copy-on-write over base()), read-only.
    [[nodiscard]] const graph::TwinGraph& graph() const noexcept { return *graph_; }
    /// The run's graph, writable. The name warns because a write made through
    /// it is off the record: the recorder (series, events in the results
    /// file) and the write listeners (rules) never see it, so results would
    /// silently miss the change. Behaviours write through write() and
    /// update_twin(); this is for setting up state deliberately off the
    /// record (tests, tools).
    [[nodiscard]] graph::TwinGraph& graph_unrecorded() noexcept { return *graph_; }
    /// The run's kernel; its start_instant() is the scenario's start.
    [[nodiscard]] kernel::Simulator& simulator() noexcept { return *simulator_; }
    [[nodiscard]] const kernel::Simulator& simulator() const noexcept { return *simulator_; }
    /// Sub-stream 0 of the run's stream (parameter draws, run-level randomness).
    [[nodiscard]] kernel::RandomStream& random() noexcept { return random_; }
    [[nodiscard]] kernel::RandomStream stream(std::uint64_t substream) const noexcept {
        return kernel::RandomStream(id_, substream);
    }
    /// The independent sub-stream of one twin within one model binding (the
    /// binding's index in the scenario). In a scenario run it is keyed by the
    /// binding's stream_key, the same for the k-th binding of a model in every
    /// scenario of a job; in a bare run by the index.
    [[nodiscard]] kernel::RandomStream twin_stream(std::size_t binding, graph::TwinIndex twin) const noexcept;
    [[nodiscard]] const kernel::StreamId& id() const noexcept { return id_; }

    /// The snapshot the run was cloned from (never changed by the run).
    [[nodiscard]] const graph::Snapshot& base() const noexcept { return base_; }
    /// The run's graph now (O(tables + columns)).
    [[nodiscard]] graph::Snapshot snapshot() const { return graph_->snapshot(); }
    /// An ADT query on snapshot().
    [[nodiscard]] query::QueryResult query(std::string_view text, const query::QueryOptions& options = {}) const;

    /// Starts a behaviour in this run: calls its start() and, when its
    /// step_period() is > 0, schedules its step() every period from now on
    /// (priority step_priority). A scenario run does this for every binding;
    /// call it for behaviours instantiated by hand on a bare run. The
    /// behaviour must outlive the run's events. Throws ScenarioError for a
    /// negative or non-finite period.
    void start_behaviour(Behaviour& behaviour);

    /// Registers how to begin a named process (BehaviourModel::processes); a
    /// name may have several starters (all run, in registration order).
    void add_process(std::string name, std::function<void(Run&)> start);
    /// Starts the named process now: logs a run-wide event "process_start"
    /// with {"process": name} plus `detail`'s members, then runs its starters.
    /// Throws twinsim::Error when no behaviour registered the name.
    void start_process(std::string_view name, const nlohmann::json& detail = nlohmann::json::object());

    // --- state access for behaviours ----------------------------------------
    /// A numeric property now; nullopt when unset. Precondition: the twin is
    /// alive and `column` is a numeric slot of its model.
    [[nodiscard]] std::optional<double> value(graph::TwinIndex twin, std::uint32_t column) const;
    /// The numeric property of many twins at once into one contiguous array,
    /// for a step over a whole binding: out[i] = value(twins[i], columns[i]),
    /// `missing` where unset. Precondition: the three spans have the same
    /// size (std::invalid_argument otherwise) and value()'s for every pair.
    void read(std::span<const graph::TwinIndex> twins, std::span<const std::uint32_t> columns, std::span<double> out,
              double missing = std::numeric_limits<double>::quiet_NaN()) const;
    /// Several properties of the same twins at once, in one pass over the twins
    /// (graph::read_numeric): for each read r, r.out[i] = value(twins[i],
    /// r.columns[i]), r.missing where unset. Precondition: every r.columns and
    /// r.out has twins.size() entries (std::invalid_argument otherwise) and
    /// value()'s for every pair.
    void read(std::span<const graph::TwinIndex> twins, std::span<const graph::NumericRead> reads) const;
    /// Writes numeric properties, atomically, and tells the recorder.
    /// Throws graph::ValidationError (dead twin, non-numeric column, a
    /// non-integral value for an integer).
    void write(std::span<const graph::PropertyWrite> writes);
    void write(graph::TwinIndex twin, std::uint32_t column, double value);
    /// Applies a JSON Patch to a twin (graph::TwinGraph::update_twin) and
    /// tells the recorder about the numeric properties it touched.
    void update_twin(std::string_view twin_id, const nlohmann::json& patch);
    /// Appends to the event log ("" twin for a run-wide event) at now().
    void log_event(std::string_view twin, std::string type, nlohmann::json detail = nlohmann::json::object());
    /// Delivers a named event to the behaviours bound to `twin`, now. Returns
    /// whether one handled it.
    bool deliver(graph::TwinIndex twin, std::string_view event, const nlohmann::json& data);
    /// Called with (twin, column) for every top-level property that write()
    /// or update_twin() changed (column = dtdl::PropertySlot::column in the
    /// twin's model; any type, not only numbers; a patch of "/a/b" reports
    /// "a"), after the recorder has seen it. Used by models that react to
    /// changes (models/rules). Writes made directly on graph_unrecorded() and the
    /// scenario's overrides are not reported.
    using WriteListener = std::function<void(graph::TwinIndex twin, std::uint32_t column)>;
    /// Adds a listener, called on the run's thread in order of addition; it
    /// must stay callable while the run is written (a behaviour's lifetime)
    /// and should defer heavy work (e.g. schedule a kernel event at now()).
    void on_write(WriteListener listener) { write_listeners_.push_back(std::move(listener)); }
    /// This replication's parameters (fixed, sweep and drawn), as a JSON object.
    [[nodiscard]] const nlohmann::json& parameters() const noexcept { return parameters_; }
    /// The prepared scenario (null for a bare run).
    [[nodiscard]] const PreparedScenario* scenario() const noexcept { return scenario_.get(); }
    [[nodiscard]] std::uint32_t replication() const noexcept { return static_cast<std::uint32_t>(id_.replication); }

    // --- driving --------------------------------------------------------------
    /// The scenario's horizon (seconds); +infinity for a bare run.
    [[nodiscard]] double horizon() const noexcept { return horizon_; }
    /// Runs events up to min(t, horizon()). Throws KernelError when t < now()
    /// or NaN (nothing happens), and whatever a behaviour throws (the run is
    /// then failed: later advance_to() and finish() calls throw twinsim::Error).
    kernel::StopReason advance_to(double t);
    /// Runs to the horizon (or a stop request).
    kernel::StopReason run_to_end() { return advance_to(horizon_); }
    /// Closes the recorder at now(): last interval samples, KPIs computed over
    /// [0, now()]. Throws twinsim::Error when called twice or after the run
    /// failed. A bare run returns only its parameters, end time and event count.
    [[nodiscard]] RunRecord finish();

private:
    struct Recorder;
    struct SampleTick;
    void notify(graph::TwinIndex twin, std::uint32_t column);

    graph::Snapshot base_;
    kernel::StreamId id_;
    std::unique_ptr<kernel::Simulator> simulator_;
    kernel::RandomStream random_;
    std::unique_ptr<graph::TwinGraph> graph_;
    std::shared_ptr<const PreparedScenario> scenario_;
    nlohmann::json parameters_ = nlohmann::json::object();
    std::map<std::string, std::vector<std::function<void(Run&)>>, std::less<>> processes_;
    double horizon_;
    std::vector<std::unique_ptr<Behaviour>> behaviours_;
    std::unique_ptr<Recorder> recorder_;
    kernel::EventType<SampleTick> sample_type_{};
    std::vector<nlohmann::json> injected_data_;  ///< injected events' payloads, parameters resolved
    std::vector<WriteListener> write_listeners_;
    bool failed_ = false;
    bool finished_ = false;
};

}  // namespace twinsim::scenario
