// Live rules (models/rules/live_rules.hpp): the scenario rules running on a
// live graph of the bundled building, fed by ingestion.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../models/models_fixtures.hpp"
#include "ingest_fixture.hpp"
#include "live_fixtures.hpp"
#include "models/rules/live_rules.hpp"
#include "twinsim/live/cloud_event.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/store.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

std::unique_ptr<graph::TwinGraph> building(graph::TwinGraphOptions options = {}) {
    auto g = std::make_unique<graph::TwinGraph>(std::move(options));
    g->add_models(test::building_interfaces());
    graph::import_ndjson(*g, test::source_dir() / "scenarios" / "building" / "building.ndjson");
    return g;
}

/// One long-CSV row as its own batch (a live feed: one update at a time).
void feed(live::ingest::Ingestor& in, const std::string& time, const std::string& twin, const std::string& property,
          double value) {
    std::istringstream s("time,twin,property,value\n" + time + "," + twin + "," + property + "," + std::to_string(value) +
                         "\n");
    const auto report = in.ingest_stream(s, "feed", live::ingest::Format::long_csv);
    REQUIRE(report.bad_rows.empty());
    REQUIRE(report.applied);
}

const char* hot_room_rules = R"yaml(
clock: source
groups:
  - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND $dtId = 'room-01-01'"
    rules:
      - name: too hot
        when: "temperature > 26"
        for: PT15M
        then:
          - alarm: room above 26 °C for 15 minutes
          - set: {temperatureSetpoint: 21.0}
)yaml";

const char* propagation_rules = R"yaml(
- where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
  rules:
    - name: room temperature from its sensor
      relationship: hasPoint
      direction: outgoing
      aggregate: mean
      source_property: temperature
      target_property: temperature
      where: "IS_OF_MODEL('dtmi:twinsim:building:TemperatureSensor;1')"
)yaml";

double number(graph::TwinGraph& g, const std::string& id, const std::string& p) { return g.get_twin(id)[p].get<double>(); }

struct Firing {
    std::string rule, twin, patch;
    std::int64_t time;
    bool operator==(const Firing&) const = default;
};

std::vector<Firing> firings_of(const models::LiveRules& engine) {
    std::vector<Firing> out;
    for (const auto& f : engine.firings()) out.push_back({f.rule, f.twin, f.patch, f.source_time.ns});
    return out;
}

}  // namespace

TEST_CASE("live rules: a `for` rule on source time fires once the updates' sourceTime passes the deadline, with the rule as cause",
          "[live_rules]") {
    auto g = building();
    std::vector<graph::ChangeEvent> seen;
    std::mutex m;
    g->subscribe([&](const graph::ChangeEvent& e) {
        std::lock_guard lock(m);
        seen.push_back(e);
    });
    models::LiveRules engine(*g);
    const std::string id = engine.add_text(hot_room_rules, "hot.yaml");
    CHECK(id == "rules-1");
    live::ingest::Ingestor in(*g, nullptr);
    feed(in, "2026-07-01T12:00:00Z", "room-01-01", "temperature", 27.0);
    feed(in, "2026-07-01T12:10:00Z", "room-01-01", "temperature", 27.5);
    engine.drain();
    CHECK(engine.firings().empty());  // held 10 minutes only
    CHECK(number(*g, "room-01-01", "temperatureSetpoint") == 22.0);
    // An update of another twin whose sourceTime is past the deadline: the condition held 15 minutes.
    feed(in, "2026-07-01T12:15:30Z", "room-02-01", "temperature", 23.0);
    engine.drain();
    const auto f = engine.firings();
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "too hot");
    CHECK(f[0].twin == "room-01-01");
    CHECK(format_timestamp(f[0].source_time) == "2026-07-01T12:15:00.0000000Z");
    CHECK(f[0].alarms == std::vector<std::string>{"room above 26 °C for 15 minutes"});
    CHECK(number(*g, "room-01-01", "temperatureSetpoint") == 21.0);
    CHECK(g->get_twin("room-01-01")["$metadata"]["temperatureSetpoint"]["sourceTime"] == "2026-07-01T12:15:00.0000000Z");
    // The firing is an ordinary change with the rule as its cause, and as a CloudEvent attribute.
    std::lock_guard lock(m);
    const auto caused = std::find_if(seen.begin(), seen.end(), [](const auto& e) { return !e.cause.empty(); });
    REQUIRE(caused != seen.end());
    CHECK(caused->cause == "rule:too hot");
    CHECK(caused->twin_id == "room-01-01");
    CHECK(caused->sequence == f[0].sequence);
    const live::Notification n = live::change_notification(*caused, {"host", 1, utc_now()});
    CHECK(n.event["twinsimcause"] == "rule:too hot");
    // Routes can select a rule's firings by their cause.
    CHECK(live::RouteFilter::parse("STARTS_WITH(twinsimcause, 'rule:')").matches(n.event));
    const live::Notification plain = live::change_notification(seen.front(), {"host", 1, utc_now()});
    CHECK_FALSE(plain.event.contains("twinsimcause"));
}

