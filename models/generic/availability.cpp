#include "models/generic/availability.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/kernel/distributions.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 6> declared{{
    {"capacity_property", "",
     "the numeric property set to 0 while failed and restored on repair (e.g. coolingCapacity)", nullptr},
    {"state_property", "",
     "an optional property (e.g. operatingState) set to failed_state while failed and restored on repair; "
     "\"none\" = not used",
     "none"},
    {"failed_state", "", "the value of state_property while failed; must be valid for its schema", "failed"},
    {"repair_time", "s",
     "repair duration (fixed) or its mean (exponential), >= 0, used when a fail event has no data.repairHours; "
     "\"none\" = wait for a repair event",
     "none"},
    {"repair_distribution", "", "\"fixed\" or \"exponential\": how repair_time is used", "fixed"},
    {"mtbf", "s",
     "mean time between failures > 0: each twin fails at random, after an exponential time from the start or from "
     "its last repair; \"none\" = only injected failures",
     "none"},
}};

struct Config {
    std::string capacity_property;
    std::vector<std::uint32_t> capacity_columns;
    std::string state_property;  ///< "" = none
    nlohmann::json failed_state;
    std::optional<double> repair_time;  ///< when given (unresolved at check time: nullopt)
    bool repair_given = false;
    bool exponential_repair = false;
    std::optional<double> mtbf;
    bool mtbf_given = false;
};

Config read(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    auto number = [&](std::string_view name, double min) {
        return resolved ? std::optional<double>(reader.required_number(name, min)) : reader.number(name, min);
    };

    Config c;
    c.capacity_property = reader.string("capacity_property");
    c.capacity_columns = scenario::numeric_columns(graph, binding.twins, c.capacity_property, "capacity_property");

    if (detail::given(reader, "state_property")) {
        c.state_property = reader.string("state_property");
        if (c.state_property.empty()) throw ModelParameterError("state_property", "expected a property name, found \"\"");
        c.failed_state = reader.raw("failed_state");
        if (c.failed_state.is_null()) throw ModelParameterError("failed_state", "expected a value, found null");
        if (scenario::is_parameter_reference(c.failed_state) && resolved)
            throw ModelParameterError("failed_state", "refers to a parameter that has no value: " + c.failed_state.dump());
        for (const graph::TwinIndex t : binding.twins) {
            const auto& model = graph.models()->at(graph.twin_model(t));
            const dtdl::PropertySlot* slot = model.layout.find(c.state_property);
            if (slot == nullptr)
                throw ModelParameterError("state_property", "twin \"" + graph.twin_id(t) + "\" (" + model.definition->id +
                                                                ") has no property \"" + c.state_property + "\"");
            if (!slot->property || !slot->property->schema || scenario::is_parameter_reference(c.failed_state)) continue;
            const auto errors = dtdl::validate_value(*slot->property->schema, c.failed_state);
            if (!errors.empty())
                throw ModelParameterError("failed_state", c.failed_state.dump() + " is not a valid value of " +
                                                              model.definition->id + "'s \"" + c.state_property +
                                                              "\": " + errors.front().message);
        }
    }

    const std::string distribution = reader.string("repair_distribution");
    if (distribution != "fixed" && distribution != "exponential")
        throw ModelParameterError("repair_distribution", "expected \"fixed\" or \"exponential\", found \"" + distribution + "\"");
    c.exponential_repair = distribution == "exponential";
    c.repair_given = detail::given(reader, "repair_time");
    if (c.repair_given) {
        c.repair_time = number("repair_time", 0.0);
        if (c.exponential_repair && c.repair_time && !(*c.repair_time > 0.0))
            throw ModelParameterError("repair_time", "the mean of an exponential repair time must be > 0 seconds");
    } else if (c.exponential_repair) {
        throw ModelParameterError("repair_distribution", "\"exponential\" needs repair_time (its mean)");
    }
    c.mtbf_given = detail::given(reader, "mtbf");
    if (c.mtbf_given) {
        c.mtbf = number("mtbf", -HUGE_VAL);
        if (c.mtbf && !(*c.mtbf > 0.0))
            throw ModelParameterError("mtbf", "must be > 0 seconds, found " + nlohmann::json(*c.mtbf).dump());
    }
    return c;
}

/// Payload of the model's own kernel events (random failures, scheduled repairs).
struct AvailabilityEvent {
    std::uint32_t position;
    std::uint32_t kind;
};
constexpr std::uint32_t failure_kind = 0;
constexpr std::uint32_t repair_kind = 1;

