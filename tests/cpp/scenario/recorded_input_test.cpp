// Recorded inputs for replay (sim/scenario/recorded_input.hpp): series from
// history tables, step and linear interpolation, the gap policy, window
// boundaries, a missing input and a history from another graph.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../graph/graph_fixtures.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using namespace twinsim::scenario;

namespace {

const Timestamp t0 = *parse_timestamp("2026-07-15T00:00:00Z");

std::int64_t at(double seconds) { return t0.ns + static_cast<std::int64_t>(seconds * 1e9); }

void update(io::HistoryTables& t, const std::string& twin, const std::string& key, double seconds, std::string value,
            const std::string& model = "dtmi:test:Room;1", std::string action = "Update") {
    auto& p = t.property_updates;
    p.time_ns.push_back(at(seconds));
    p.source_time_ns.push_back(io::no_time);
    p.id.push_back(twin);
    p.model_id.push_back(model);
    p.key.push_back(key);
    p.value.push_back(std::move(value));
    p.unit.push_back("");
    p.relationship_id.push_back("");
    p.relationship_target.push_back("");
    p.action.push_back(std::move(action));
    p.sequence.push_back(p.sequence.size() + 1);
}

io::HistoryTables sample() {
    io::HistoryTables t;
    t.source = "sample";
    // Recorded out of order on purpose: series are sorted by time.
    update(t, "room-1", "temperature", 600, "22");
    update(t, "room-1", "temperature", -300, "20");  // before the window: the value held at its start
    update(t, "room-1", "temperature", 1200, "25");
    update(t, "room-1", "occupied", 0, "true");
    update(t, "room-1", "occupied", 900, "false");
    update(t, "room-1", "thermostat.setpoint", 0, "21.5");
    update(t, "room-1", "name", 0, "\"Room one\"");
    return t;
}

}  // namespace

TEST_CASE("recorded_input: step and linear interpolation onto a run's time axis", "[recorded_input]") {
    const RecordedHistory h(sample());
    CHECK(h.source() == "sample");
    REQUIRE(h.find("room-1", "temperature") != nullptr);
    CHECK(h.find("room-1", "temperature")->time_ns.front() == at(-300));
    CHECK(h.find("room-2", "temperature") == nullptr);

    const std::vector<double> times{0, 300, 600, 900, 1200, 1800};
    const auto step = resample(h, "room-1", "temperature", t0, times, Interpolation::step, {});
    CHECK(step == std::vector<double>{20, 20, 22, 22, 25, 25});
    const auto linear = resample(h, "room-1", "temperature", t0, times, Interpolation::linear, {});
    // -300 -> 20, 600 -> 22 (900 s apart), 1200 -> 25; held after the last row.
    CHECK(linear[0] == Approx(20.0 + 2.0 * 300.0 / 900.0));
    CHECK(linear[1] == Approx(20.0 + 2.0 * 600.0 / 900.0));
    CHECK(linear[2] == 22.0);
    CHECK(linear[3] == Approx(23.5));
    CHECK(linear[4] == 25.0);
    CHECK(linear[5] == 25.0);
    // Booleans are 1/0; component properties keep their dotted key.
    CHECK(resample(h, "room-1", "occupied", t0, times, Interpolation::step, {}) == std::vector<double>{1, 1, 1, 0, 0, 0});
    CHECK(resample(h, "room-1", "thermostat.setpoint", t0, std::vector<double>{0, 3600}, Interpolation::linear, {}) ==
          std::vector<double>{21.5, 21.5});
}

TEST_CASE("recorded_input: window boundaries: the value held at the start, rows at the start and end", "[recorded_input]") {
    const RecordedHistory h(sample());
    // A window that starts exactly on a row takes that row's value.
    const Timestamp at600{at(600)};
    CHECK(resample(h, "room-1", "temperature", at600, std::vector<double>{0, 599.999, 600}, Interpolation::step, {}) ==
          std::vector<double>{22, 22, 25});
    // A window that ends before a row never sees it; one that starts before every row is refused.
    CHECK(resample(h, "room-1", "temperature", t0, std::vector<double>{0, 1199}, Interpolation::step, {}).back() == 22);
    const Timestamp early{at(-600)};
    CHECK_THROWS_WITH(resample(h, "room-1", "temperature", early, std::vector<double>{0}, Interpolation::step, {}),
                      Catch::Contains("room-1.temperature at 2026-07-14T23:50:00Z") &&
                          Catch::Contains("no value was recorded at or before"));
    // With the gap policy "model" the instant before the first row is left to the model.
    GapPolicy model;
    model.action = GapAction::model;
    const auto v = resample(h, "room-1", "temperature", early, std::vector<double>{0, 300, 600}, Interpolation::step, model);
    CHECK(std::isnan(v[0]));
    CHECK(v[1] == 20);
    CHECK(v[2] == 20);
}

