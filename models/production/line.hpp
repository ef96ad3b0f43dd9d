#pragma once
// The production-line engine behind the `production_line` behaviour
// (models/production/production_line.md): order sources, stations of parallel
// machines with finite input buffers (blocking after service), setups,
// batching, shared resource pools (operators, tools) whose size follows a
// shift calendar, stations that fail and are repaired, routing by product or
// probability, sinks. It knows nothing of twins: production_line.cpp builds a
// LineSpec from the twin graph; tests and benchmarks build one by hand.
//
// Everything runs on one kernel::Simulator as typed events (no coroutine, no
// allocation per part once the part and order tables have grown), so the line
// runs at kernel speed.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/kernel/rng.hpp"
#include "twinsim/kernel/simulator.hpp"

namespace twinsim::models::production {

/// A processing or inter-arrival time: its distribution, mean (s) and
/// coefficient of variation (sd / mean).
enum class TimeKind : std::uint8_t { none, deterministic, exponential, lognormal, gamma, uniform };

struct TimeSpec {
    TimeKind kind = TimeKind::none;  ///< none: not defined (a product the station does not process)
    double mean = 0.0;               ///< seconds, > 0 (>= 0 for deterministic)
    double cv = 0.0;                 ///< exponential: 1; deterministic: 0; uniform: <= 1/sqrt(3)
};
/// "exponential", "deterministic", ...; nullopt for an unknown name.
[[nodiscard]] std::optional<TimeKind> time_kind(std::string_view name);
[[nodiscard]] std::string_view time_kind_name(TimeKind kind);
/// Throws std::invalid_argument saying why when `t` cannot be sampled.
void check_time(const TimeSpec& t);

/// Where a part goes next from a source or a station.
struct Route {
    std::uint32_t node = 0;      ///< a station (< stations.size()) or a sink (stations.size() + k)
    std::int32_t product = -1;   ///< only for this product; -1: for every product without its own route
    double weight = 1.0;         ///< relative probability among the routes that apply, > 0
};

struct SourceSpec {
    std::string id;
    /// Random arrivals of orders (kind none: no random arrivals; orders come
    /// only from `demand` releases, or the source is saturated).
    TimeSpec interarrival;
    /// Saturated: a new part (an order of one) is released whenever the first
    /// station accepts the previous one, so that station never starves.
    bool saturated = false;
    std::uint32_t quantity = 1;          ///< parts per random order
    std::vector<double> mix;             ///< share of each product in random orders (empty: product 0 only)
    double due_allowance = std::numeric_limits<double>::infinity();  ///< due = release + allowance (s)
    std::vector<Route> routes;
};

struct StationSpec {
    std::string id;
    std::uint32_t machines = 1;          ///< identical parallel machines, >= 1
    /// Places for parts waiting for a machine (parts on a machine not
    /// counted); -1: unlimited. A finished part that finds the next
    /// station's buffer full stays on its machine, which is blocked.
    std::int64_t buffer = -1;
    std::vector<TimeSpec> process;       ///< per product: time of one batch on one machine
    std::vector<double> setup;           ///< per product: setup before a batch when the machine last made another product (s)
    /// Parts of one product processed together: a job starts when `batch`
    /// parts of the oldest waiting part's product wait, or with as many as
    /// wait when the buffer is full.
    std::uint32_t batch = 1;
    std::vector<std::uint32_t> pools;    ///< one unit of each is held while processing (operators, tools)
    std::vector<Route> routes;
};

struct SinkSpec {
    std::string id;
};

struct PoolSpec {
    std::string id;
    std::uint32_t size = 1;     ///< units present at time 0
};

/// One order of a recorded or planned demand.
struct OrderRelease {
    double time = 0.0;          ///< seconds after the start
    std::uint32_t source = 0;
    std::uint32_t product = 0;
    std::uint32_t quantity = 1;
    double due = std::numeric_limits<double>::infinity();  ///< seconds after the start
};

struct LineSpec {
    std::vector<std::string> products;  ///< at least one; at most 65,535
    std::vector<SourceSpec> sources;
    std::vector<StationSpec> stations;
    std::vector<SinkSpec> sinks;
    std::vector<PoolSpec> pools;
    std::vector<OrderRelease> demand;   ///< ascending time
    double warmup = 0.0;                ///< statistics restart at this time (s)