class AvailabilityBehaviour final : public scenario::Behaviour {
public:
    AvailabilityBehaviour(const scenario::Binding& binding, const graph::Snapshot& graph, Config config,
                          scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()), config_(std::move(config)) {
        units_.reserve(twins_.size());
        ids_.reserve(twins_.size());
        for (const graph::TwinIndex t : twins_) {
            units_.push_back(Unit{run.twin_stream(binding.index, t), false, std::nullopt, nlohmann::json(), 0.0, {}, {}, 0, 0, 0.0});
            ids_.push_back(graph.twin_id(t));
        }
        if (config_.mtbf) time_to_failure_.emplace(*config_.mtbf);
        if (config_.exponential_repair) repair_draw_.emplace(*config_.repair_time);
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        type_ = sim.on<AvailabilityEvent>([this](kernel::Simulator&, const AvailabilityEvent& e) {
            if (e.kind == failure_kind)
                fail(e.position, std::nullopt, "random");
            else
                repair(e.position, "scheduled");
        });
        if (time_to_failure_)
            for (std::size_t i = 0; i < units_.size(); ++i) schedule_failure(i);
    }

    bool on_event(scenario::Run& run, graph::TwinIndex twin, std::string_view event, const nlohmann::json& data) override {
        run_ = &run;
        const std::optional<std::size_t> position = detail::position_of(twins_, twin);
        if (!position) return false;
        if (event == "fail") {
            std::optional<double> repair_after;
            if (data.is_object() && data.contains("repairHours")) {
                const nlohmann::json& h = data["repairHours"];
                if (!h.is_number() || !std::isfinite(h.get<double>()) || h.get<double>() < 0.0)
                    throw Error(detail::twin_message("availability", ids_[*position],
                                                     "fail event: data.repairHours must be a number of hours >= 0, found " +
                                                         h.dump()));
                repair_after = h.get<double>() * 3600.0;
            }
            fail(*position, repair_after, "event");
            return true;
        }
        if (event == "repair") {
            repair(*position, "event");
            return true;
        }
        return false;
    }

    [[nodiscard]] std::vector<std::string> handled_events() const override { return {"fail", "repair"}; }

    [[nodiscard]] std::optional<AvailabilityStatistics> statistics(std::size_t position, double now) const {
        if (position >= units_.size()) return std::nullopt;
        const Unit& u = units_[position];
        AvailabilityStatistics s;
        s.failures = u.failures;
        s.repairs = u.repairs;
        s.failed = u.failed;
        s.downtime = u.downtime + (u.failed ? now - u.failed_since : 0.0);
        if (run_ != nullptr) {
            const kernel::Simulator& sim = run_->simulator();
            if (sim.pending(u.repair)) s.repair_due = sim.time_of(u.repair);
            if (sim.pending(u.failure)) s.failure_due = sim.time_of(u.failure);
        }
        return s;
    }

private:
    struct Unit {
        kernel::RandomStream stream;
        bool failed = false;
        std::optional<double> saved_capacity;
        nlohmann::json saved_state;  ///< null: was unset
        double failed_since = 0.0;
        kernel::EventHandle repair;   ///< pending scheduled repair
        kernel::EventHandle failure;  ///< pending random failure
        std::uint64_t failures = 0;
        std::uint64_t repairs = 0;
        double downtime = 0.0;
    };

    void schedule_failure(std::size_t i) {
        Unit& u = units_[i];
        u.failure = run_->simulator().schedule(type_, time_to_failure_->sample(u.stream),
                                               AvailabilityEvent{static_cast<std::uint32_t>(i), failure_kind});
    }

    void schedule_repair(std::size_t i, double delay) {
        Unit& u = units_[i];
        kernel::Simulator& sim = run_->simulator();
        if (sim.pending(u.repair))
            u.repair = sim.reschedule(u.repair, sim.now() + delay);
        else
            u.repair = sim.schedule(type_, delay, AvailabilityEvent{static_cast<std::uint32_t>(i), repair_kind});
    }