TEST_CASE("recorded_input: the gap policy holds a value up to max_gap, then refuses or leaves it to the model",
          "[recorded_input]") {
    io::HistoryTables t;
    update(t, "room-1", "temperature", 0, "20");
    update(t, "room-1", "temperature", 600, "21");
    update(t, "room-1", "temperature", 4200, "30");  // a 1 h gap after 600 s
    update(t, "room-1", "temperature", 4500, "", "dtmi:test:Room;1", "Delete");
    const RecordedHistory h(t);
    const std::vector<double> times{0, 600, 1200, 1500, 2400, 4200, 4500};
    GapPolicy hold;
    hold.max_gap = 900;
    SECTION("refuse names the twin, the property and the first instant past the limit") {
        try {
            (void)resample(h, "room-1", "temperature", t0, times, Interpolation::step, hold);
            FAIL("a gap past max_gap was accepted");
        } catch (const RecordedInputError& e) {
            CHECK(e.twin() == "room-1");
            CHECK(e.property() == "temperature");
            REQUIRE(e.time());
            CHECK(*e.time() == Timestamp{at(2400)});
            CHECK_THAT(std::string(e.what()), Catch::Contains("room-1.temperature at 2026-07-15T00:40:00Z") &&
                                                  Catch::Contains("recorded at 2026-07-15T00:10:00Z, is 1800 s old") &&
                                                  Catch::Contains("at most 900 s"));
        }
    }
    SECTION("model leaves NaN in the gap and after a Delete") {
        hold.action = GapAction::model;
        const auto v = resample(h, "room-1", "temperature", t0, times, Interpolation::step, hold);
        CHECK(v[0] == 20);
        CHECK(v[2] == 21);
        CHECK(v[3] == 21);  // 900 s: still held
        CHECK(std::isnan(v[4]));
        CHECK(v[5] == 30);
        CHECK(std::isnan(v[6]));
        // Linear does not bridge a gap longer than max_gap: it holds, then leaves it.
        const auto l = resample(h, "room-1", "temperature", t0, times, Interpolation::linear, hold);
        CHECK(l[1] == 21);
        CHECK(l[2] == 21);
        CHECK(std::isnan(l[4]));
        // Without a limit linear interpolation bridges it.
        hold.max_gap = HUGE_VAL;
        CHECK(resample(h, "room-1", "temperature", t0, std::vector<double>{2400}, Interpolation::linear, hold)[0] ==
              Approx(21.0 + 9.0 * 1800.0 / 3600.0));
    }
    SECTION("a Delete or a value that is not a number is refused under refuse") {
        CHECK_THROWS_WITH(resample(h, "room-1", "temperature", t0, std::vector<double>{4500}, Interpolation::step, {}),
                          Catch::Contains("not a number (or the property was deleted)"));
        const RecordedHistory named(sample());
        CHECK_THROWS_WITH(resample(named, "room-1", "name", t0, std::vector<double>{0}, Interpolation::step, {}),
                          Catch::Contains("room-1.name at 2026-07-15T00:00:00Z"));
    }
}

TEST_CASE("recorded_input: a mapped input the history lacks, and a history from another graph", "[recorded_input]") {
    const RecordedHistory h(sample());
    CHECK_THROWS_WITH(resample(h, "room-1", "humidity", t0, std::vector<double>{0}, Interpolation::step, {}),
                      Catch::Contains("room-1.humidity at 2026-07-15T00:00:00Z") &&
                          Catch::Contains("holds no recorded value of this property"));
    CHECK_THROWS_WITH(resample(h, "room-9", "temperature", t0, std::vector<double>{0}, Interpolation::step, {}),
                      Catch::Contains("room-9.temperature"));

    graph::TwinGraph g(test::test_options());
    g.add_models(test::building_models());
    g.upsert_twin("room-1", test::room(20));
    g.upsert_twin("sensor-1", test::sensor(1));
    const graph::Snapshot s = g.snapshot();
    const std::vector<std::string> mapped{"room-1"};
    CHECK_NOTHROW(check_history_graph(h, s, mapped));

    const std::vector<std::string> unknown{"room-7"};
    CHECK_THROWS_WITH(check_history_graph(h, s, unknown),
                      Catch::Contains("room-7") && Catch::Contains("not in the scenario's graph"));

    io::HistoryTables other = sample();
    for (auto& m : other.property_updates.model_id) m = "dtmi:test:Office;1";
    CHECK_THROWS_WITH(check_history_graph(RecordedHistory(other), s, mapped),
                      Catch::Contains("records this twin as a dtmi:test:Office;1") &&
                          Catch::Contains("dtmi:test:Room;1") && Catch::Contains("another graph"));

    io::HistoryTables foreign;
    foreign.source = "plant.h5";
    update(foreign, "pump-1", "flowRate", 0, "3");
    update(foreign, "pump-2", "flowRate", 0, "3");
    CHECK_THROWS_WITH(check_history_graph(RecordedHistory(foreign), s, std::vector<std::string>{}),
                      Catch::Contains("plant.h5") && Catch::Contains("is from another graph") &&
                          Catch::Contains("none of its 2 twins (\"pump-1\", \"pump-2\")"));
}

