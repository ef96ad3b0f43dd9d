#include "models/generic/queue.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/kernel/distributions.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 7> declared{{
    {"property", "",
     "the integer or double property that holds the number in system (e.g. occupancy); its value at time 0 is the "
     "initial number (0 when unset)",
     nullptr},
    {"arrival_rate", "1/h", "Poisson arrival rate per hour, >= 0", nullptr},
    {"mean_service", "s", "mean of the exponential service (stay) time, > 0", nullptr},
    {"servers", "", "servers c: a whole number >= 1, or the name of a numeric property of each twin (e.g. capacity)",
     1},
    {"max_in_system", "",
     "room K for customers in service and waiting: a whole number >= 0, or a property name; arrivals finding K "
     "present are lost (counted). \"none\" = unlimited",
     "none"},
    {"wait_threshold", "s",
     "with answered_property: a service that starts within this many seconds of the customer's arrival counts as "
     "answered in time (a call centre's service level, e.g. 20 s); \"none\" = no service level",
     "none"},
    {"answered_property", "",
     "a double property that receives, at every start of service, the fraction of the arrivals served so far whose "
     "wait was at most wait_threshold (the service level; customers present at time 0 are not counted); \"none\" "
     "= none",
     "none"},
}};

struct Config {
    std::string property;
    std::vector<std::uint32_t> columns;
    std::optional<double> arrival_rate;  ///< per hour
    std::optional<double> mean_service;  ///< seconds
    detail::NumberOrProperty servers;
    std::vector<std::uint32_t> servers_columns;
    std::optional<detail::NumberOrProperty> max_in_system;
    std::vector<std::uint32_t> max_columns;
    std::optional<double> wait_threshold;  ///< seconds; set with answered_property
    std::string answered_property;
    std::vector<std::uint32_t> answered_columns;
};

void require_whole(std::string_view name, double x, double min) {
    if (std::floor(x) != x || x < min || x > 1e15)
        throw ModelParameterError(std::string(name), "must be a whole number >= " + nlohmann::json(min).dump() +
                                                         ", found " + nlohmann::json(x).dump());
}

Config read(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    auto number = [&](std::string_view name, double min) {
        return resolved ? std::optional<double>(reader.required_number(name, min)) : reader.number(name, min);
    };
    auto count = [&](std::string_view name, double min, std::vector<std::uint32_t>& columns) {
        detail::NumberOrProperty v = detail::number_or_property(reader, name);
        if (v.unresolved && resolved)
            throw ModelParameterError(std::string(name), "refers to a parameter that has no value: " + reader.raw(name).dump());
        if (v.number) require_whole(name, *v.number, min);
        if (!v.property.empty())
            columns = detail::typed_columns(graph, binding.twins, v.property, name,
                                            {dtdl::ColumnType::int64, dtdl::ColumnType::float64}, "a number");
        return v;
    };

    Config c;
    c.property = reader.string("property");
    c.columns = detail::typed_columns(graph, binding.twins, c.property, "property",
                                      {dtdl::ColumnType::int64, dtdl::ColumnType::float64},
                                      "an integer or a double (the number in system)");
    c.arrival_rate = number("arrival_rate", 0.0);
    c.mean_service = number("mean_service", -HUGE_VAL);
    if (c.mean_service && !(*c.mean_service > 0.0))
        throw ModelParameterError("mean_service", "must be > 0 seconds, found " + nlohmann::json(*c.mean_service).dump());
    c.servers = count("servers", 1.0, c.servers_columns);
    if (detail::given(reader, "max_in_system")) c.max_in_system = count("max_in_system", 0.0, c.max_columns);
    const bool threshold = detail::given(reader, "wait_threshold");
    const bool answered = detail::given(reader, "answered_property");
    if (threshold != answered)
        throw ModelParameterError(threshold ? "answered_property" : "wait_threshold",
                                  "wait_threshold and answered_property go together (the service level needs both)");
    if (answered) {
        c.wait_threshold = number("wait_threshold", 0.0);
        c.answered_property = reader.string("answered_property");
        c.answered_columns = detail::typed_columns(graph, binding.twins, c.answered_property, "answered_property",
                                                   {dtdl::ColumnType::float64}, "a double (the service level)");
    }
    return c;
}

/// Payload of the queue's kernel events.
struct QueueEvent {
    std::uint32_t position;  ///< the twin's position in the binding
    std::uint32_t kind;      ///< arrival or departure
};
constexpr std::uint32_t arrival = 0;
constexpr std::uint32_t departure = 1;