TEST_CASE("live rules: an interrupted condition does not fire; a new episode starts its own clock", "[live_rules]") {
    auto g = building();
    models::LiveRules engine(*g);
    engine.add_text(hot_room_rules, "hot.yaml");
    live::ingest::Ingestor in(*g, nullptr);
    feed(in, "2026-07-01T12:00:00Z", "room-01-01", "temperature", 27.0);
    feed(in, "2026-07-01T12:10:00Z", "room-01-01", "temperature", 25.0);  // interrupted
    feed(in, "2026-07-01T12:12:00Z", "room-01-01", "temperature", 26.5);  // a new episode from 12:12
    feed(in, "2026-07-01T12:20:00Z", "room-02-01", "temperature", 23.0);
    engine.drain();
    CHECK(engine.firings().empty());
    feed(in, "2026-07-01T12:27:00Z", "room-02-01", "temperature", 23.0);
    engine.drain();
    REQUIRE(engine.firings().size() == 1);
    CHECK(format_timestamp(engine.firings()[0].source_time) == "2026-07-01T12:27:00.0000000Z");
}

TEST_CASE("live rules: only the pairs whose inputs changed are evaluated; an unrelated write evaluates nothing",
          "[live_rules]") {
    auto g = building();
    models::LiveRules engine(*g);
    engine.add_text(propagation_rules, "rooms.yaml");
    engine.add_text(hot_room_rules, "hot.yaml");
    engine.drain();
    const auto start = engine.statistics();
    CHECK(start.recomputations == 61);  // every room once when added
    CHECK(start.evaluations == 1);
    // An unrelated write: a chiller's property nothing reads.
    g->update_twin("chiller-1", json::parse(R"([{"op":"replace","path":"/runHours","value":1.0}])"));
    engine.drain();
    auto s = engine.statistics();
    CHECK(s.batches == start.batches + 1);
    CHECK(s.evaluations == start.evaluations);
    CHECK(s.recomputations == start.recomputations);
    // A room sensor: exactly its room is recomputed, and written.
    g->update_twin("room-01-01-temperature", json::parse(R"([{"op":"replace","path":"/temperature","value":30.5}])"));
    engine.drain();
    s = engine.statistics();
    CHECK(s.recomputations == start.recomputations + 1);
    CHECK(number(*g, "room-01-01", "temperature") == 30.5);
    // ... which the `too hot` rule of room-01-01 then evaluates (once).
    CHECK(s.evaluations == start.evaluations + 1);
    // A relationship change recomputes only the targets whose related twins changed.
    g->delete_relationship("room-01-02", g->snapshot().list_relationships("room-01-02")[0]["$relationshipId"].get<std::string>());
    engine.drain();
    CHECK(engine.statistics().recomputations <= s.recomputations + 1);
}

TEST_CASE("live rules: a firing the graph refuses is dead-lettered and never blocks ingestion", "[live_rules]") {
    test::TempDir dir;
    auto g = building();
    models::LiveRulesOptions o;
    o.dead_letter = dir.path / "rules-dead.ndjson";
    models::LiveRules engine(*g, o);
    // occupancy is an integer: the expression copies a double into it, which the graph refuses.
    engine.add_text(R"yaml(
- where: "$dtId = 'room-01-01'"
  rules:
    - name: bad copy
      when: "temperature > 26"
      then: [{set: {occupancy: {expression: "temperature"}}}]
)yaml",
                    "bad.yaml");
    live::ingest::Ingestor in(*g, nullptr);
    feed(in, "2026-07-01T12:00:00Z", "room-01-01", "temperature", 27.5);
    feed(in, "2026-07-01T12:01:00Z", "room-01-01", "temperature", 28.0);
    engine.drain();
    CHECK(number(*g, "room-01-01", "temperature") == 28.0);  // ingestion went on
    CHECK(engine.statistics().failures == 1);
    const auto dead = test::read_ndjson(o.dead_letter);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0]["rule"] == "bad copy");
    CHECK(dead[0]["twin"] == "room-01-01");
    CHECK(dead[0]["sequence"].get<std::uint64_t>() > 0);
    CHECK(dead[0]["reason"].get<std::string>().find("refused") != std::string::npos);
    CHECK(dead[0].contains("time"));
}