TEST_CASE("recorded_input: interpolation and gap action names", "[recorded_input]") {
    CHECK(interpolation_from_name("linear") == Interpolation::linear);
    CHECK(interpolation_from_name("cubic") == std::nullopt);
    CHECK(gap_action_from_name("model") == GapAction::model);
    CHECK(name_of(GapAction::refuse) == "refuse");
    CHECK(name_of(Interpolation::step) == "step");
}

TEST_CASE("recorded_input: a row stands at its source time when it has one", "[recorded_input]") {
    // A BMS export ingested a day later: the store recorded every row at the ingest (TimeStamp
    // t0 + 1 day, in arrival order), each with its reading's SourceTimeStamp.
    io::HistoryTables t;
    for (const auto& [source, value] : std::vector<std::pair<double, const char*>>{{600, "22"}, {0, "20"}, {1200, "25"}}) {
        update(t, "room-1", "temperature", 86400, value);
        t.property_updates.source_time_ns.back() = at(source);
    }
    update(t, "room-1", "temperature", -60, "19");  // a write without a source time: at its TimeStamp
    const RecordedHistory h(t);
    CHECK(h.find("room-1", "temperature")->time_ns == std::vector<std::int64_t>{at(-60), at(0), at(600), at(1200)});
    CHECK(resample(h, "room-1", "temperature", t0, std::vector<double>{0, 300, 600, 1200}, Interpolation::step, {}) ==
          std::vector<double>{20, 20, 22, 25});
}

TEST_CASE("recorded_input: the scenario's replay section is read, checked and written back", "[recorded_input]") {
    const std::string head = R"yaml(name: s
base: b.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT1H
)yaml";
    const ScenarioSpec s = scenario_from_yaml(head + R"yaml(replay:
  source: history.h5
  interpolation: linear
  max_gap: PT1H
  on_gap: model
  compare: false
  inputs:
    - {where: "IS_OF_MODEL('dtmi:test:Room;1')", property: temperature, interpolation: step, max_gap: 600, on_gap: refuse}
    - {twin: w, property: t, to: {behaviour: thermal_zones, parameter: outdoor_series}}
    - {twin: s, property: reading, to: {twin: r, property: temperature}}
)yaml", "replay.yaml");
    REQUIRE(s.replay);
    CHECK(s.replay->source == "history.h5");
    CHECK(s.replay->interpolation == Interpolation::linear);
    CHECK(s.replay->gaps.max_gap == 3600.0);
    CHECK(s.replay->gaps.action == GapAction::model);
    CHECK_FALSE(s.replay->compare);
    REQUIRE(s.replay->inputs.size() == 3);
    CHECK(s.replay->inputs[0].where == "IS_OF_MODEL('dtmi:test:Room;1')");
    CHECK(s.replay->inputs[0].interpolation == Interpolation::step);
    CHECK(s.replay->inputs[0].max_gap == 600.0);
    CHECK(s.replay->inputs[1].to_behaviour == "thermal_zones");
    CHECK(s.replay->inputs[1].to_parameter == "outdoor_series");
    CHECK(s.replay->inputs[2].to_twin == "r");
    CHECK(from_json(to_json(s)) == s);
    CHECK(*from_json(to_json(s)).replay == *s.replay);

    auto refused = [&](const std::string& section, const std::string& message) {
        CHECK_THROWS_WITH(scenario_from_yaml(head + section, "bad.yaml"), Catch::Contains(message));
    };
    refused("replay: {inputs: [{twin: a, where: \"x > 1\", property: p}]}\n", "replay.inputs[0]: give one of 'twin'");
    refused("replay: {inputs: [{twin: a}]}\n", "missing required key 'property'");
    refused("replay: {interpolation: cubic}\n", "replay.interpolation: unknown value 'cubic'");
    refused("replay: {on_gap: ignore}\n", "replay.on_gap: unknown value 'ignore'");
    refused("replay: {max_gap: -5}\n", "replay.max_gap: must not be negative");
    refused("replay: {inputs: [{twin: a, property: p, to: {behaviour: thermal_zones}}]}\n",
            "'behaviour' and 'parameter' go together");
    refused("replay: {inputs: [{where: \"x > 1\", property: p, to: {twin: b}}]}\n", "no 'to.twin'");
    refused("replay: {sources: x}\n", "replay.sources: unknown key");
}
