// The behaviour-model API as a scenario author and a model writer meet it:
// binding to a DTDL interface (and the interfaces that extend it), declared
// property uses and parameter ranges checked before any run (also against
// the overrides), units, twin properties overriding parameters, the step
// handler over a whole binding, and processes that rules start.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

constexpr const char* space_model = "dtmi:twinsim:building:Space;1";

/// What the test model's steps saw.
struct StepLog {
    std::vector<double> times, dts;
    std::vector<std::vector<double>> areas;  ///< Run::read of every twin's area, per step
    std::size_t twins = 0;
};

/// A model bound to Space (which Room, Zone, Level and Building extend) that
/// records its steps; its `area` use is declared, so prepare() checks it.
class SpaceProbe final : public scenario::BehaviourModel {
public:
    explicit SpaceProbe(std::shared_ptr<StepLog> log) : log_(std::move(log)) {}
    [[nodiscard]] std::string_view name() const override { return "space_probe"; }
    [[nodiscard]] std::string_view description() const override { return "test: records its steps"; }
    [[nodiscard]] std::span<const scenario::ModelParameter> parameters() const override { return declared_; }
    [[nodiscard]] std::string_view interface() const override { return space_model; }
    [[nodiscard]] std::vector<scenario::PropertyUse> properties(const scenario::Binding&) const override {
        std::vector<scenario::PropertyUse> uses;
        uses.push_back(scenario::PropertyUse("area").in("m2").within(0.0));
        return uses;
    }
    void check(const scenario::Binding& b) const override {
        scenario::ParameterReader reader(b.parameters, declared_);
        reader.finish();
        (void)reader.number("period");
    }
    [[nodiscard]] std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& b, scenario::Run& run) const override {
        scenario::ParameterReader reader(b.parameters, declared_);
        const double period = reader.required_number("period");
        auto columns = scenario::numeric_columns(run.base(), b.twins, "area", "area");
        log_->twins = b.twins.size();
        return std::make_unique<Probe>(log_, period, std::vector<graph::TwinIndex>(b.twins.begin(), b.twins.end()),
                                       std::move(columns));
    }

private:
    class Probe final : public scenario::Behaviour {
    public:
        Probe(std::shared_ptr<StepLog> log, double period, std::vector<graph::TwinIndex> twins, std::vector<std::uint32_t> columns)
            : log_(std::move(log)), period_(period), twins_(std::move(twins)), columns_(std::move(columns)), area_(twins_.size()) {}
        void start(scenario::Run&) override {}
        [[nodiscard]] double step_period() const override { return period_; }
        void step(scenario::Run& run, double t, double dt) override {
            run.read(twins_, columns_, area_);
            log_->times.push_back(t);
            log_->dts.push_back(dt);
            log_->areas.push_back(area_);
        }

    private:
        std::shared_ptr<StepLog> log_;
        double period_;
        std::vector<graph::TwinIndex> twins_;
        std::vector<std::uint32_t> columns_;
        std::vector<double> area_;
    };

    std::shared_ptr<StepLog> log_;
    std::vector<scenario::ModelParameter> declared_{scenario::ModelParameter{"period", "s", "step period", 600.0}.positive()};
};

std::string header(const std::string& horizon = "PT1H") {
    return "name: api\nbase: building.ndjson\nstart: \"2026-07-15T00:00:00Z\"\nhorizon: " + horizon +
           "\nstep: PT5M\nseed: 1\n";
}

/// "<line> <field>: <reason>" of the refusal, or "accepted".
std::string refusal(const std::string& text, const scenario::ModelRegistry& registry = models::builtin_registry()) {
    try {
        (void)scenario::prepare(scenario::scenario_from_yaml(text, "api.yaml"), test::sample_building(), registry);
    } catch (const scenario::ScenarioError& e) {
        return std::to_string(e.line()) + " " + e.field() + ": " + e.reason();
    }
    return "accepted";
}

double value_of(const scenario::Run& run, const graph::Snapshot& g, const std::string& id, const std::string& property) {
    const graph::TwinIndex t = *g.find(id);
    return run.value(t, test::column_of(g, t, property)).value_or(std::nan(""));
}

}  // namespace

