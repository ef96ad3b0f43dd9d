// rules: declarative business rules and propagation along relationships (models/rules/rules.md).
#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models/rules/rules.hpp"
#include "models_fixtures.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& rules() { return *models::builtin_registry().find("rules"); }

std::shared_ptr<const scenario::PreparedScenario> prepare(const std::string& yaml) {
    return scenario::prepare(scenario::scenario_from_yaml(yaml, "rules.yaml"), test::sample_building(),
                             models::builtin_registry());
}

std::vector<io::EventRecord> events_of(const std::vector<io::EventRecord>& events, const std::string& type) {
    std::vector<io::EventRecord> out;
    std::copy_if(events.begin(), events.end(), std::back_inserter(out), [&](const io::EventRecord& e) { return e.type == type; });
    return out;
}

double number(const scenario::Run& run, const std::string& id, const std::string& property) {
    const json t = run.graph().get_twin(id);
    REQUIRE(t.contains(property));
    return t[property].get<double>();
}

void write(scenario::Run& run, const std::string& id, const std::string& property, double value) {
    const graph::Snapshot& g = run.base();
    const graph::TwinIndex t = *g.find(id);
    run.write(t, test::column_of(g, t, property), value);
}

const std::string header = R"yaml(name: rules
base: building.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT24H
recording: {events: true}
)yaml";

}  // namespace

TEST_CASE("rules: a `for` rule fires exactly when its condition has held that long, not when interrupted", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId = 'room-00-01'"
    parameters:
      rules:
        - name: too hot
          when: "temperature > 26"
          for: PT30M
          then:
            - alarm: room too hot for 30 minutes
            - set: {temperatureSetpoint: 20}
)yaml");
    scenario::Run run(prepared, 0);
    CHECK(number(run, "room-00-01", "temperatureSetpoint") == 22.0);

    run.advance_to(3600.0);
    write(run, "room-00-01", "temperature", 27.0);   // true from 3600 s: due at 5400 s
    run.advance_to(4500.0);
    write(run, "room-00-01", "temperature", 25.0);   // interrupted after 15 min: never fires
    run.advance_to(5040.0);
    write(run, "room-00-01", "temperature", 26.5);   // true again from 5040 s: due at 6840 s
    run.advance_to(5760.0);
    write(run, "room-00-01", "temperature", 28.0);   // still true: the clock is not restarted
    run.advance_to(6840.0 - 1e-6);
    CHECK(number(run, "room-00-01", "temperatureSetpoint") == 22.0);
    run.advance_to(6840.0);
    CHECK(number(run, "room-00-01", "temperatureSetpoint") == 20.0);
    run.advance_to(36000.0);                           // stays true: fires once only
    write(run, "room-00-01", "temperature", 21.0);
    run.advance_to(39600.0);
    write(run, "room-00-01", "temperature", 30.0);     // a new episode: due at 41400 s
    run.advance_to(41400.0 - 1.0);
    write(run, "room-00-01", "temperature", 26.0);     // "> 26" fails a second before: no firing
    run.run_to_end();

    const scenario::RunRecord record = run.finish();
    const auto fired = events_of(record.events, "rule");
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].twin == "room-00-01");
    CHECK(fired[0].time == 6840.0);
    const json detail = json::parse(fired[0].detail_json);
    CHECK(detail["rule"] == "too hot");
    CHECK(detail["for_s"] == 1800.0);
    CHECK(detail["since"] == 5040.0);
    const auto alarms = events_of(record.events, "alarm");
    REQUIRE(alarms.size() == 1);
    CHECK(alarms[0].time == 6840.0);
    CHECK(json::parse(alarms[0].detail_json) == json{{"rule", "too hot"}, {"text", "room too hot for 30 minutes"}});
}