class QueueBehaviour final : public scenario::Behaviour {
public:
    QueueBehaviour(const scenario::Binding& binding, const graph::Snapshot& graph, Config config, scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()),
          config_(std::move(config)),
          service_(*config_.mean_service) {
        if (*config_.arrival_rate > 0.0) interarrival_.emplace(3600.0 / *config_.arrival_rate);
        stations_.reserve(twins_.size());
        ids_.reserve(twins_.size());
        for (const graph::TwinIndex t : twins_) {
            stations_.push_back(Station{run.twin_stream(binding.index, t), 0, 1, 0, 0, 0, 0, 0.0, 0.0, {}, 0, 0});
            ids_.push_back(graph.twin_id(t));
        }
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        start_time_ = sim.now();
        type_ = sim.on<QueueEvent>([this](kernel::Simulator& s, const QueueEvent& e) { handle(s, e); });
        std::vector<graph::PropertyWrite> initial;
        for (std::size_t i = 0; i < twins_.size(); ++i) {
            Station& st = stations_[i];
            st.servers = whole(i, config_.servers, config_.servers_columns, "servers", 1);
            st.limit = config_.max_in_system ? whole(i, *config_.max_in_system, config_.max_columns, "max_in_system", 0)
                                             : std::numeric_limits<std::int64_t>::max();
            const std::optional<double> n0 = run.value(twins_[i], config_.columns[i]);
            if (!n0) {
                initial.push_back(graph::PropertyWrite{twins_[i], config_.columns[i], 0.0, std::nullopt});
            } else if (std::floor(*n0) != *n0 || *n0 < 0.0 || *n0 > 1e15) {
                throw Error(detail::twin_message("queue", id(i), "\"" + config_.property + "\" is " +
                                                                     nlohmann::json(*n0).dump() +
                                                                     "; the number in system must be a whole number >= 0"));
            } else {
                st.in_system = static_cast<std::int64_t>(*n0);
            }
            st.last_change = start_time_;
            const auto position = static_cast<std::uint32_t>(i);
            for (std::int64_t k = 0; k < std::min(st.in_system, st.servers); ++k)
                sim.schedule(type_, service_.sample(st.stream), QueueEvent{position, departure});
            // Customers waiting at time 0 are not arrivals: their waits are not counted (NaN).
            if (config_.wait_threshold)
                for (std::int64_t k = st.servers; k < st.in_system; ++k) st.waiting.push_back(std::nan(""));
            if (interarrival_) sim.schedule(type_, interarrival_->sample(st.stream), QueueEvent{position, arrival});
        }
        if (!initial.empty()) run.write(initial);
        // The counts reach the event log once, at the horizon (never per customer).
        if (std::isfinite(run.horizon()) && run.horizon() >= sim.now()) {
            summary_ = sim.on<std::uint32_t>([this](kernel::Simulator& s, std::uint32_t) { log_summary(s.now()); });
            sim.schedule_at(summary_, run.horizon(), std::uint32_t{0}, kernel::max_priority - 1);
        }
    }

    [[nodiscard]] std::optional<QueueStatistics> statistics(std::size_t position, double now) const {
        if (position >= stations_.size()) return std::nullopt;
        const Station& st = stations_[position];
        QueueStatistics s;
        s.arrivals = st.arrivals;
        s.lost = st.lost;
        s.served = st.served;
        s.in_system = st.in_system;
        s.servers = st.servers;
        s.elapsed = now - start_time_;
        const double area = st.area + static_cast<double>(st.in_system) * (now - st.last_change);
        s.time_average = s.elapsed > 0.0 ? area / s.elapsed : static_cast<double>(st.in_system);
        s.started = st.started;
        s.answered_in_time = st.answered_in_time;
        return s;
    }

private:
    struct Station {
        kernel::RandomStream stream;
        std::int64_t in_system = 0;
        std::int64_t servers = 1;
        std::int64_t limit = 0;
        std::uint64_t arrivals = 0;
        std::uint64_t lost = 0;
        std::uint64_t served = 0;
        double area = 0.0;  ///< integral of in_system over [start, last_change]
        double last_change = 0.0;
        std::deque<double> waiting;  ///< arrival instants of the waiting customers, FIFO (with wait_threshold only)
        std::uint64_t started = 0;   ///< arrivals whose service started
        std::uint64_t answered_in_time = 0;  ///< of those, started within wait_threshold
    };

    [[nodiscard]] const std::string& id(std::size_t i) const { return ids_[i]; }

    std::int64_t whole(std::size_t i, const detail::NumberOrProperty& v, const std::vector<std::uint32_t>& columns,
                       std::string_view parameter, double min) const {
        if (v.number) return static_cast<std::int64_t>(*v.number);
        const std::optional<double> x = run_->value(twins_[i], columns[i]);
        if (!x || std::floor(*x) != *x || *x < min || *x > 1e15)
            throw Error(detail::twin_message(
                "queue", id(i),
                std::string(parameter) + " is property \"" + v.property + "\", which is " +
                    (x ? nlohmann::json(*x).dump() : std::string("unset")) + "; it must be a whole number >= " +
                    nlohmann::json(min).dump()));
        return static_cast<std::int64_t>(*x);
    }