TEST_CASE("live rules: a rule file is checked against the models (file, line, rule, field, reason)", "[live_rules]") {
    auto g = building();
    models::LiveRules engine(*g);
    auto refused = [&](const std::string& text) {
        try {
            engine.add_text(text, "bad.yaml");
        } catch (const models::RuleFileError& e) {
            return std::string(e.what());
        }
        FAIL("accepted: " << text);
        return std::string();
    };
    CHECK(refused(R"yaml(
- where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
  rules:
    - name: typo
      when: "temprature > 26"
      then: [{alarm: hot}]
)yaml") == "bad.yaml:5: groups[0].rules[0].when: rule \"typo\": unknown property \"temprature\": no model of the binding's "
           "twins (dtmi:twinsim:building:Room;1) declares it");
    CHECK(refused(R"yaml(
- where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
  rules:
    - name: wrong type
      when: "temperature > 26"
      then: [{set: {usage: sauna}}]
)yaml").find("bad.yaml:6: groups[0].rules[0].then[0].set.usage: rule \"wrong type\": \"sauna\" is not a valid value") == 0);
    CHECK(refused(R"yaml(
- rules:
    - name: nowhere
      relationship: flowsInto
      aggregate: count
      target_property: capacity
)yaml").find("groups[0].rules[0].relationship: rule \"nowhere\": no model declares a relationship \"flowsInto\"") !=
          std::string::npos);
    CHECK(refused(R"yaml(
- where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
  rules:
    - name: trip
      when: "chilledWaterSupplyTemperature > 12"
      then: [fail]
)yaml").find("not available on the live graph") != std::string::npos);
    CHECK(refused("- rules: []\n  wher: x\n").find("groups[0].wher: unknown key") != std::string::npos);
    CHECK(engine.list().empty());
}

TEST_CASE("live rules: rule sets are added, listed and removed at run time; a removed set stops firing", "[live_rules]") {
    auto g = building();
    models::LiveRules engine(*g);
    const std::string a = engine.add_text(propagation_rules, "rooms.yaml");
    const std::string b = engine.add_text(hot_room_rules, "hot.yaml");
    auto list = engine.list();
    REQUIRE(list.size() == 2);
    CHECK(list[0].id == a);
    CHECK(list[1].rules == std::vector<std::string>{"too hot"});
    CHECK(list[1].clock == models::RuleClock::source);
    engine.remove(a);
    CHECK(engine.list().size() == 1);
    CHECK_THROWS_AS(engine.remove(a), models::RuleFileError);
    engine.drain();
    const auto before = engine.statistics().recomputations;
    g->update_twin("room-01-01-temperature", json::parse(R"([{"op":"replace","path":"/temperature","value":19.0}])"));
    engine.drain();
    CHECK(engine.statistics().recomputations == before);
    CHECK(number(*g, "room-01-01", "temperature") != 19.0);
}

