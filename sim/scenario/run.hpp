#pragma once
// Run: one scenario replication (DESIGN.md, "structure is shared, state is
// cloned"). A Run is a writable copy-on-write clone of a base Snapshot
// (graph::TwinGraph::from_snapshot: microseconds whatever the graph's size,
// no state copied until written) driven by its own discrete-event kernel
// (kernel::Simulator) and its own random stream derived from (seed,
// scenario, replication). Runs share nothing mutable, so any number of them
// run side by side on different threads; two Runs with the same base and the
// same StreamId, driven the same way, produce identical graphs.
//
// What is here is the minimal core. Still to come (issue 5 and the next one):
// the recorder (series, event logs and KPIs streamed to the HDF5 writer), the
// behaviour model instances bound to twins, applying a ScenarioSpec's
// overrides and injected events, and the parallel runner.
//
// The graph's clock is simulated time: every $lastUpdateTime, property
// lastUpdateTime and change-event time written during the run is
// simulator().instant_at(simulator().now()), so results are reproducible and
// do not depend on the wall clock.

#include <cstdint>
#include <memory>
#include <string_view>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/kernel/simulator.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::scenario {

struct RunOptions {
    /// (seed, scenario index, replication): the run's random stream.
    kernel::StreamId stream;
    /// The UTC instant simulated time 0 stands for.
    kernel::Instant start{};
    /// Passed to the DTDL parser if the run adds models.
    bool allow_undefined_extensions = false;
};

class Run {
public:
    /// Clones `base` (O(tables + columns), nothing copied until written) and
    /// sets up a simulator at time 0 = options.start.
    Run(const graph::Snapshot& base, const RunOptions& options);
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    Run(Run&&) noexcept;
    Run& operator=(Run&&) noexcept;
    ~Run();

    /// The run's writable graph (copy-on-write over base()).
    [[nodiscard]] graph::TwinGraph& graph() noexcept { return *graph_; }
    [[nodiscard]] const graph::TwinGraph& graph() const noexcept { return *graph_; }
    /// The run's kernel; its start_instant() is options.start.
    [[nodiscard]] kernel::Simulator& simulator() noexcept { return *simulator_; }
    [[nodiscard]] const kernel::Simulator& simulator() const noexcept { return *simulator_; }
    /// Sub-stream 0 of the run's stream (for run-level randomness); use
    /// stream(s) for independent per-twin or per-model sub-streams.
    [[nodiscard]] kernel::RandomStream& random() noexcept { return random_; }
    [[nodiscard]] kernel::RandomStream stream(std::uint64_t substream) const noexcept {
        return kernel::RandomStream(id_, substream);
    }
    [[nodiscard]] const kernel::StreamId& id() const noexcept { return id_; }

    /// The snapshot the run was cloned from (never changed by the run).
    [[nodiscard]] const graph::Snapshot& base() const noexcept { return base_; }
    /// The run's graph now (O(tables + columns)).
    [[nodiscard]] graph::Snapshot snapshot() const { return graph_->snapshot(); }
    /// An ADT query on snapshot().
    [[nodiscard]] query::QueryResult query(std::string_view text, const query::QueryOptions& options = {}) const;

private:
    graph::Snapshot base_;
    kernel::StreamId id_;
    std::unique_ptr<kernel::Simulator> simulator_;
    kernel::RandomStream random_;
    std::unique_ptr<graph::TwinGraph> graph_;
};

}  // namespace twinsim::scenario