    void handle(kernel::Simulator& sim, const QueueEvent& e) {
        Station& st = stations_[e.position];
        const double now = sim.now();
        if (e.kind == arrival) {
            ++st.arrivals;
            sim.schedule(type_, interarrival_->sample(st.stream), e);
            if (st.in_system >= st.limit) {
                ++st.lost;
                return;
            }
            change(st, now, +1);
            if (st.in_system <= st.servers) {
                sim.schedule(type_, service_.sample(st.stream), QueueEvent{e.position, departure});
                started_service(e.position, 0.0);
            } else if (config_.wait_threshold) {
                st.waiting.push_back(now);
            }
        } else {
            ++st.served;
            change(st, now, -1);
            // FIFO: the customer at the head of the line starts service now.
            if (st.in_system >= st.servers) {
                sim.schedule(type_, service_.sample(st.stream), e);
                if (config_.wait_threshold) {
                    const double arrived = st.waiting.front();
                    st.waiting.pop_front();
                    if (!std::isnan(arrived)) started_service(e.position, now - arrived);
                }
            }
        }
        run_->write(twins_[e.position], config_.columns[e.position], static_cast<double>(st.in_system));
    }

    /// An arrival's service started after `wait` seconds: the service level is updated.
    void started_service(std::uint32_t position, double wait) {
        if (!config_.wait_threshold) return;
        Station& st = stations_[position];
        ++st.started;
        if (wait <= *config_.wait_threshold) ++st.answered_in_time;
        run_->write(twins_[position], config_.answered_columns[position],
                    static_cast<double>(st.answered_in_time) / static_cast<double>(st.started));
    }

    static void change(Station& st, double now, std::int64_t delta) {
        st.area += static_cast<double>(st.in_system) * (now - st.last_change);
        st.last_change = now;
        st.in_system += delta;
    }

    void log_summary(double now) {
        for (std::size_t i = 0; i < twins_.size(); ++i) {
            const QueueStatistics s = *statistics(i, now);
            run_->log_event(id(i), "queue_summary",
                            {{"arrivals", s.arrivals},
                             {"lost", s.lost},
                             {"served", s.served},
                             {"in_system", s.in_system},
                             {"servers", s.servers},
                             {"time_average_in_system", s.time_average},
                             {"started", s.started},
                             {"answered_in_time", s.answered_in_time}});
        }
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    Config config_;
    kernel::Exponential service_;
    std::optional<kernel::Exponential> interarrival_;
    std::vector<Station> stations_;
    scenario::Run* run_ = nullptr;
    double start_time_ = 0.0;
    kernel::EventType<QueueEvent> type_{};
    kernel::EventType<std::uint32_t> summary_{};
};

}  // namespace

std::string_view QueueModel::description() const {
    return "M/M/c(/K) queue per twin (people in a room, orders at a machine): Poisson arrivals, exponential service, "
           "c servers, optional room K; writes the number in system on every change, counts arrivals and losses.";
}

std::span<const scenario::ModelParameter> QueueModel::parameters() const { return declared; }

std::vector<scenario::PropertyUse> QueueModel::properties(const scenario::Binding& binding) const {
    using Use = scenario::PropertyUse;
    scenario::ParameterReader reader(binding.parameters, declared);
    std::vector<Use> out;
    out.push_back(Use(reader.string("property"), Use::Access::read_write, "property").in("people").within(0.0));
    if (detail::given(reader, "answered_property"))
        out.push_back(Use(reader.string("answered_property"), Use::Access::write, "answered_property").within(0.0, 1.0));
    // Servers and room given as property names: a negative count is refused.
    for (const char* name : {"servers", "max_in_system"}) {
        const detail::NumberOrProperty v = detail::number_or_property(reader, name);
        if (!v.property.empty() && v.property != "none") out.push_back(Use(v.property, Use::Access::read, name).within(0.0));
    }
    return out;
}

void QueueModel::check(const scenario::Binding& binding) const { (void)read(binding, detail::binding_graph(binding), false); }

std::unique_ptr<scenario::Behaviour> QueueModel::instantiate(const scenario::Binding& binding, scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& graph = detail::binding_graph(binding, &run.base());
    return std::make_unique<QueueBehaviour>(binding, graph, read(binding, graph, true), run);
}

std::optional<QueueStatistics> queue_statistics(const scenario::Behaviour& behaviour, std::size_t position, double now) {
    const auto* q = dynamic_cast<const QueueBehaviour*>(&behaviour);
    if (q == nullptr) return std::nullopt;
    return q->statistics(position, now);
}

}  // namespace twinsim::models
