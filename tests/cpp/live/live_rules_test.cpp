// Live rules (models/rules/live_rules.hpp): the scenario rules running on a
// live graph of the bundled building, fed by ingestion.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
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
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/live/history.hpp"

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

namespace {

/// A change a rule made, as the history records it.
struct CausedRow {
    std::string cause, twin, key, value, source_time;
    bool operator==(const CausedRow&) const = default;
};

std::vector<CausedRow> caused_rows(live::Store& store, Timestamp after) {
    live::HistoryQuery q;
    q.start = Timestamp{after.ns + 1};
    std::vector<CausedRow> out;
    for (const live::PropertyUpdateRow& r : store.history(q).property_updates)
        if (!r.cause.empty())
            out.push_back({r.cause, r.id, r.key, r.value.dump(), r.source_time ? format_timestamp(*r.source_time) : ""});
    return out;
}

}  // namespace

TEST_CASE("live rules: each firing's cause is in the history, and replaying the recorded history through the same file "
          "gives the same firings",
          "[live_rules][history]") {
    test::TempDir dir;
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
      - name: warm room setpoint
        when: "temperature > 26 AND temperature < 26.6"
        then: [{set: {temperatureSetpoint: 22.5}}]
)yaml").string();

    // Live: a store fed one update at a time, its rules running.
    const std::filesystem::path live_dir = dir.path / "live";
    Timestamp fed_from;
    std::vector<live::PropertyUpdateRow> fed;
    std::vector<CausedRow> live_caused;
    std::vector<Firing> live_firings;
    graph::Snapshot before_feed;
    {
        auto store = live::open_store(live_dir);
        store->graph().add_models(test::building_interfaces());
        graph::import_ndjson(store->graph(), test::source_dir() / "scenarios" / "building" / "building.ndjson");
        models::LiveRules engine(store->graph());
        engine.add_file(rule_file);
        engine.drain();
        const std::size_t initial = engine.firings().size();
        fed_from = utc_now();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        live::ingest::Ingestor in(store->graph(), nullptr);
        for (int minute = 0; minute < 60; minute += 3) {
            char t[32];
            std::snprintf(t, sizeof t, "2026-07-01T12:%02d:00Z", minute);
            feed(in, t, "room-01-01", "temperature", minute < 20 || minute > 40 ? 27.0 + minute / 10.0 : 24.0);
            feed(in, t, "room-01-02-temperature", "temperature", 20.0 + minute / 7.0);
            feed(in, t, "room-02-03", "temperature", minute % 2 == 0 ? 26.3 : 25.0);
        }
        engine.drain();
        CHECK(engine.statistics().failures == 0);
        const auto all = firings_of(engine);
        live_firings.assign(all.begin() + static_cast<std::ptrdiff_t>(initial), all.end());
        live_caused = caused_rows(*store, fed_from);
        // The recorded history: what was fed (no cause) after fed_from, in commit order.
        live::HistoryQuery q;
        q.start = Timestamp{fed_from.ns + 1};
        for (const live::PropertyUpdateRow& r : store->history(q).property_updates)
            if (r.cause.empty()) fed.push_back(r);
        std::sort(fed.begin(), fed.end(), [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
        before_feed = store->snapshot_at(fed_from);
    }
    REQUIRE(fed.size() == 60);
    // Every kind of firing is in the history with its rule as the cause.
    std::set<std::string> causes;
    for (const CausedRow& r : live_caused) causes.insert(r.cause);
    CHECK(causes == std::set<std::string>{"rule:too hot", "rule:room temperature from its sensor", "rule:warm room setpoint"});
    CHECK(std::find(live_caused.begin(), live_caused.end(),
                    CausedRow{"rule:too hot", "room-01-01", "temperatureSetpoint", "21.0", "2026-07-01T12:15:00.0000000Z"}) !=
          live_caused.end());
    REQUIRE(live_firings.size() >= 5);

    // Replay: the graph as it was before the feed (time travel), the same rule
    // file, and the recorded updates applied again in their order.
    const std::filesystem::path replay_dir = dir.path / "replay";
    std::vector<CausedRow> replay_caused;
    std::vector<Firing> replay_firings;
    {
        auto store = live::open_store(replay_dir);
        std::stringstream exported;
        graph::export_ndjson(before_feed, exported);
        graph::import_ndjson(store->graph(), exported);
        models::LiveRules engine(store->graph());
        engine.add_file(rule_file);
        engine.drain();
        const std::size_t initial = engine.firings().size();
        const Timestamp replay_from = utc_now();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        for (const live::PropertyUpdateRow& r : fed) {
            REQUIRE(r.source_time);
            json patch = json::array();
            patch.push_back({{"op", "add"}, {"path", "/" + r.key}, {"value", r.value}});
            patch.push_back({{"op", "add"},
                             {"path", "/$metadata/" + r.key + "/sourceTime"},
                             {"value", format_timestamp(*r.source_time, TimestampPrecision::nanoseconds)}});
            store->graph().update_twin(r.id, patch);
        }
        engine.drain();
        const auto all = firings_of(engine);
        replay_firings.assign(all.begin() + static_cast<std::ptrdiff_t>(initial), all.end());
        replay_caused = caused_rows(*store, replay_from);
    }
    CHECK(replay_firings == live_firings);
    CHECK(replay_caused == live_caused);
}

namespace {

/// A floor of rooms served by air handlers (and a fan), fed by chillers: the
/// issue's examples need a floor temperature, a room alarm, an air-handler
/// mode and its cooling, which the sample building does not declare.
std::unique_ptr<graph::TwinGraph> plant() {
    const char* floor = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:test:plant:Floor;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"temperature","schema":"double"}]})";
    const char* room = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:test:plant:Room;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"temperature","schema":"double"},
                  {"@type":"Property","name":"alarm","schema":"string"},
                  {"@type":"Relationship","name":"isPartOf"},
                  {"@type":"Relationship","name":"servedBy"}]})";
    const char* ahu = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:test:plant:AirHandler;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"mode","schema":"string"},
                  {"@type":"Property","name":"coolingAvailable","schema":"boolean"}]})";
    const char* fan = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:test:plant:Fan;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"mode","schema":"string"}]})";
    const char* chiller = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:test:plant:Chiller;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"running","schema":"boolean"},
                  {"@type":"Relationship","name":"feeds"}]})";
    auto g = std::make_unique<graph::TwinGraph>();
    const std::vector<dtdl::Document> docs{
        {"floor.json", floor}, {"room.json", room}, {"ahu.json", ahu}, {"fan.json", fan}, {"chiller.json", chiller}};
    g->add_models(docs);
    auto twin = [&](const std::string& id, const std::string& model, json props) {
        props["$metadata"] = {{"$model", "dtmi:test:plant:" + model + ";1"}};
        g->upsert_twin(id, props);
    };
    auto rel = [&](const std::string& source, const std::string& id, const std::string& name, const std::string& target) {
        g->upsert_relationship(source, id, {{"$targetId", target}, {"$relationshipName", name}});
    };
    twin("floor-1", "Floor", json::object());
    twin("ahu-1", "AirHandler", {{"mode", "normal"}, {"coolingAvailable", true}});
    twin("ahu-2", "AirHandler", {{"mode", "normal"}, {"coolingAvailable", true}});
    twin("fan-1", "Fan", {{"mode", "normal"}});
    twin("r1", "Room", {{"temperature", 22.0}});
    twin("r2", "Room", {{"temperature", 23.0}});
    twin("r3", "Room", {{"temperature", 24.0}});
    for (const char* r : {"r1", "r2", "r3"}) rel(r, std::string(r) + "-floor", "isPartOf", "floor-1");
    rel("r1", "r1-ahu", "servedBy", "ahu-1");
    rel("r1", "r1-fan", "servedBy", "fan-1");
    rel("r2", "r2-ahu", "servedBy", "ahu-1");
    rel("r3", "r3-ahu", "servedBy", "ahu-2");
    for (const char* c : {"c1", "c2", "c3"}) twin(c, "Chiller", {{"running", true}});
    rel("c1", "c1-ahu", "feeds", "ahu-1");
    rel("c2", "c2-ahu", "feeds", "ahu-1");
    rel("c3", "c3-ahu", "feeds", "ahu-2");
    return g;
}