TEST_CASE("rules: a rule without `for` fires on each false -> true transition, also at the start", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId IN ['room-00-01', 'room-00-02']"
    parameters:
      rules:
        - {name: cold, when: "temperature < 20.5", then: [{alarm: cold}]}
)yaml");
    scenario::Run run(prepared, 0);
    run.advance_to(0.0);  // room-00-01 starts at 20.43
    write(run, "room-00-02", "temperature", 19.0);
    write(run, "room-00-02", "temperatureSetpoint", 18.0);  // not read by the rule: no evaluation
    run.advance_to(60.0);
    write(run, "room-00-02", "temperature", 18.0);  // still true: no new firing
    run.advance_to(120.0);
    write(run, "room-00-02", "temperature", 22.0);
    run.advance_to(180.0);
    write(run, "room-00-02", "temperature", 20.0);  // true again
    run.advance_to(240.0);
    const scenario::RunRecord record = run.finish();
    const auto fired = events_of(record.events, "rule");
    std::vector<std::pair<std::string, double>> got;
    for (const auto& e : fired) got.emplace_back(e.twin, e.time);
    CHECK(got == std::vector<std::pair<std::string, double>>{{"room-00-01", 0.0}, {"room-00-02", 0.0}, {"room-00-02", 180.0}});
}

TEST_CASE("rules: set with an expression, fail and restore through the availability model", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState, failed_state: failed}
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters:
      rules:
        - name: overheating chiller trips
          when: "chilledWaterSupplyTemperature > 12"
          then:
            - fail
            - alarm: chiller tripped on high supply temperature
            - set: {chilledWaterSetpoint: {expression: "chilledWaterSupplyTemperature"}, runHours: 0}
        - name: restart when cool
          when: "chilledWaterSupplyTemperature <= 8 AND operatingState = 'failed'"
          then: [restore]
)yaml");
    scenario::Run run(prepared, 0);
    run.advance_to(2 * 3600.0);
    write(run, "chiller-1", "chilledWaterSupplyTemperature", 13.0);
    run.advance_to(2 * 3600.0);  // the rules run at the instant of the write
    CHECK(number(run, "chiller-1", "coolingCapacity") == 0.0);
    CHECK(run.graph().get_twin("chiller-1")["operatingState"] == "failed");
    CHECK(number(run, "chiller-1", "chilledWaterSetpoint") == 13.0);
    CHECK(number(run, "chiller-1", "runHours") == 0.0);
    CHECK(number(run, "chiller-2", "coolingCapacity") == 400.0);

    run.advance_to(3 * 3600.0);
    write(run, "chiller-1", "chilledWaterSupplyTemperature", 7.0);
    run.advance_to(4 * 3600.0);
    CHECK(number(run, "chiller-1", "coolingCapacity") == 400.0);
    CHECK(run.graph().get_twin("chiller-1")["operatingState"] == "running");

    const scenario::RunRecord record = run.finish();
    const auto fired = events_of(record.events, "rule");
    REQUIRE(fired.size() == 2);
    CHECK(json::parse(fired[0].detail_json)["rule"] == "overheating chiller trips");
    CHECK(fired[0].time == 2 * 3600.0);
    CHECK(json::parse(fired[1].detail_json)["rule"] == "restart when cool");
    CHECK(fired[1].time == 3 * 3600.0);
    const auto failures = events_of(record.events, "failure");
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].twin == "chiller-1");
    CHECK(failures[0].time == 2 * 3600.0);
    const auto repairs = events_of(record.events, "repair");
    REQUIRE(repairs.size() == 1);
    CHECK(repairs[0].time == 3 * 3600.0);
    CHECK(json::parse(repairs[0].detail_json)["downtime_s"] == 3600.0);
    CHECK(events_of(record.events, "alarm").size() == 1);
}

TEST_CASE("rules: fail on a twin no behaviour handles fails the run, naming the rule and twin", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "$dtId = 'chiller-1'"
    parameters:
      rules:
        - {name: trip, when: "chilledWaterSupplyTemperature > 12", then: [fail]}
)yaml");
    scenario::Run run(prepared, 0);
    write(run, "chiller-1", "chilledWaterSupplyTemperature", 13.0);
    CHECK_THROWS_WITH(run.advance_to(1.0), Catch::Contains("trip") && Catch::Contains("chiller-1") && Catch::Contains("fail"));
}

