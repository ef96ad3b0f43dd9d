// The example behaviour model of docs/writing-models.md ("linear_drift"), and
// its tests. The part between the "example begin" and "example end" lines is
// quoted verbatim by the document; tests/python/test_docs_example.py checks
// that the two stay identical.
#include <catch2/catch.hpp>

// example begin
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/run.hpp"

namespace example {

using namespace twinsim;

// The parameters the model declares: name, unit, description, default (null =
// required), then refinements: the allowed range (checked before any run, and
// for values drawn per replication), a twin property that overrides the
// value per twin, or that it cannot come from a scenario parameter.
const std::array<scenario::ModelParameter, 3> linear_drift_parameters{{
    scenario::ModelParameter{"property", "", "the numeric property that drifts (e.g. temperature)", nullptr}
        .fixed_per_scenario(),
    {"rate", "1/h", "change per hour, in the property's unit (may be negative)", nullptr},
    scenario::ModelParameter{"step", "s", "how often the property is written, > 0", 300.0}.positive(),
}};

struct DriftConfig {
    std::vector<std::uint32_t> columns;  // columns[i]: the property's slot in twins[i]'s model
    std::optional<double> rate;          // nullopt only at check time, for a "${name}" parameter
    std::optional<double> step;
};

// Reads every parameter; throws ModelParameterError naming the bad one.
// `resolved` (instantiate time): every "${name}" reference has its value.
DriftConfig read_drift(const scenario::Binding& binding, const graph::Snapshot& graph, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, linear_drift_parameters);
    reader.finish();  // refuses parameter names the model does not declare
    DriftConfig c;
    c.columns = scenario::numeric_columns(graph, binding.twins, reader.string("property"), "property");
    // "PT10M", "10 min" and 600 all give 600 s; the declared range is checked.
    c.rate = resolved ? reader.required_number("rate") : reader.number("rate");
    c.step = resolved ? reader.required_number("step") : reader.number("step");
    return c;
}

// The payload of a typed kernel event: trivially copyable, at most 16 bytes.
struct ResetDue {
    std::uint32_t position;  // index into the binding's twins
};

// One binding's state in one run.
class LinearDriftBehaviour final : public scenario::Behaviour {
public:
    LinearDriftBehaviour(const scenario::Binding& binding, DriftConfig config)
        : twins_(binding.twins.begin(), binding.twins.end()),
          config_(std::move(config)),
          increment_(*config_.rate * *config_.step / 3600.0) {}

    void start(scenario::Run& run) override {
        // The values at time 0 (after the scenario's overrides): where "reset" goes back to.
        for (std::size_t i = 0; i < twins_.size(); ++i) initial_.push_back(run.value(twins_[i], config_.columns[i]));
        scenario::Run* r = &run;
        // A typed event for delayed resets; on_event schedules it.
        reset_due_ = run.simulator().on<ResetDue>(
            [this, r](kernel::Simulator&, const ResetDue& e) { reset(*r, e.position); });
        x_.resize(twins_.size());
    }

    // One periodic step for all the twins at once: the run calls step() every
    // step_period() seconds, before other events of the same instant, and the
    // step at t brings the twins from t - dt to t.
    [[nodiscard]] double step_period() const override { return *config_.step; }

    void step(scenario::Run& run, double t, double dt) override {
        (void)t, (void)dt;
        run.read(twins_, config_.columns, x_);  // every twin's value, contiguous (NaN = unset)
        writes_.clear();
        for (std::size_t i = 0; i < twins_.size(); ++i) {
            if (std::isnan(x_[i])) continue;  // unset: left alone
            writes_.push_back(graph::PropertyWrite{twins_[i], config_.columns[i], x_[i] + increment_, std::nullopt});
        }
        if (!writes_.empty()) run.write(writes_);  // one batch: the recorder sees every change
    }