const char* plant_rules = R"yaml(
clock: source
groups:
  - where: "IS_OF_MODEL('dtmi:test:plant:Room;1')"
    rules:
      - name: too hot
        when: "temperature > 26"
        for: PT15M
        then:
          - alarm: {text: room above 26 C for 15 minutes, property: alarm}
          - set: {mode: boost}
            on: {relationship: servedBy, direction: outgoing, where: "IS_OF_MODEL('dtmi:test:plant:AirHandler;1')"}
  - where: "IS_OF_MODEL('dtmi:test:plant:Floor;1')"
    rules:
      - name: floor temperature
        relationship: isPartOf
        aggregate: mean
        source_property: temperature
        target_property: temperature
  - where: "IS_OF_MODEL('dtmi:test:plant:AirHandler;1')"
    rules:
      - name: cooling
        relationship: feeds
        aggregate: any
        where: "running = true"
        target_property: coolingAvailable
)yaml";

void write_at(graph::TwinGraph& g, const std::string& twin, const std::string& property, const json& value,
              const std::string& time) {
    g.update_twin(twin, json::array({{{"op", "add"}, {"path", "/" + property}, {"value", value}},
                                     {{"op", "add"}, {"path", "/$metadata/" + property + "/sourceTime"}, {"value", time}}}));
}

}  // namespace