namespace {

/// A floor (Level) with properties to propagate into, and its rooms.
graph::Snapshot floors() {
    graph::TwinGraph g;
    g.add_models(test::building_interfaces());
    const std::vector<dtdl::Document> floor{{"floor.json", R"json({
      "@context": "dtmi:dtdl:context;3", "@id": "dtmi:twinsim:test:Floor;1", "@type": "Interface",
      "extends": "dtmi:twinsim:building:Level;1",
      "contents": [
        {"@type": "Property", "name": "temperature", "schema": "double"},
        {"@type": "Property", "name": "minTemperature", "schema": "double"},
        {"@type": "Property", "name": "maxTemperature", "schema": "double"},
        {"@type": "Property", "name": "roomCount", "schema": "integer"},
        {"@type": "Property", "name": "warmRooms", "schema": "integer"},
        {"@type": "Property", "name": "allWarm", "schema": "boolean"},
        {"@type": "Property", "name": "anyWarm", "schema": "boolean"}
      ]})json"}};
    g.add_models(floor);
    for (const char* f : {"floor-1", "floor-2"})
        g.upsert_twin(f, {{"$metadata", {{"$model", "dtmi:twinsim:test:Floor;1"}}}, {"area", 0.0}});
    const std::vector<std::tuple<std::string, std::string, json>> rooms{
        {"room-a", "floor-1", 20.0}, {"room-b", "floor-1", 22.0}, {"room-c", "floor-1", nullptr}, {"room-d", "floor-2", 25.0}};
    for (const auto& [id, floor_id, temperature] : rooms) {
        json twin = {{"$metadata", {{"$model", test::room_model}}}, {"area", 30.0}};
        if (!temperature.is_null()) twin["temperature"] = temperature;
        g.upsert_twin(id, twin);
        g.upsert_relationship(id, "isPartOf-1", {{"$targetId", floor_id}, {"$relationshipName", "isPartOf"}});
    }
    return g.snapshot();
}

const json floor_rules = json::parse(R"json({"rules": [
  {"name": "mean", "relationship": "isPartOf", "aggregate": "mean", "source_property": "temperature", "target_property": "temperature"},
  {"name": "min", "relationship": "isPartOf", "aggregate": "min", "source_property": "temperature", "target_property": "minTemperature"},
  {"name": "max", "relationship": "isPartOf", "direction": "incoming", "aggregate": "max", "source_property": "temperature", "target_property": "maxTemperature"},
  {"name": "area", "relationship": "isPartOf", "aggregate": "sum", "source_property": "area", "target_property": "area", "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"},
  {"name": "rooms", "relationship": "isPartOf", "aggregate": "count", "target_property": "roomCount"},
  {"name": "warm", "relationship": "isPartOf", "aggregate": "count", "target_property": "warmRooms", "where": "temperature >= 22"},
  {"name": "all warm", "relationship": "isPartOf", "aggregate": "all", "target_property": "allWarm", "where": "temperature >= 22"},
  {"name": "any warm", "relationship": "isPartOf", "aggregate": "any", "target_property": "anyWarm", "where": "temperature >= 22"}
]})json");

}  // namespace

TEST_CASE("rules: propagation keeps a floor's temperature the mean of its rooms', recomputed only where a room changed", "[models]") {
    const graph::Snapshot g = floors();
    const std::vector<graph::TwinIndex> targets = test::twins_of(g, "dtmi:twinsim:test:Floor;1");
    REQUIRE(targets.size() == 2);
    const scenario::Binding b = test::bind(g, "rules", floor_rules, targets);
    rules().check(b);
    scenario::Run run(g, test::run_options());
    auto behaviour = rules().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(0.0);

    auto floor = [&](const std::string& id) { return run.graph().get_twin(id); };
    json f1 = floor("floor-1");
    CHECK(f1["temperature"] == 21.0);  // room-c has no temperature: left out
    CHECK(f1["minTemperature"] == 20.0);
    CHECK(f1["maxTemperature"] == 22.0);
    CHECK(f1["area"] == 90.0);
    CHECK(f1["roomCount"] == 3);
    CHECK(f1["warmRooms"] == 1);
    CHECK(f1["allWarm"] == false);
    CHECK(f1["anyWarm"] == true);
    CHECK(floor("floor-2")["temperature"] == 25.0);
    CHECK(floor("floor-2")["allWarm"] == true);

    const models::RulesStatistics before = *models::rules_statistics(*behaviour);
    CHECK(before.recomputations == 8 * 2);
    run.advance_to(600.0);
    write(run, "room-c", "temperature", 26.0);
    run.advance_to(600.0);
    f1 = floor("floor-1");
    CHECK(f1["temperature"] == Approx(68.0 / 3.0).epsilon(1e-15));
    CHECK(f1["maxTemperature"] == 26.0);
    CHECK(f1["warmRooms"] == 2);
    // Only floor-1's rules that read temperature were recomputed (mean, min, max, warm, all, any).
    const models::RulesStatistics after = *models::rules_statistics(*behaviour);
    CHECK(after.recomputations - before.recomputations == 6);
    CHECK(floor("floor-2")["temperature"] == 25.0);

    write(run, "room-a", "temperature", 23.0);
    write(run, "room-a", "area", 40.0);
    run.advance_to(700.0);
    f1 = floor("floor-1");
    CHECK(f1["temperature"] == Approx(71.0 / 3.0).epsilon(1e-15));
    CHECK(f1["minTemperature"] == 22.0);
    CHECK(f1["area"] == 100.0);
    CHECK(f1["allWarm"] == true);
    CHECK(f1["warmRooms"] == 3);

    // A room that loses its value leaves the aggregate; a floor whose rooms have none loses the property.
    run.update_twin("room-d", json::array({{{"op", "remove"}, {"path", "/temperature"}}}));
    run.advance_to(800.0);
    CHECK_FALSE(floor("floor-2").contains("temperature"));
    CHECK(floor("floor-2")["allWarm"] == false);
    CHECK(floor("floor-2")["roomCount"] == 1);
}

