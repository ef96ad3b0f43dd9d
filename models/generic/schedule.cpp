#include "models/generic/schedule.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 3> declared{{
    ModelParameter{"property", "", "the numeric property to set (e.g. temperatureSetpoint)", nullptr}.fixed_per_scenario(),
    {"values", "",
     "[[time, value], ...]: at each time (seconds or an ISO 8601 duration after the start, >= 0, strictly "
     "ascending) every twin's property is set to the value (a number in the property's unit, a string \"<number> "
     "<unit>\" such as \"68 degF\" converted to it, or \"${name}\")",
     nullptr},
    ModelParameter{"process", "",
                   "the name of a process: the schedule then waits until the process is started during the run (a "
                   "rule's `start` action) and its times count from that instant; \"none\" = it starts with the run",
                   "none"}
        .fixed_per_scenario(),
}};

struct Entry {
    double time = 0.0;
    double value = 0.0;
};

struct Config {
    std::vector<std::uint32_t> columns;
    std::vector<Entry> entries;
    std::string process;  ///< "" = starts with the run
};

double entry_time(const nlohmann::json& t, const std::string& field) {
    if (t.is_number()) return t.get<double>();
    if (t.is_string()) {
        if (auto d = duration_seconds(t.get<std::string>())) return *d;
    }
    throw ModelParameterError(field, "expected seconds or an ISO 8601 duration, found " + t.dump());
}

/// `resolved`: every "${name}" must have a value (instantiate).
Config read(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    Config c;
    const std::string property = reader.string("property");
    c.columns = scenario::numeric_columns(graph, binding.twins, property, "property");
    const std::string unit = scenario::property_unit(graph, binding.twins, property, "property");
    const nlohmann::json& values = reader.raw("values");
    if (!values.is_array() || values.empty())
        throw ModelParameterError("values", "expected a non-empty list of [time, value] pairs, found " + values.dump());
    double previous = -HUGE_VAL;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::string field = "values[" + std::to_string(i) + "]";
        const nlohmann::json& pair = values[i];
        if (!pair.is_array() || pair.size() != 2)
            throw ModelParameterError(field, "expected a [time, value] pair, found " + pair.dump());
        Entry e;
        e.time = entry_time(pair[0], field + "[0]");
        if (!std::isfinite(e.time) || e.time < 0.0)
            throw ModelParameterError(field + "[0]", "must be a time >= 0, found " + pair[0].dump());
        if (!(e.time > previous))
            throw ModelParameterError(field + "[0]", "times must be strictly ascending");
        previous = e.time;
        // A number in the property's DTDL unit, or "<number> <unit>" converted to it ("68 degF").
        const std::optional<double> v = scenario::quantity(pair[1], unit, field + "[1]");
        if (v)
            e.value = *v;
        else if (resolved)
            throw ModelParameterError(field + "[1]", "refers to a parameter that has no value: " + pair[1].dump());
        c.entries.push_back(e);
    }
    if (detail::given(reader, "process")) c.process = reader.string("process");
    return c;
}

struct ScheduleEvent {
    std::uint32_t entry;
};

class ScheduleBehaviour final : public scenario::Behaviour {
public:
    ScheduleBehaviour(const scenario::Binding& binding, Config config)
        : twins_(binding.twins.begin(), binding.twins.end()), config_(std::move(config)) {}

    void start(scenario::Run& run) override {
        kernel::Simulator& sim = run.simulator();
        scenario::Run* r = &run;
        type_ = sim.on<ScheduleEvent>([this, r](kernel::Simulator&, const ScheduleEvent& e) { apply(*r, e.entry); });
        if (config_.process.empty()) {
            begin(run, 0.0);
        } else {
            run.add_process(config_.process, [this](scenario::Run& started) { begin(started, started.simulator().now()); });
        }
    }

private:
    /// Schedules every entry at origin + its time (entries already past are skipped).
    /// A process started again while its entries are still pending is left alone.
    void begin(scenario::Run& run, double origin) {
        kernel::Simulator& sim = run.simulator();
        if (pending_ > 0) {
            run.log_event("", "process_already_running", {{"process", config_.process}});
            return;
        }
        const double now = sim.now();
        for (std::size_t i = 0; i < config_.entries.size(); ++i) {
            const double at = origin + config_.entries[i].time;
            if (at < now) continue;
            sim.schedule_at(type_, at, ScheduleEvent{static_cast<std::uint32_t>(i)});
            ++pending_;
        }
    }

    void apply(scenario::Run& run, std::uint32_t entry) {
        --pending_;
        std::vector<graph::PropertyWrite> writes;
        writes.reserve(twins_.size());
        for (std::size_t i = 0; i < twins_.size(); ++i)
            writes.push_back(
                graph::PropertyWrite{twins_[i], config_.columns[i], config_.entries[entry].value, std::nullopt});
        if (!writes.empty()) run.write(writes);
    }

    std::vector<graph::TwinIndex> twins_;
    Config config_;
    kernel::EventType<ScheduleEvent> type_{};
    std::size_t pending_ = 0;  ///< entries scheduled and not yet applied
};

}  // namespace

std::string_view ScheduleModel::description() const {
    return "Sets a numeric property of every selected twin to given values at given times after the start "
           "([[time, value], ...]): setpoint schedules, planned shutdowns.";
}

std::span<const scenario::ModelParameter> ScheduleModel::parameters() const { return declared; }

std::vector<std::string> ScheduleModel::processes(const scenario::Binding& binding) const {
    scenario::ParameterReader reader(binding.parameters, declared);
    if (!detail::given(reader, "process")) return {};
    return {reader.string("process")};
}

std::vector<scenario::PropertyUse> ScheduleModel::properties(const scenario::Binding& binding) const {
    scenario::ParameterReader reader(binding.parameters, declared);
    std::vector<scenario::PropertyUse> out;
    out.push_back(scenario::PropertyUse(reader.string("property"), scenario::PropertyUse::Access::write, "property"));
    return out;
}

void ScheduleModel::check(const scenario::Binding& binding) const {
    (void)read(binding, detail::binding_graph(binding), false);
}

std::unique_ptr<scenario::Behaviour> ScheduleModel::instantiate(const scenario::Binding& binding,
                                                                scenario::Run& run) const {
    detail::require_ascending(binding);
    return std::make_unique<ScheduleBehaviour>(binding, read(binding, detail::binding_graph(binding, &run.base()), true));
}

}  // namespace twinsim::models