TEST_CASE("live rules: a room hot for 15 minutes raises its alarm property and sets ITS air handler to boost; a floor's "
          "temperature is its rooms' mean; an air handler whose chillers are all down has no cooling",
          "[live_rules]") {
    auto g = plant();
    std::vector<std::pair<std::string, std::string>> caused;  // (twin, cause)
    std::mutex mutex;
    g->subscribe([&](const graph::ChangeEvent& e) {
        std::lock_guard lock(mutex);
        if (!e.cause.empty()) caused.emplace_back(e.twin_id, e.cause);
    });
    models::LiveRules engine(*g);
    engine.add_text(plant_rules, "plant.yaml");
    engine.drain();
    // Added: the propagations are written at once.
    CHECK(number(*g, "floor-1", "temperature") == Approx(23.0));
    CHECK(g->get_twin("ahu-1")["coolingAvailable"] == true);

    write_at(*g, "r1", "temperature", 27.0, "2026-07-01T12:00:00Z");
    write_at(*g, "r2", "temperature", 25.0, "2026-07-01T12:05:00Z");
    engine.drain();
    CHECK(number(*g, "floor-1", "temperature") == Approx((27.0 + 25.0 + 24.0) / 3));
    CHECK_FALSE(g->get_twin("r1").contains("alarm"));  // not yet 15 minutes
    CHECK(g->get_twin("ahu-1")["mode"] == "normal");

    write_at(*g, "r3", "temperature", 24.5, "2026-07-01T12:16:00Z");  // any update past the deadline
    engine.drain();
    CHECK(g->get_twin("r1")["alarm"] == "room above 26 C for 15 minutes");
    CHECK(g->get_twin("ahu-1")["mode"] == "boost");   // r1's air handler
    CHECK(g->get_twin("fan-1")["mode"] == "normal");  // served by, but not an air handler (`where`)
    CHECK(g->get_twin("ahu-2")["mode"] == "normal");  // another room's
    CHECK(parse_timestamp(g->get_twin("ahu-1")["$metadata"]["mode"]["sourceTime"].get<std::string>()) ==
          parse_timestamp("2026-07-01T12:15:00Z"));
    const auto firings = engine.firings();
    const auto hot = std::find_if(firings.begin(), firings.end(), [](const auto& f) { return f.rule == "too hot"; });
    REQUIRE(hot != firings.end());
    CHECK(hot->twin == "r1");
    CHECK(hot->alarms == std::vector<std::string>{"room above 26 C for 15 minutes"});
    REQUIRE(hot->related.size() == 1);
    CHECK(hot->related[0].first == "ahu-1");
    CHECK(json::parse(hot->related[0].second)[0] == json{{"op", "add"}, {"path", "/mode"}, {"value", "boost"}});

    // Chillers: one down leaves cooling, both down remove it; ahu-2's stays.
    write_at(*g, "c1", "running", false, "2026-07-01T12:20:00Z");
    engine.drain();
    CHECK(g->get_twin("ahu-1")["coolingAvailable"] == true);
    write_at(*g, "c2", "running", false, "2026-07-01T12:21:00Z");
    engine.drain();
    CHECK(g->get_twin("ahu-1")["coolingAvailable"] == false);
    CHECK(g->get_twin("ahu-2")["coolingAvailable"] == true);
    write_at(*g, "c2", "running", true, "2026-07-01T12:30:00Z");
    engine.drain();
    CHECK(g->get_twin("ahu-1")["coolingAvailable"] == true);
    CHECK(engine.statistics().failures == 0);

    std::lock_guard lock(mutex);
    CHECK(std::count(caused.begin(), caused.end(), std::pair<std::string, std::string>{"ahu-1", "rule:too hot"}) == 1);
    CHECK(std::count(caused.begin(), caused.end(), std::pair<std::string, std::string>{"r1", "rule:too hot"}) == 1);
    CHECK(std::count(caused.begin(), caused.end(), std::pair<std::string, std::string>{"ahu-1", "rule:cooling"}) == 2);
    CHECK(std::count(caused.begin(), caused.end(), std::pair<std::string, std::string>{"floor-1", "rule:floor temperature"}) >= 2);
}