TEST_CASE("live rules: `for` on the wall clock fires from a timer", "[live_rules]") {
    auto g = building();
    models::LiveRules engine(*g);
    engine.add_text(R"yaml(
clock: wall
groups:
  - where: "$dtId = 'room-01-01'"
    rules:
      - name: briefly hot
        when: "temperature > 26"
        for: 0.2
        then: [{set: {temperatureSetpoint: 20.0}}]
)yaml",
                    "wall.yaml");
    g->update_twin("room-01-01", json::parse(R"([{"op":"replace","path":"/temperature","value":27.0}])"));
    engine.drain();
    CHECK(engine.firings().empty());
    for (int k = 0; k < 100 && engine.firings().empty(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(engine.firings().size() == 1);
    engine.drain();
    for (int k = 0; k < 50 && number(*g, "room-01-01", "temperatureSetpoint") != 20.0; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(number(*g, "room-01-01", "temperatureSetpoint") == 20.0);
}

TEST_CASE("live rules: a store keeps its rule sets, journals the firings with their cause, and the same recorded "
          "updates replayed into a fresh graph fire identically",
          "[live_rules]") {
    test::TempDir dir;
    const std::filesystem::path store_dir = dir.path / "store";
    // The recorded feed: room temperatures and sensor readings with source times.
    struct Row {
        std::string time, twin, property;
        double value;
    };
    std::vector<Row> rows;
    for (int minute = 0; minute < 60; minute += 3) {
        char t[32];
        std::snprintf(t, sizeof t, "2026-07-01T12:%02d:00Z", minute);
        rows.push_back({t, "room-01-01", "temperature", minute < 20 || minute > 40 ? 27.0 + minute / 10.0 : 24.0});
        rows.push_back({t, "room-01-02-temperature", "temperature", 20.0 + minute / 7.0});
        rows.push_back({t, "room-02-03", "temperature", minute % 2 == 0 ? 26.5 : 25.0});
    }
    const std::string rule_file = dir.write("rules.yaml", std::string(hot_room_rules) + R"yaml(
  - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    rules:
      - name: room temperature from its sensor
        relationship: hasPoint
        direction: outgoing
        aggregate: mean
        source_property: temperature
        target_property: temperature
        where: "IS_OF_MODEL('dtmi:twinsim:building:TemperatureSensor;1')"
      - name: any warm room
        when: "temperature > 26 AND temperature < 26.6"
        then: [{alarm: warm}]
)yaml").string();
    std::vector<Firing> live_firings;
    {
        auto store = live::open_store(store_dir);
        store->graph().add_models(test::building_interfaces());
        graph::import_ndjson(store->graph(), test::source_dir() / "scenarios" / "building" / "building.ndjson");
        models::LiveRulesOptions o;
        o.directory = store_dir;
        models::LiveRules engine(store->graph(), o);
        engine.add_file(rule_file);
        live::ingest::Ingestor in(store->graph(), nullptr);
        for (const Row& r : rows) feed(in, r.time, r.twin, r.property, r.value);
        engine.drain();
        live_firings = firings_of(engine);
        CHECK(engine.statistics().failures == 0);
    }
    REQUIRE(live_firings.size() > 3);
    CHECK(std::filesystem::exists(store_dir / "rules" / "rules-1.json"));

    // Reopened: the journal kept the causes, and the store's rules run again.
    {
        auto store = live::open_store(store_dir);
        models::LiveRulesOptions o;
        o.directory = store_dir;
        models::LiveRules engine(store->graph(), o);
        REQUIRE(engine.list().size() == 1);
        CHECK(engine.list()[0].id == "rules-1");
        CHECK(engine.list()[0].rules.size() == 3);
        CHECK(store->graph().get_twin("room-01-01")["temperatureSetpoint"] == 21.0);
    }

    // Replay: the same recorded updates into a fresh graph with the same file.
    auto fresh = building();
    models::LiveRules engine(*fresh);
    engine.add_file(rule_file);
    live::ingest::Ingestor in(*fresh, nullptr);
    for (const Row& r : rows) feed(in, r.time, r.twin, r.property, r.value);
    engine.drain();
    CHECK(firings_of(engine) == live_firings);
}

TEST_CASE("live rules: TwinGraph::atomically(cause, body) names the cause of every change of the batch", "[live_rules]") {
    auto g = building();
    std::vector<std::string> causes;
    g->subscribe([&](const graph::ChangeEvent& e) { causes.push_back(e.cause); });
    g->atomically("rule:test", [](graph::TwinGraph& w) {
        w.update_twin("room-01-01", json::parse(R"([{"op":"replace","path":"/temperature","value":20.0}])"));
        w.update_twin("room-01-02", json::parse(R"([{"op":"replace","path":"/temperature","value":20.0}])"));
    });
    g->update_twin("room-01-01", json::parse(R"([{"op":"replace","path":"/temperature","value":21.0}])"));
    CHECK(causes == std::vector<std::string>{"rule:test", "rule:test", ""});
}