TEST_CASE("model API: an interface binding takes the twins of that interface and of those extending it", "[models]") {
    auto log = std::make_shared<StepLog>();
    scenario::ModelRegistry registry;
    models::register_builtin_models(registry);
    registry.add(std::make_shared<const SpaceProbe>(log));
    const graph::Snapshot& g = test::sample_building();

    // Without `where`: every Room, Zone, Level and the Building (all extend Space), nothing else.
    const auto prepared = scenario::prepare(
        scenario::scenario_from_yaml(header() + "models:\n  - model: space_probe\n", "api.yaml"), g, registry);
    const auto& twins = prepared->bindings.at(0).twins;
    std::size_t spaces = 0;
    for (const char* m : {"Room", "Zone", "Level", "Building"})
        spaces += test::twins_of(g, std::string("dtmi:twinsim:building:") + m + ";1").size();
    CHECK(twins.size() == spaces);
    CHECK(twins.size() > test::twins_of(g, test::room_model).size());
    for (const graph::TwinIndex t : twins) CHECK(g.models()->is_a(g.twin_model(t), *g.models()->find(space_model)));

    // thermal_zones binds to Room: without `where` it takes exactly the rooms.
    const auto thermal = scenario::prepare(
        scenario::scenario_from_yaml(header() + "models:\n  - model: thermal_zones\n", "api.yaml"), g, registry);
    const auto rooms = test::twins_of(g, test::room_model);
    CHECK(std::vector<graph::TwinIndex>(thermal->bindings.at(0).twins.begin(), thermal->bindings.at(0).twins.end()) == rooms);

    // A twin of another interface is refused, naming it and the interface.
    const std::string bad = refusal(header() + "models:\n  - model: space_probe\n    where: \"$dtId = 'chiller-1'\"\n", registry);
    CHECK_THAT(bad, Catch::StartsWith("9 models[0].where:") && Catch::Contains("chiller-1") && Catch::Contains(space_model));
    CHECK_THAT(refusal(header() + "models:\n  - model: thermal_zones\n    where: \"IS_OF_MODEL('" + std::string(space_model) + "')\"\n"),
               Catch::Contains("models[0].where") && Catch::Contains("dtmi:twinsim:building:Room;1"));
}

TEST_CASE("model API: the step handler runs every period over the whole binding, reading contiguous columns", "[models]") {
    auto log = std::make_shared<StepLog>();
    scenario::ModelRegistry registry;
    models::register_builtin_models(registry);
    registry.add(std::make_shared<const SpaceProbe>(log));
    const std::string text = header() +
                             "models:\n  - model: space_probe\n    parameters: {period: 10 min}\n"
                             "overrides:\n  - where: \"$dtId = 'room-00-01'\"\n    set: {area: 77.5}\n";
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "api.yaml"), test::sample_building(), registry);
    scenario::Run run(prepared, 0);
    run.run_to_end();
    // "10 min" is 600 s: steps at 600, 1200, ..., 3600 with dt 600, in one call for all twins.
    REQUIRE(log->times.size() == 6);
    for (std::size_t k = 0; k < 6; ++k) {
        CHECK(log->times[k] == 600.0 * static_cast<double>(k + 1));
        CHECK(log->dts[k] == 600.0);
        CHECK(log->areas[k].size() == log->twins);
    }
    // Run::read gives what Run::value gives, twin by twin (the override included).
    const auto& twins = prepared->bindings.at(0).twins;
    const graph::Snapshot& g = prepared->graph;
    for (std::size_t i = 0; i < twins.size(); ++i) {
        const auto v = run.value(twins[i], test::column_of(g, twins[i], "area"));
        if (v)
            CHECK(log->areas.back()[i] == *v);
        else
            CHECK(std::isnan(log->areas.back()[i]));
    }
    const auto room = std::find(twins.begin(), twins.end(), *g.find("room-00-01"));
    CHECK(log->areas.back()[static_cast<std::size_t>(room - twins.begin())] == 77.5);
}