    void fail(std::size_t i, std::optional<double> repair_after, const char* cause) {
        Unit& u = units_[i];
        kernel::Simulator& sim = run_->simulator();
        if (u.failed) {
            // Already down: nothing to remember again; a new repair time replaces the pending one.
            if (repair_after) schedule_repair(i, *repair_after);
            return;
        }
        (void)sim.cancel(u.failure);  // an injected failure pre-empts the pending random one
        if (!repair_after && config_.repair_given)
            repair_after = repair_draw_ ? repair_draw_->sample(u.stream) : *config_.repair_time;

        const graph::TwinIndex twin = twins_[i];
        u.saved_capacity = run_->value(twin, config_.capacity_columns[i]);
        if (!config_.state_property.empty()) {
            const nlohmann::json current = run_->graph().get_twin(ids_[i]);
            const auto it = current.find(config_.state_property);
            u.saved_state = it == current.end() ? nlohmann::json() : *it;
            run_->update_twin(ids_[i], nlohmann::json::array({{{"op", "add"},
                                                                {"path", "/" + config_.state_property},
                                                                {"value", config_.failed_state}}}));
        }
        run_->write(twin, config_.capacity_columns[i], 0.0);
        u.failed = true;
        u.failed_since = sim.now();
        ++u.failures;
        if (repair_after) schedule_repair(i, *repair_after);
        run_->log_event(ids_[i], "failure",
                        {{"cause", cause},
                         {"property", config_.capacity_property},
                         {"capacity", u.saved_capacity ? nlohmann::json(*u.saved_capacity) : nlohmann::json()},
                         {"repair_after_s", repair_after ? nlohmann::json(*repair_after) : nlohmann::json()}});
    }

    void repair(std::size_t i, const char* cause) {
        Unit& u = units_[i];
        kernel::Simulator& sim = run_->simulator();
        if (!u.failed) return;  // nothing to repair
        (void)sim.cancel(u.repair);  // a repair event makes the scheduled one moot
        const graph::TwinIndex twin = twins_[i];
        nlohmann::json patch = nlohmann::json::array();
        if (!config_.state_property.empty()) {
            if (u.saved_state.is_null())
                patch.push_back({{"op", "remove"}, {"path", "/" + config_.state_property}});
            else
                patch.push_back({{"op", "add"}, {"path", "/" + config_.state_property}, {"value", u.saved_state}});
        }
        if (u.saved_capacity)
            run_->write(twin, config_.capacity_columns[i], *u.saved_capacity);
        else
            patch.push_back({{"op", "remove"}, {"path", "/" + config_.capacity_property}});
        if (!patch.empty()) run_->update_twin(ids_[i], patch);
        const double down = sim.now() - u.failed_since;
        u.downtime += down;
        u.failed = false;
        ++u.repairs;
        run_->log_event(ids_[i], "repair", {{"cause", cause}, {"downtime_s", down}});
        if (time_to_failure_) schedule_failure(i);
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    Config config_;
    std::vector<Unit> units_;
    std::optional<kernel::Exponential> time_to_failure_;
    std::optional<kernel::Exponential> repair_draw_;
    scenario::Run* run_ = nullptr;
    kernel::EventType<AvailabilityEvent> type_{};
};

}  // namespace

std::string_view AvailabilityModel::description() const {
    return "Failure and repair of equipment: on `fail` the capacity property drops to 0 (and the state property "
           "reads failed_state) until `repair` or a scheduled repair restores both; optional random failures (MTBF).";
}

std::span<const scenario::ModelParameter> AvailabilityModel::parameters() const { return declared; }

std::vector<scenario::PropertyUse> AvailabilityModel::properties(const scenario::Binding& binding) const {
    scenario::ParameterReader reader(binding.parameters, declared);
    // A capacity is never negative: a twin that starts with one is refused.
    std::vector<scenario::PropertyUse> out;
    out.push_back(scenario::PropertyUse(reader.string("capacity_property"), scenario::PropertyUse::Access::read_write,
                                        "capacity_property")
                      .within(0.0));
    return out;
}

void AvailabilityModel::check(const scenario::Binding& binding) const {
    (void)read(binding, detail::binding_graph(binding), false);
}

std::unique_ptr<scenario::Behaviour> AvailabilityModel::instantiate(const scenario::Binding& binding,
                                                                    scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& graph = detail::binding_graph(binding, &run.base());
    return std::make_unique<AvailabilityBehaviour>(binding, graph, read(binding, graph, true), run);
}

std::optional<AvailabilityStatistics> availability_statistics(const scenario::Behaviour& behaviour,
                                                              std::size_t position, double now) {
    const auto* a = dynamic_cast<const AvailabilityBehaviour*>(&behaviour);
    if (a == nullptr) return std::nullopt;
    return a->statistics(position, now);
}

}  // namespace twinsim::models