TEST_CASE("rules: propagation chains along the sample building (room areas -> zone -> level)", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Zone;1') OR IS_OF_MODEL('dtmi:twinsim:building:Level;1')"
    parameters:
      rules:
        - name: zone area
          target: "IS_OF_MODEL('dtmi:twinsim:building:Zone;1')"
          relationship: isPartOf
          direction: incoming
          aggregate: sum
          source_property: area
          target_property: area
          where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
        - name: level area
          target: "IS_OF_MODEL('dtmi:twinsim:building:Level;1')"
          relationship: isPartOf
          aggregate: sum
          source_property: area
          target_property: area
          where: "IS_OF_MODEL('dtmi:twinsim:building:Zone;1')"
          log: true
)yaml");
    const graph::Snapshot& g = test::sample_building();
    auto sum_of_rooms = [&](const std::string& zone) {
        double s = 0.0;
        for (const graph::RelationshipIndex r : g.in_relationships(*g.find(zone)))
            if (g.relationship_name(r) == "isPartOf") s += g.get_twin(g.source(r))["area"].get<double>();
        return s;
    };
    scenario::Run run(prepared, 0);
    run.advance_to(0.0);
    const double zone0 = sum_of_rooms("zone-00");
    CHECK(number(run, "zone-00", "area") == zone0);
    CHECK(number(run, "level-00", "area") == zone0);  // room-plant is part of level-00 but is not a zone

    const double a = number(run, "room-00-01", "area");
    run.advance_to(3600.0);
    write(run, "room-00-01", "area", a + 10.0);
    run.advance_to(3600.0);
    CHECK(number(run, "zone-00", "area") == Approx(zone0 + 10.0).epsilon(1e-14));
    CHECK(number(run, "level-00", "area") == Approx(zone0 + 10.0).epsilon(1e-14));
    CHECK(number(run, "zone-01", "area") == sum_of_rooms("zone-01"));
    const scenario::RunRecord record = run.finish();
    const auto logged = events_of(record.events, "rule");
    // Only the level rule logs (log: true), once per change: at most the 6 levels at
    // the start (the zone rule runs first), then level-00 once.
    REQUIRE(!logged.empty());
    CHECK(std::count_if(logged.begin(), logged.end(), [](const io::EventRecord& e) { return e.time == 0.0; }) <= 6);
    CHECK(logged.back().twin == "level-00");
    CHECK(logged.back().time == 3600.0);
    CHECK(std::count_if(logged.begin(), logged.end(), [](const io::EventRecord& e) { return e.time == 3600.0; }) == 1);
    const json last = json::parse(logged.back().detail_json);
    CHECK(last["rule"] == "level area");
    CHECK(last["aggregate"] == "sum");
    CHECK(last["property"] == "area");
    CHECK(last["value"].get<double>() == Approx(zone0 + 10.0).epsilon(1e-14));
}