TEST_CASE("model API: physically impossible values are refused before any run, with file, line and reason", "[models]") {
    const std::string chillers = "models:\n  - model: availability\n    where: \"IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')\"\n"
                                 "    parameters: {capacity_property: coolingCapacity}\n";
    // A negative capacity set by an override (a declared property range).
    CHECK_THAT(refusal(header() + chillers + "overrides:\n  - where: \"$dtId = 'chiller-2'\"\n    set: {coolingCapacity: -5}\n"),
               Catch::StartsWith("10 models[0].parameters.capacity_property:") && Catch::Contains("chiller-2") &&
                   Catch::Contains("coolingCapacity = -5") && Catch::Contains(">= 0"));
    // The same through a fixed scenario parameter.
    CHECK_THAT(refusal(header() + "parameters:\n  cap: -1\n" + chillers +
                       "overrides:\n  - where: \"$dtId = 'chiller-1'\"\n    set: {coolingCapacity: \"${cap}\"}\n"),
               Catch::Contains("chiller-1") && Catch::Contains("coolingCapacity = -1"));
    // A value drawn per replication is not known before the run: not refused here.
    CHECK(refusal(header() + "parameters:\n  cap: {distribution: uniform, low: 100, high: 200}\n" + chillers +
                  "overrides:\n  - where: \"$dtId = 'chiller-1'\"\n    set: {coolingCapacity: \"${cap}\"}\n") == "accepted");

    const std::string zones = "models:\n  - model: thermal_zones\n";
    CHECK(refusal(header() + zones) == "accepted");
    // A zero heat capacity: the model's parameter, and a room's air volume.
    CHECK_THAT(refusal(header() + zones + "    parameters: {air_heat_capacity: 0}\n"),
               Catch::StartsWith("9 models[0].parameters.air_heat_capacity: must be > 0"));
    CHECK_THAT(refusal(header() + zones + "overrides:\n  - where: \"$dtId = 'room-01-03'\"\n    set: {airVolume: 0}\n"),
               Catch::Contains("models[0].properties.airVolume") && Catch::Contains("room-01-03") && Catch::Contains("> 0"));
    // A chiller's own COP overrides default_cop, and must be > 0 like it.
    CHECK_THAT(refusal(header() + zones +
                       "overrides:\n  - where: \"$dtId = 'chiller-2'\"\n    set: {coefficientOfPerformance: 0}\n"),
               Catch::Contains("models[0].parameters.default_cop") && Catch::Contains("chiller-2") &&
                   Catch::Contains("coefficientOfPerformance") && Catch::Contains("must be > 0"));
    // Units: a temperature the model understands, and ones it does not.
    CHECK(refusal(header() + zones + "    parameters: {outdoor_mean: 80.6 degF, outdoor_amplitude: 4 K}\n") == "accepted");
    CHECK_THAT(refusal(header() + zones + "    parameters: {outdoor_mean: 27 furlongs}\n"),
               Catch::StartsWith("9 models[0].parameters.outdoor_mean: unknown unit \"furlongs\""));
    CHECK_THAT(refusal(header() + zones + "    parameters: {outdoor_mean: 27 kW}\n"),
               Catch::Contains("outdoor_mean") && Catch::Contains("power") && Catch::Contains("temperature"));
    CHECK_THAT(refusal(header() + zones + "    parameters: {outdoor_mean: \"27\"}\n"), Catch::Contains("outdoor_mean"));
    // A property in a unit the model does not work in: written W into a volume.
    CHECK_THAT(refusal(header() + zones + "    parameters: {zone_cooling_property: airVolume}\n"),
               Catch::Contains("models[0].parameters.zone_cooling_property") && Catch::Contains("cubicMetre") &&
                   Catch::Contains("writes it in W"));
    CHECK(refusal(header() + zones + "    parameters: {zone_cooling_property: coolingPower, chiller_power_property: electricPower}\n") ==
          "accepted");
    // A parameter that shapes the model cannot be drawn per replication.
    CHECK_THAT(refusal(header() + "parameters:\n  n: {distribution: uniform, low: 10, high: 500}\n" + zones +
                       "    parameters: {max_exact_states: \"${n}\"}\n"),
               Catch::Contains("models[0].parameters.max_exact_states") && Catch::Contains("scenario parameter"));
}

TEST_CASE("model API: a setpoint schedule converts units to the property's DTDL unit and refuses others", "[models]") {
    const std::string schedule = "models:\n  - model: schedule\n    where: \"$dtId = 'room-00-01'\"\n"
                                 "    parameters:\n      property: temperatureSetpoint\n";
    const std::string text = header() + schedule + "      values: [[PT10M, 68 degF], [PT20M, 295.15 K], [PT30M, 23]]\n";
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "api.yaml"), test::sample_building(),
                                            models::builtin_registry());
    scenario::Run run(prepared, 0);
    const graph::Snapshot& g = prepared->graph;
    run.advance_to(600.0);
    CHECK(value_of(run, g, "room-00-01", "temperatureSetpoint") == Approx(20.0).epsilon(1e-12));
    run.advance_to(1200.0);
    CHECK(value_of(run, g, "room-00-01", "temperatureSetpoint") == Approx(22.0).epsilon(1e-12));
    run.advance_to(1800.0);
    CHECK(value_of(run, g, "room-00-01", "temperatureSetpoint") == 23.0);

    // A rule's set converts the same way (a rule true at the start fires at time 0).
    const std::string rule = header() + "models:\n  - model: rules\n    where: \"$dtId = 'room-00-02'\"\n"
                             "    parameters:\n      rules:\n        - {name: r, when: \"temperature > -50\", then: [{set: {temperatureSetpoint: 71.6 degF}}]}\n";
    const auto ruled = scenario::prepare(scenario::scenario_from_yaml(rule, "api.yaml"), test::sample_building(),
                                         models::builtin_registry());
    scenario::Run rule_run(ruled, 0);
    rule_run.advance_to(0.0);
    CHECK(value_of(rule_run, ruled->graph, "room-00-02", "temperatureSetpoint") == Approx(22.0).epsilon(1e-12));

    CHECK_THAT(refusal(header() + schedule + "      values: [[PT10M, 20 furlongs]]\n"),
               Catch::Contains("values[0][1]") && Catch::Contains("unknown unit \"furlongs\"") && Catch::Contains("degreeCelsius"));
    CHECK_THAT(refusal(header() + schedule + "      values: [[PT10M, 20 kW]]\n"),
               Catch::Contains("values[0][1]") && Catch::Contains("power"));
    // A property without a unit takes plain numbers only.
    CHECK_THAT(refusal(header() + "models:\n  - model: schedule\n    where: \"$dtId = 'room-00-01'\"\n"
                                  "    parameters: {property: occupancy, values: [[0, 3 degC]]}\n"),
               Catch::Contains("values[0][1]") && Catch::Contains("no unit"));
}