    /// The line as JSON (what bench/production_simpy.py builds its peer from).
    [[nodiscard]] nlohmann::json to_json() const;
};

/// Checks a spec: sizes, times, routes that lead somewhere for every product
/// that can reach a node, processing times for every product a station can
/// receive, no saturated source into an unlimited buffer. Throws
/// std::invalid_argument naming the element (its id) and why.
void validate(const LineSpec& spec);

struct StationStatistics {
    std::uint64_t parts = 0;        ///< parts that left the station since the warm-up
    double utilisation = 0.0;       ///< fraction of machine time processing (setups included)
    double setup = 0.0;             ///< fraction of machine time in setups
    double blocked = 0.0;           ///< fraction of machine time holding finished parts the next station cannot take
    double starved = 0.0;           ///< fraction of machine time idle while the station is up
    double waiting = 0.0;           ///< fraction of machine time holding parts but waiting for pools or repair
    double down = 0.0;              ///< fraction of time the station is failed
    double mean_queue = 0.0;        ///< time-average parts in the buffer
    double mean_wip = 0.0;          ///< time-average parts in the station (buffer and machines)
    double mean_wait = 0.0;         ///< mean time from arrival to the start of processing (s)
    double wait_probability = 0.0;  ///< fraction of started parts that waited at all
    double mean_sojourn = 0.0;      ///< mean time from arrival to leaving for the next node (s)
    std::int64_t wip = 0;           ///< parts in the station now
};

struct SinkStatistics {
    std::uint64_t parts = 0;        ///< parts arrived since the warm-up
    double throughput = 0.0;        ///< parts per second since the warm-up
    double mean_cycle = 0.0;        ///< mean release-to-sink time of those parts (s)
};

struct PoolStatistics {
    double utilisation = 0.0;       ///< busy unit time / present unit time
    double mean_present = 0.0;      ///< time-average units present
    std::int64_t present = 0;
};

struct SourceStatistics {
    std::uint64_t orders = 0;       ///< orders released since the warm-up
    std::uint64_t parts = 0;
    std::int64_t backlog = 0;       ///< released parts the first station has not taken yet, now
};

struct PlantStatistics {
    std::uint64_t parts_out = 0;    ///< parts that reached a sink since the warm-up
    double throughput = 0.0;        ///< parts per second
    double mean_cycle = 0.0;        ///< mean release-to-sink time (s)
    double mean_wip = 0.0;          ///< time-average parts released and not yet at a sink
    std::int64_t wip = 0;           ///< now
    std::uint64_t orders_completed = 0;  ///< since the warm-up
    std::uint64_t orders_late = 0;       ///< completed after their due time, plus open ones already past due
    std::uint64_t orders_open_late = 0;  ///< of which still open
    double service_level = 1.0;          ///< on-time completed / (completed + open past due); 1 when none
    double elapsed = 0.0;                ///< seconds of statistics (now - warm-up)
};

class Line {
public:
    /// Builds the line's state. `source_streams` and `station_streams` hold
    /// one stream per source and station (arrivals and product mix;
    /// processing times and routing). Throws std::invalid_argument (validate()).
    /// The Line must outlive `sim`'s events; construct it before start().
    Line(LineSpec spec, kernel::Simulator& sim, std::vector<kernel::RandomStream> source_streams,
         std::vector<kernel::RandomStream> station_streams);
    ~Line();
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    /// Registers the event handler and schedules the first arrivals and the warm-up.
    void start();

    /// A station fails (false) or is repaired (true). On a failure the parts
    /// being processed are interrupted (their pools released) and resume
    /// with their remaining time after the repair (preemptive resume).
    void set_station_up(std::uint32_t station, bool up);
    /// The number of units of a pool present from now (a shift change).
    /// Units in use above the new size finish their job and leave.
    void set_pool_size(std::uint32_t pool, std::uint32_t size);

    /// Called with (station index, wip) after a station's WIP changes and with
    /// (-1, plant wip) after the plant's; not called when empty (the default).
    void on_wip(std::function<void(std::int32_t, std::int64_t)> listener);

    [[nodiscard]] StationStatistics station(std::uint32_t s) const;
    [[nodiscard]] SinkStatistics sink(std::uint32_t k) const;
    [[nodiscard]] PoolStatistics pool(std::uint32_t p) const;
    [[nodiscard]] SourceStatistics source(std::uint32_t i) const;
    [[nodiscard]] PlantStatistics plant() const;
    [[nodiscard]] const LineSpec& spec() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace twinsim::models::production