    // "reset": back to the value at time 0, now or `after` seconds from now.
    bool on_event(scenario::Run& run, graph::TwinIndex twin, std::string_view event,
                  const nlohmann::json& data) override {
        if (event != "reset") return false;
        const auto position = static_cast<std::uint32_t>(
            std::lower_bound(twins_.begin(), twins_.end(), twin) - twins_.begin());  // twins are ascending
        double after = 0.0;
        if (data.is_object() && data.contains("after")) {
            if (!data["after"].is_number() || !(data["after"].get<double>() >= 0.0))
                throw Error("linear_drift: reset: \"after\" must be a number of seconds >= 0, found " +
                            data["after"].dump());
            after = data["after"].get<double>();
        }
        if (after > 0.0)
            run.simulator().schedule(reset_due_, after, ResetDue{position});
        else
            reset(run, position);
        return true;
    }

    [[nodiscard]] std::vector<std::string> handled_events() const override { return {"reset"}; }

private:
    void reset(scenario::Run& run, std::uint32_t position) {
        const std::optional<double> x0 = initial_[position];
        if (!x0) return;
        run.write(twins_[position], config_.columns[position], *x0);
        run.log_event(run.base().twin_id(twins_[position]), "drift_reset", {{"value", *x0}});
    }

    std::vector<graph::TwinIndex> twins_;
    DriftConfig config_;
    double increment_;
    std::vector<std::optional<double>> initial_;
    std::vector<double> x_;
    std::vector<graph::PropertyWrite> writes_;
    kernel::EventType<ResetDue> reset_due_{};
};

class LinearDriftModel final : public scenario::BehaviourModel {
public:
    [[nodiscard]] std::string_view name() const override { return "linear_drift"; }
    [[nodiscard]] std::string_view description() const override {
        return "A numeric property changes at a constant rate per hour, written on a periodic step; "
               "the event \"reset\" brings it back to its value at time 0.";
    }
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override {
        return linear_drift_parameters;
    }
    // "" = binds to any twin; a DTMI here would restrict the binding to that
    // interface and those extending it (and select them all without `where`).
    [[nodiscard]] std::string_view interface() const override { return {}; }
    // What it reads and writes: prepare() checks every twin declares it as a number.
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding& binding) const override {
        scenario::ParameterReader reader(binding.parameters, linear_drift_parameters);
        std::vector<scenario::PropertyUse> uses;
        uses.emplace_back(reader.string("property"), scenario::PropertyUse::Access::read_write, "property");
        return uses;
    }
    [[nodiscard]] std::vector<std::string> events() const override { return {"reset"}; }
    void check(const scenario::Binding& binding) const override {
        (void)read_drift(binding, *binding.graph, false);
    }
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& binding,
                                                                   scenario::Run& run) const override {
        const graph::Snapshot& graph = binding.graph != nullptr ? *binding.graph : run.base();
        return std::make_unique<LinearDriftBehaviour>(binding, read_drift(binding, graph, true));
    }
};

}  // namespace example
// example end

#include <cmath>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const example::LinearDriftModel drift_model;

}  // namespace