TEST_CASE("rules: `on:` acts on the twins related to the rule's twin (a room's air handler), through the run", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId = 'room-00-01'"
    parameters:
      rules:
        - name: too hot
          when: "temperature > 26"
          then:
            - set: {supplyAirTemperatureSetpoint: 12.0}
              on: {relationship: servedBy, where: "IS_OF_MODEL('dtmi:twinsim:building:AirHandlingUnit;1')"}
            - set: {temperatureSetpoint: 20}
)yaml");
    scenario::Run run(prepared, 0);
    CHECK(number(run, "ahu-00", "supplyAirTemperatureSetpoint") == 16.0);
    run.advance_to(60.0);
    write(run, "room-00-01", "temperature", 27.0);
    run.advance_to(120.0);
    CHECK(number(run, "ahu-00", "supplyAirTemperatureSetpoint") == 12.0);  // room-00-01 -servedBy-> ahu-00
    CHECK(number(run, "room-00-01", "temperatureSetpoint") == 20.0);
    // A property the air handler lacks is refused before any run, naming the related twin.
    try {
        (void)prepare(header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId = 'room-00-01'"
    parameters:
      rules:
        - name: too hot
          when: "temperature > 26"
          then:
            - set: {temperatureSetpoint: 12.0}
              on: {relationship: servedBy}
)yaml");
        FAIL("accepted a property the related twin lacks");
    } catch (const std::exception& e) {
        CHECK_THAT(e.what(), Catch::Contains("then[0].set.temperatureSetpoint") && Catch::Contains("related twin \"ahu-00\""));
    }
}

TEST_CASE("rules: rules that keep re-triggering each other fail the run instead of looping", "[models]") {
    const auto prepared = prepare(header + R"yaml(models:
  - model: rules
    where: "$dtId = 'room-00-01'"
    parameters:
      rules:
        - {name: up, when: "occupancy = 0", then: [{set: {occupancy: 1}}]}
        - {name: down, when: "occupancy = 1", then: [{set: {occupancy: 0}}]}
)yaml");
    scenario::Run run(prepared, 0);
    run.advance_to(10.0);
    write(run, "room-00-01", "occupancy", 0.0);
    CHECK_THROWS_WITH(run.advance_to(20.0), Catch::Contains("did not settle"));
}

