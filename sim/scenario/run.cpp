#include "twinsim/scenario/run.hpp"

#include <chrono>

namespace twinsim::scenario {

namespace {

graph::TwinGraphOptions graph_options(const kernel::Simulator* sim, const RunOptions& options) {
    graph::TwinGraphOptions o;
    // Simulated time, so a run's writes are stamped reproducibly.
    o.clock = [sim] { return graph::Timestamp{sim->instant_at(sim->now()).time_since_epoch().count()}; };
    o.allow_undefined_extensions = options.allow_undefined_extensions;
    return o;
}

}  // namespace

Run::Run(const graph::Snapshot& base, const RunOptions& options)
    : base_(base),
      id_(options.stream),
      simulator_(std::make_unique<kernel::Simulator>()),
      random_(id_, 0),
      graph_(graph::TwinGraph::from_snapshot(base_, graph_options(simulator_.get(), options))) {
    simulator_->set_start_instant(options.start);
}

Run::Run(Run&&) noexcept = default;
Run& Run::operator=(Run&&) noexcept = default;
Run::~Run() = default;

query::QueryResult Run::query(std::string_view text, const query::QueryOptions& options) const {
    return query::query_twins(graph_->snapshot(), text, options);
}

}  // namespace twinsim::scenario