TEST_CASE("live rules: actions on related twins and alarm properties are checked against the models", "[live_rules]") {
    auto g = plant();
    models::LiveRules engine(*g);
    auto refused = [&](const std::string& then) {
        const std::string text = "- where: \"IS_OF_MODEL('dtmi:test:plant:Room;1')\"\n  rules:\n    - name: r\n"
                                 "      when: \"temperature > 26\"\n      then:\n" + then;
        try {
            engine.add_text(text, "bad.yaml");
        } catch (const models::RuleFileError& e) {
            return std::string(e.what());
        }
        FAIL("accepted: " << then);
        return std::string();
    };
    CHECK_THAT(refused("        - set: {mode: boost}\n          on: {relationship: servedVia}\n"),
               Catch::StartsWith("bad.yaml:7: groups[0].rules[0].then[0].on.relationship: rule \"r\": no model declares a "
                                 "relationship \"servedVia\""));
    CHECK_THAT(refused("        - set: {mode: boost}\n          on: {relationship: servedBy, direction: sideways}\n"),
               Catch::Contains("then[0].on.direction") && Catch::Contains("sideways"));
    // Without `where`, the fan is reached too; a property only air handlers have is refused, naming the fan.
    CHECK_THAT(refused("        - set: {coolingAvailable: false}\n          on: {relationship: servedBy}\n"),
               Catch::Contains("then[0].set.coolingAvailable") && Catch::Contains("related twin \"fan-1\""));
    CHECK_THAT(refused("        - set: {mode: boost}\n          on: {relationship: servedBy, where: \"speed > 3\"}\n"),
               Catch::Contains("then[0].on.where") && Catch::Contains("unknown property \"speed\""));
    CHECK_THAT(refused("        - alarm: {text: hot, property: temperature}\n"),
               Catch::Contains("then[0].alarm.property") && Catch::Contains("not a string"));
    CHECK_THAT(refused("        - alarm: hot\n          on: {relationship: servedBy}\n"),
               Catch::Contains("then[0].alarm") && Catch::Contains("needs the property"));
    CHECK_THAT(refused("        - alarm: {text: hot, colour: red}\n"), Catch::Contains("then[0].alarm.colour: rule \"r\": unknown key"));
    CHECK(engine.list().empty());
}

TEST_CASE("live rules: rule files are bounded (16 MiB, UTF-8, nesting, YAML expansion)", "[live_rules]") {
    auto g = plant();
    models::LiveRules engine(*g);
    test::TempDir dir;
    const auto file = dir.write("huge.yaml", "- rules: []\n");
    std::filesystem::resize_file(file, models::max_rule_file_bytes + 1);
    CHECK_THROWS_WITH(engine.add_file(file), Catch::Contains("huge.yaml") && Catch::Contains("at most 16 MiB"));
    CHECK_THROWS_WITH(models::check_rule_file(file, g->snapshot()), Catch::Contains("at most 16 MiB"));
    CHECK_THROWS_AS(engine.add_text(std::string(models::max_rule_file_bytes + 1, ' '), "big.yaml"), models::RuleFileError);
    // Not UTF-8 (a name with bytes 0xff 0xfe): refused with the line, as YAML and as JSON.
    CHECK_THROWS_WITH(engine.add_text("- rules:\n    - name: \"\xff\xfe\"\n      when: \"temperature > 1\"\n", "bin.yaml"),
                      Catch::StartsWith("bin.yaml:2: not UTF-8 text"));
    CHECK_THROWS_WITH(engine.add_text("[{\"rules\": [{\"name\": \"\xc3\"}]}", "bin.json"), Catch::StartsWith("bin.json:1: not UTF-8"));
    CHECK_THROWS_WITH(engine.add_text(std::string(300, '[') + std::string(300, ']'), "deep.yaml"), Catch::Contains("deep.yaml"));
    CHECK_THROWS_WITH(engine.add_text("a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                                      "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
                                      "bomb.yaml"),
                      Catch::Contains("bomb.yaml") && Catch::Contains("1000000"));
    CHECK(engine.list().empty());
}