TEST_CASE("model API: a rule starts a process; the schedule's times count from that instant", "[models]") {
    const std::string text = header("PT12H") + R"yaml(events:
  - {at: PT2H, event: fail, twin: chiller-2}
models:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState}
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters:
      rules:
        - name: backup pump
          when: "operatingState = 'failed'"
          for: PT30M
          then: [{start: backup}]
  - model: schedule
    where: "$dtId = 'pump-1-standby'"
    parameters: {property: flowRate, process: backup, values: [[0, 16.5], [PT4H, 0]]}
recording:
  events: true
)yaml";
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "api.yaml"), test::sample_building(),
                                            models::builtin_registry());
    CHECK(prepared->processes == std::vector<std::string>{"backup"});
    scenario::Run run(prepared, 0);
    const graph::Snapshot& g = prepared->graph;
    run.advance_to(9000.0 - 1.0);  // not before the rule fires at 2 h 30 min
    CHECK(value_of(run, g, "pump-1-standby", "flowRate") == 0.0);
    run.advance_to(9000.0);
    CHECK(value_of(run, g, "pump-1-standby", "flowRate") == 16.5);
    run.advance_to(9000.0 + 4 * 3600.0 - 1.0);
    CHECK(value_of(run, g, "pump-1-standby", "flowRate") == 16.5);
    run.advance_to(9000.0 + 4 * 3600.0);
    CHECK(value_of(run, g, "pump-1-standby", "flowRate") == 0.0);
    run.run_to_end();
    const scenario::RunRecord record = run.finish();
    const auto start = std::find_if(record.events.begin(), record.events.end(),
                                    [](const io::EventRecord& e) { return e.type == "process_start"; });
    REQUIRE(start != record.events.end());
    CHECK(start->time == 9000.0);
    const json detail = json::parse(start->detail_json);
    CHECK(detail["process"] == "backup");
    CHECK(detail["rule"] == "backup pump");
    CHECK(detail["twin"] == "chiller-2");

    // A rule that starts a process no binding provides is refused before any run, at the action's line.
    std::string bad = text;
    bad.replace(bad.find("process: backup"), 15, "process: other");
    CHECK_THAT(refusal(bad), Catch::StartsWith("20 models[1].parameters.rules[0].then[0].start:") &&
                                 Catch::Contains("\"backup\"") && Catch::Contains("\"other\""));
}

TEST_CASE("thermal_zones: a backup chiller serves an air handler only when its normal one is down and a second pump runs",
          "[models]") {
    // chiller-2 cross-connected to ahu-00 (normally fed by chiller-1) as a backup feed.
    const std::string base = header("PT20H") + R"yaml(edits:
  - add_relationship: {"$dtId": "chiller-2", "$relationshipId": "crossover-00", "$relationshipName": "feeds", "$targetId": "ahu-00", "priority": 2}
models:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState}
  - model: thermal_zones
    parameters: {outdoor_mean: 27, outdoor_amplitude: 7}
)yaml";
    auto room_temperature = [&](const std::string& extra, double at) {
        const auto prepared = scenario::prepare(scenario::scenario_from_yaml(base + extra, "api.yaml"), test::sample_building(),
                                                models::builtin_registry());
        scenario::Run run(prepared, 0);
        run.advance_to(at);
        return value_of(run, prepared->graph, "room-00-01", "temperature");
    };
    const std::string fails = "events:\n  - {at: PT14H, event: fail, twin: chiller-1}\n";
    const std::string second_pump = "overrides:\n  - where: \"$dtId = 'pump-2-standby'\"\n    set: {flowRate: 16.5}\n";
    const double normal = room_temperature("", 18 * 3600.0);
    const double failed = room_temperature(fails, 18 * 3600.0);
    const double backed_up = room_temperature(fails + second_pump, 18 * 3600.0);
    // Nothing failed: the backup feed changes nothing, pump or not.
    CHECK(room_temperature(second_pump, 18 * 3600.0) == normal);
    // chiller-1 down: without the second pump level 0 warms; with it chiller-2 takes over.
    CHECK(failed > normal + 3.0);
    CHECK(backed_up < failed - 3.0);
    CHECK(backed_up == Approx(normal).margin(0.5));
}