TEST_CASE("rules: bad rules are refused by check() naming the parameter path", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const std::vector<std::string> processes{"backup_pumps"};  // what the scenario's other bindings provide
    auto error = [&](const char* list) {
        return test::parameter_error([&] {
            scenario::Binding b = test::bind(g, "rules", {{"rules", json::parse(list)}}, rooms);
            b.processes = &processes;
            rules().check(b);
        });
    };
    CHECK(error(R"([{"name": "ok", "when": "temperature > 26", "for": "PT10M", "then": ["fail", {"alarm": "hot"}]}])").empty());
    CHECK(error("[]") == "rules");
    CHECK(error(R"({"name": "x"})") == "rules");
    CHECK(test::parameter_error([&] { rules().check(test::bind(g, "rules", json::object(), rooms)); }) == "rules");
    CHECK(test::parameter_error([&] {
              rules().check(test::bind(g, "rules", {{"rules", json::parse(R"([{"name": "ok", "when": "temperature > 26", "then": ["fail"]}])")}, {"rulez", 1}}, rooms));
          }) == "rulez");
    // a syntax error, an unknown property, an unknown action
    CHECK(error(R"([{"name": "ok", "when": "temperature > 26", "then": ["fail"]},
                    {"name": "x", "when": "temperature >", "then": ["fail"]}])") == "rules[1].when");
    CHECK(error(R"([{"name": "ok", "when": "temperature > 26", "then": ["fail"]},
                    {"name": "x", "when": "temprature > 26", "then": ["fail"]}])") == "rules[1].when");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": ["explode"]}])") == "rules[0].then[0]");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"email": "ops"}]}])") == "rules[0].then[0]");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"alarm": "a", "fail": {}}]}])") == "rules[0].then[0]");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": ["fail", {"start": "evacuate"}]}])") == "rules[0].then[1].start");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"start": 3}]}])") == "rules[0].then[0].start");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": ["fail", {"start": "backup_pumps"}]}])").empty());
    // set: unknown property, invalid value, bad expression
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temprature": 1}}]}])") == "rules[0].then[0].set.temprature");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"usage": "sauna"}}]}])") == "rules[0].then[0].set.usage");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"usage": "meeting"}}]}])").empty());
    // a number with a unit: converted to the property's DTDL unit, or refused
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temperatureSetpoint": "68 degF"}}]}])").empty());
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temperatureSetpoint": "68 furlongs"}}]}])") ==
          "rules[0].then[0].set.temperatureSetpoint");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temperatureSetpoint": "2 kW"}}]}])") ==
          "rules[0].then[0].set.temperatureSetpoint");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temperatureSetpoint": {"expression": "nope >"}}}]}])") ==
          "rules[0].then[0].set.temperatureSetpoint.expression");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {"temperatureSetpoint": {"expression": "setpoint"}}}]}])") ==
          "rules[0].then[0].set.temperatureSetpoint.expression");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"set": {}}]}])") == "rules[0].then[0].set");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"alarm": ""}]}])") == "rules[0].then[0].alarm");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": [{"fail": 3}]}])") == "rules[0].then[0].fail");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": []}])") == "rules[0].then");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "for": "soon", "then": ["fail"]}])") == "rules[0].for");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "for": -5, "then": ["fail"]}])") == "rules[0].for");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "for": "${hold}", "then": ["fail"]}])").empty());  // drawn per run
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": ["fail"], "else": ["restore"]}])") == "rules[0].else");
    CHECK(error(R"([{"when": "temperature > 26", "then": ["fail"]}])") == "rules[0].name");
    CHECK(error(R"([{"name": "x", "when": "temperature > 26", "then": ["fail"]},
                    {"name": "x", "when": "temperature > 27", "then": ["fail"]}])") == "rules[1].name");
    CHECK(error(R"([{"name": "x", "then": ["fail"]}])") == "rules[0]");
    CHECK(error(R"(["x"])") == "rules[0]");
    CHECK(error(R"([{"name": "x", "when": "filter.pressureDrop > 1", "then": ["fail"]}])") == "rules[0].when");  // no Room has it
    // propagation rules
    const std::vector<graph::TwinIndex> zones = test::twins_of(g, "dtmi:twinsim:building:Zone;1");
    auto perror = [&](json rule) {
        json base = {{"name", "p"}, {"relationship", "isPartOf"}, {"aggregate", "sum"}, {"source_property", "area"}, {"target_property", "area"}};
        for (const auto& [k, v] : rule.items()) {
            if (v.is_null())
                base.erase(k);
            else
                base[k] = v;
        }
        return test::parameter_error([&] { rules().check(test::bind(g, "rules", {{"rules", {base}}}, zones)); });
    };
    CHECK(perror(json::object()).empty());
    CHECK(perror({{"relationship", "partOf"}}) == "rules[0].relationship");
    CHECK(perror({{"direction", "sideways"}}) == "rules[0].direction");
    CHECK(perror({{"aggregate", "median"}}) == "rules[0].aggregate");
    CHECK(perror({{"source_property", "areaa"}}) == "rules[0].source_property");
    CHECK(perror({{"source_property", "usage"}}) == "rules[0].source_property");  // a string
    CHECK(perror({{"source_property", nullptr}}) == "rules[0].source_property");
    CHECK(perror({{"target_property", "zoneType"}}) == "rules[0].target_property");  // not a number
    CHECK(perror({{"target_property", "temperature"}}) == "rules[0].target_property");  // zones have none
    CHECK(perror({{"aggregate", "all"}, {"source_property", nullptr}}) == "rules[0].where");
    CHECK(perror({{"aggregate", "count"}}) == "rules[0].source_property");  // not used by count
    CHECK(perror({{"where", "temprature > 1"}}) == "rules[0].where");
    CHECK(perror({{"target", "IS_OF_MODEL("}}) == "rules[0].target");
    CHECK(perror({{"log", "yes"}}) == "rules[0].log");
    CHECK(perror({{"when", "area > 1"}}) == "rules[0]");  // both forms
}

TEST_CASE("rules: a bad rule refuses the scenario before any run, with file, line and field", "[models]") {
    const std::string text = header + R"yaml(models:
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters:
      rules:
        - {name: ok, when: "temperature > 26", then: [{alarm: hot}]}
        - {name: typo, when: "temprature > 26", then: [{alarm: hot}]}
)yaml";
    try {
        (void)prepare(text);
        FAIL("prepare() accepted a bad rule");
    } catch (const scenario::ScenarioError& e) {
        CHECK(e.file() == "rules.yaml");
        // The line of the bad rule itself (its flow mapping starts there).
        const auto line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text.find("{name: typo")), '\n') + 1;
        CHECK(e.line() == static_cast<std::uint32_t>(line));
        CHECK(e.field() == "models[0].parameters.rules[1].when");
        CHECK_THAT(e.reason(), Catch::Contains("temprature"));
    }
}
