#pragma once
// Live prognostics: keeps the prognostic properties of the degrading units of
// a live TwinGraph current as their readings arrive
// (models/equipment/prognostics.md, "In the live twin").
//
// Readings come from
// - property updates: a committed change that writes one of the model's
//   settings or sensors on a twin of the interface (e.g. s2 of a
//   TurbofanEngine) makes one reading of that twin's current values
//   (TwinGraph::subscribe_batches, so it is the state the batch left);
// - telemetry: with a router, a microsoft.iot.telemetry notification of such
//   a twin whose payload is {"reading": {name: value, ...}} (the
//   DegradingEquipment interface's Map telemetry) or has the settings and
//   sensors as top-level members makes one reading; names it lacks carry
//   the twin's previous values. An optional "cycle" member numbers it.
// - seed(): past readings, e.g. histories_from_store() of a store's history.
//
// A worker thread takes every reading queued so far, appends each to its
// twin's history (health indicator computed once per reading), predicts the
// RUL distribution of every twin that got a reading, and writes all their
// properties in ONE TwinGraph::update_twins call (atomically, cause
// "prognostics"): cycle, healthIndicator, rulMean, rulP05, rulP50, rulP95,
// rulQuantiles {q01 ... q99}, failureHorizon, failureProbability,
// prognosticsReadings. Those writes are not readings (they touch no sensor).
//
// Thread safety: public methods may be called from any thread except the
// worker and a graph or router listener.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/equipment/prognostics.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::live {
class EventRouter;
}

namespace twinsim::models {

struct LivePrognosticsOptions {
    /// The twins followed: of this interface or one extending it.
    std::string interface = "dtmi:twinsim:equipment:DegradingEquipment;1";
    /// The horizon of failureProbability, cycles (> 0).
    double horizon = 30.0;
    /// Readings waiting for the worker before producers block (>= 1).
    std::size_t queue_capacity = 100000;
};

struct LivePrognosticsStatistics {
    std::uint64_t readings = 0;        ///< readings taken (seeded ones included)
    std::uint64_t incomplete = 0;      ///< readings dropped: a setting or sensor never seen for the twin
    std::uint64_t updates = 0;         ///< update_twins calls
    std::uint64_t twins_updated = 0;   ///< twin patches written, summed over the updates
    std::uint64_t failures = 0;        ///< updates the graph refused
    std::string last_error;            ///< the last refusal's message
};

class LivePrognostics {
public:
    /// Subscribes to `graph`'s committed batches and, with `router`, adds an
    /// endpoint and a route (both named "twinsim-prognostics-<n>") for
    /// telemetry; `graph` and `router` must outlive the engine. Throws
    /// std::invalid_argument for options out of range, twinsim::Error when the
    /// graph has no such interface.
    LivePrognostics(graph::TwinGraph& graph, std::shared_ptr<const PrognosticsModel> model,
                    LivePrognosticsOptions options = {}, live::EventRouter* router = nullptr);
    /// Unsubscribes, removes its route and endpoint, stops the worker
    /// (readings still queued are dropped: drain() first).
    ~LivePrognostics();
    LivePrognostics(const LivePrognostics&) = delete;
    LivePrognostics& operator=(const LivePrognostics&) = delete;

    /// Past readings of twins of the graph (units named by twin id; columns
    /// matched by name), queued like live ones. Units that are not followed
    /// twins are skipped and counted in the return value.
    std::size_t seed(const HistorySet& histories);
    /// Waits until every reading queued before the call has been predicted
    /// and written. (Telemetry is queued when the router delivers it: flush
    /// the router first.)
    void drain();
    [[nodiscard]] LivePrognosticsStatistics statistics() const;
    /// The latest distribution of a twin; nullopt when it has none yet.
    [[nodiscard]] std::optional<RulDistribution> distribution(const std::string& twin) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The JSON Patch live prognostics writes for one prediction (see the file
/// comment): for front ends that predict once (twinsim prognostics).
[[nodiscard]] nlohmann::json prognostics_patch(const RulDistribution& rul, double horizon, std::size_t readings);

}  // namespace twinsim::models