TEST_CASE("linear_drift (docs/writing-models.md): x(t) = x0 + rate * t at every step", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const scenario::Binding b =
        test::bind(g, "linear_drift", {{"property", "temperature"}, {"rate", 0.5}, {"step", "PT10M"}}, rooms);
    drift_model.check(b);
    scenario::Run run(g, test::run_options());
    auto behaviour = drift_model.instantiate(b, run);
    run.start_behaviour(*behaviour);
    const std::vector<double> x0 = test::temperatures(run, g, rooms);
    run.advance_to(6 * 3600.0);
    const std::vector<double> x = test::temperatures(run, g, rooms);
    for (std::size_t i = 0; i < rooms.size(); ++i) CHECK(x[i] == Approx(x0[i] + 3.0).margin(1e-9));
    CHECK(run.simulator().events_processed() == 36);  // one event per step for all 61 rooms

    SECTION("reset now and after a delay (a typed kernel event)") {
        // A bare run has no bindings to deliver to: call on_event as Run::deliver would.
        CHECK(behaviour->on_event(run, rooms[0], "reset", json::object()));
        CHECK(*run.value(rooms[0], test::column_of(g, rooms[0], "temperature")) == x0[0]);
        CHECK(behaviour->on_event(run, rooms[1], "reset", {{"after", 1800}}));
        run.advance_to(6 * 3600.0 + 1799.0);  // last step at 6 h 20 min
        CHECK(*run.value(rooms[1], test::column_of(g, rooms[1], "temperature")) == Approx(x0[1] + 0.5 * (6.0 + 1.0 / 3.0)));
        run.advance_to(6 * 3600.0 + 1800.0);  // the step at 6 h 30 min, then the reset
        CHECK(*run.value(rooms[1], test::column_of(g, rooms[1], "temperature")) == x0[1]);
        CHECK_FALSE(behaviour->on_event(run, rooms[0], "explode", json::object()));
        CHECK_THROWS_AS(behaviour->on_event(run, rooms[0], "reset", {{"after", -1}}), Error);
    }
}

TEST_CASE("linear_drift refuses bad parameters, naming them", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    auto refused = [&](const json& parameters) -> std::string {
        try {
            drift_model.check(test::bind(g, "linear_drift", parameters, rooms));
        } catch (const scenario::ModelParameterError& e) {
            return e.parameter();
        }
        return "";
    };
    CHECK(refused({{"property", "temperature"}}) == "rate");
    CHECK(refused({{"property", "temperature"}, {"rate", 1}, {"step", 0}}) == "step");
    CHECK(refused({{"property", "temperature"}, {"rate", 1}, {"speed", 2}}) == "speed");
    CHECK(refused({{"property", "nosuch"}, {"rate", 1}}) == "property");
    CHECK(refused({{"property", "temperature"}, {"rate", "${r}"}}).empty());  // drawn per replication
}

TEST_CASE("linear_drift in a scenario: registered beside the built-ins, reset injected, recorded", "[models]") {
    scenario::ModelRegistry registry;
    models::register_builtin_models(registry);
    registry.add(std::make_shared<const example::LinearDriftModel>());
    const std::string text = R"yaml(name: drift
base: building.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT10H
step: PT5M
seed: 1
parameters:
  rate: {distribution: uniform, low: 0.4, high: 0.6}
events:
  - {at: PT8H, event: reset, twin: room-00-01}
models:
  - model: linear_drift
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {property: temperature, rate: "${rate}", step: PT1H}
recording:
  events: true
kpis:
  - {name: final, statistic: final, where: "$dtId = 'room-00-02'", property: temperature}
  - {name: reset final, statistic: final, where: "$dtId = 'room-00-01'", property: temperature}
)yaml";
    const auto prepared =
        scenario::prepare(scenario::scenario_from_yaml(text, "drift.yaml"), test::sample_building(), registry);
    scenario::Run run(prepared, 0);
    run.run_to_end();
    const scenario::RunRecord record = run.finish();
    const double rate = run.parameters()["rate"].get<double>();
    const graph::Snapshot& g = test::sample_building();
    const double x0 = g.get_property("room-00-02", "temperature")->get<double>();
    REQUIRE(record.kpis.size() == 2);
    CHECK(record.kpis[0].value == Approx(x0 + 10 * rate));
    CHECK(record.kpis[1].value == Approx(20.43 + 2 * rate));  // reset at 8 h, two steps since
    const auto reset = std::find_if(record.events.begin(), record.events.end(),
                                    [](const io::EventRecord& e) { return e.type == "drift_reset" && e.twin == "room-00-01"; });
    REQUIRE(reset != record.events.end());
    CHECK(reset->time == 8 * 3600.0);
    CHECK(json::parse(reset->detail_json)["value"] == 20.43);
}
