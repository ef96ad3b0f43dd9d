// TwinGraph: models, twins, relationships and change events with the
// semantics of the Azure Digital Twins data plane (reference/adt.md).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/graph/twin_graph.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
using test::floor_twin;
using test::rel;
using test::room;
using test::sensor;

namespace {

struct Fixture {
    TwinGraph g{test::test_options()};
    Fixture() {
        auto docs = test::building_models();
        g.add_models(docs);
    }
};

template <class F>
std::string error_code(F&& f) {
    try {
        f();
    } catch (const GraphError& e) {
        return e.code();
    }
    return "no error";
}

template <class F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

// --- models -------------------------------------------------------------------

TEST_CASE("add_models keeps definitions, lists and gets models", "[graph]") {
    Fixture f;
    const Snapshot s = f.g.snapshot();
    REQUIRE(s.list_models().size() == 6);
    const ModelInfo room_info = s.get_model("dtmi:test:Room;1");
    CHECK(room_info.definition["@id"] == "dtmi:test:Room;1");
    CHECK_FALSE(room_info.decommissioned);
    CHECK(error_code([&] { (void)s.get_model("dtmi:test:Nope;1"); }) == "ModelNotFound");
}

TEST_CASE("add_models: an existing id cannot be redefined; a failing batch adds nothing", "[graph]") {
    Fixture f;
    std::vector<dtdl::Document> again{test::building_models()[0]};
    CHECK(error_code([&] { f.g.add_models(again); }) == "ModelAlreadyExists");

    std::vector<dtdl::Document> batch{
        {"ok.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Lamp;1","@type":"Interface","extends":"dtmi:test:Space;1"})"},
        {"bad.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Bad;1","@type":"Interface","extends":"dtmi:test:Missing;1"})"}};
    CHECK_THROWS_AS(f.g.add_models(batch), dtdl::ModelError);
    CHECK(f.g.snapshot().list_models().size() == 6);

    // A later batch may build on models already in the graph.
    batch.pop_back();
    CHECK(f.g.add_models(batch) == std::vector<std::string>{"dtmi:test:Lamp;1"});
    CHECK(f.g.snapshot().models()->is_a("dtmi:test:Lamp;1", "dtmi:test:Space;1"));
}

TEST_CASE("adding models re-indexes the ModelSet without disturbing existing twins", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(21.5));
    std::vector<dtdl::Document> batch{
        {"a.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Aaa;1","@type":"Interface"})"}};
    f.g.add_models(batch);
    const Snapshot s = f.g.snapshot();
    CHECK(s.models()->at(s.twin_model(*s.find("room-1"))).definition->id == "dtmi:test:Room;1");
    CHECK(s.get_twin("room-1")["temperature"] == 21.5);
}

TEST_CASE("decommissioned models take no new twins; existing twins stay writable", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    f.g.decommission_model("dtmi:test:Room;1");
    CHECK(f.g.snapshot().get_model("dtmi:test:Room;1").decommissioned);
    CHECK(error_code([&] { f.g.upsert_twin("room-2", room(20)); }) == "ModelDecommissioned");
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":25}])"));
    f.g.upsert_twin("room-1", room(26));
    CHECK(f.g.get_twin("room-1")["temperature"] == 26.0);
    CHECK(error_code([&] { f.g.decommission_model("dtmi:test:Nope;1"); }) == "ModelNotFound");
}

TEST_CASE("delete_model is refused while twins use it or other models extend it", "[graph]") {
    Fixture f;
    f.g.upsert_twin("s-1", sensor(1));
    CHECK(error_code([&] { f.g.delete_model("dtmi:test:Sensor;1"); }) == "ModelReferencesNotDeleted");
    CHECK(error_code([&] { f.g.delete_model("dtmi:test:Space;1"); }) == "ModelReferencesNotDeleted");
    CHECK(error_code([&] { f.g.delete_model("dtmi:test:Thermostat;1"); }) == "ModelReferencesNotDeleted");
    f.g.delete_twin("s-1");
    f.g.delete_model("dtmi:test:Sensor;1");
    CHECK(error_code([&] { (void)f.g.snapshot().get_model("dtmi:test:Sensor;1"); }) == "ModelNotFound");
    CHECK_FALSE(f.g.snapshot().models()->find("dtmi:test:Sensor;1"));
    CHECK(error_code([&] { f.g.upsert_twin("s-2", sensor(1)); }) == "ModelNotFound");
    // It can be uploaded again.
    std::vector<dtdl::Document> again{test::building_models()[5]};
    f.g.add_models(again);
    f.g.upsert_twin("s-2", sensor(1));
}

// --- twins ----------------------------------------------------------------------

TEST_CASE("get_twin returns ADT JSON with $dtId, $etag and $metadata", "[graph]") {
    Fixture f;
    json t = room(21.5);
    t["name"] = "Room 1";
    t["settings"] = {{"mode", "eco"}};
    t["thermostat"] = {{"setpoint", 22}};
    t["$metadata"]["temperature"] = {{"sourceTime", "2026-06-30T10:00:00+02:00"}};
    const json stored = f.g.upsert_twin("room-1", t);
    CHECK(stored == f.g.get_twin("room-1"));
    CHECK(stored["$dtId"] == "room-1");
    CHECK(stored["$etag"].get<std::string>().rfind("W/\"", 0) == 0);
    CHECK(stored["temperature"] == 21.5);
    CHECK(stored["settings"] == json{{"mode", "eco"}});
    CHECK_FALSE(stored.contains("humidity"));
    const json& md = stored["$metadata"];
    CHECK(md["$model"] == "dtmi:test:Room;1");
    CHECK(md["$lastUpdateTime"] == "2026-07-01T00:00:01.0000000Z");
    CHECK(md["temperature"]["lastUpdateTime"] == "2026-07-01T00:00:01.0000000Z");
    CHECK(md["temperature"]["sourceTime"] == "2026-06-30T08:00:00.0000000Z");
    CHECK_FALSE(md["name"].contains("sourceTime"));
    CHECK_FALSE(md.contains("humidity"));
    CHECK(stored["thermostat"]["setpoint"] == 22);
    CHECK(stored["thermostat"]["$metadata"]["setpoint"]["lastUpdateTime"] == "2026-07-01T00:00:01.0000000Z");
    CHECK(stored["thermostat"]["$metadata"].contains("$lastUpdateTime"));
}

TEST_CASE("every property value is validated against the model", "[graph]") {
    Fixture f;
    auto fails = [&](const std::string& member, const json& value) {
        json t = room(20);
        t[member] = value;
        return error_message([&] { f.g.upsert_twin("room-1", t); });
    };
    CHECK(fails("temperature", "hot") == R"(twin "room-1": /temperature: expected a double (finite), found string "hot")");
    CHECK_THAT(fails("humidity", 1.5), Catch::Contains("/humidity") && Catch::Contains("integer"));
    CHECK_THAT(fails("humidity", 5000000000LL), Catch::Contains("32-bit"));
    CHECK_THAT(fails("status", "broken"), Catch::Contains("/status"));
    CHECK_THAT(fails("level", 3), Catch::Contains("/level"));
    CHECK_THAT(fails("settings", json{{"colour", "red"}}), Catch::Contains("/settings/colour"));
    CHECK_THAT(fails("settings", json{{"level", "x"}}), Catch::Contains("/settings/level"));
    CHECK_THAT(fails("tags", json{{"a", 1}}), Catch::Contains("/tags/a"));
    CHECK_THAT(fails("readings", json::array({1.0, "x"})), Catch::Contains("/readings/1"));
    CHECK_THAT(fails("colour", "red"), Catch::Contains("/colour: not declared by dtmi:test:Room;1"));
    CHECK_THAT(fails("reading", 3.0), Catch::Contains("/reading: is a Telemetry"));
    CHECK_THAT(fails("thermostat", json{{"setpoint", "warm"}}), Catch::Contains("/thermostat/setpoint"));
    CHECK_THAT(fails("thermostat", json{{"colour", 1}}), Catch::Contains("/thermostat/colour"));
    CHECK_THAT(fails("$dtId", "room-2"), Catch::Contains("/$dtId"));
    CHECK(f.g.twin_count() == 0);

    json t = room(20);
    t["temperature"] = "hot";
    CHECK(error_code([&] { f.g.upsert_twin("room-1", t); }) == "ValidationFailed");
    json nomodel = {{"temperature", 1.0}};
    CHECK(error_code([&] { f.g.upsert_twin("room-1", nomodel); }) == "ValidationFailed");
    json unknown = {{"$metadata", {{"$model", "dtmi:test:Nope;1"}}}};
    CHECK(error_code([&] { f.g.upsert_twin("room-1", unknown); }) == "ModelNotFound");
    json bad_time = room(20);
    bad_time["$metadata"]["temperature"] = {{"sourceTime", "yesterday"}};
    CHECK_THAT(error_message([&] { f.g.upsert_twin("room-1", bad_time); }),
               Catch::Contains("/$metadata/temperature/sourceTime"));
    // Every problem is reported, not only the first.
    json two = room(20);
    two["temperature"] = "hot";
    two["name"] = 3;
    const std::string both = error_message([&] { f.g.upsert_twin("room-1", two); });
    CHECK_THAT(both, Catch::Contains("/temperature") && Catch::Contains("/name"));
}

TEST_CASE("components must be initialised when a twin is created", "[graph]") {
    Fixture f;
    json t = room(20);
    t.erase("thermostat");
    CHECK_THAT(error_message([&] { f.g.upsert_twin("room-1", t); }),
               Catch::Contains("twin \"room-1\": /thermostat: component") && Catch::Contains("must be present"));
    t["thermostat"] = json::object();
    f.g.upsert_twin("room-1", t);
    CHECK(f.g.get_twin("room-1")["thermostat"]["$metadata"].contains("$lastUpdateTime"));
}

TEST_CASE("upsert replaces the whole twin; create-only refuses an existing id", "[graph]") {
    Fixture f;
    json t = room(20);
    t["name"] = "A";
    f.g.upsert_twin("room-1", t);
    CHECK(error_code([&] { f.g.upsert_twin("room-1", room(21), {std::nullopt, true}); }) == "DigitalTwinAlreadyExists");
    CHECK(f.g.get_twin("room-1")["name"] == "A");
    f.g.upsert_twin("room-1", room(21));
    const json now = f.g.get_twin("room-1");
    CHECK(now["temperature"] == 21.0);
    CHECK_FALSE(now.contains("name"));
    CHECK_FALSE(now["$metadata"].contains("name"));
    CHECK(f.g.twin_count() == 1);
    // Replace with another model moves the twin to that model's table.
    f.g.upsert_twin("room-1", sensor(3));
    const Snapshot s = f.g.snapshot();
    CHECK(s.get_twin("room-1")["$metadata"]["$model"] == "dtmi:test:Sensor;1");
    CHECK(s.numeric_column("dtmi:test:Room;1", "temperature").twins.empty());
    CHECK(s.numeric_column("dtmi:test:Sensor;1", "value").values == std::vector<double>{3.0});
}

TEST_CASE("etags change on every update and guard conditional writes", "[graph]") {
    Fixture f;
    const std::string e1 = f.g.upsert_twin("room-1", room(20))["$etag"];
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":21}])"));
    const std::string e2 = f.g.get_twin("room-1")["$etag"];
    CHECK(e1 != e2);
    CHECK(error_code([&] {
              f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":22}])"), e1);
          }) == "PreconditionFailed");
    CHECK(f.g.get_twin("room-1")["temperature"] == 21.0);
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":22}])"), e2);
    const std::string e3 = f.g.get_twin("room-1")["$etag"];
    CHECK(e3 != e2);
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":23}])"), "*");
    CHECK(error_code([&] { f.g.upsert_twin("room-1", room(1), {e3, false}); }) == "PreconditionFailed");
    CHECK(error_code([&] { f.g.delete_twin("room-1", e3); }) == "PreconditionFailed");
    CHECK(error_code([&] { f.g.upsert_twin("room-9", room(1), {std::string("*"), false}); }) == "PreconditionFailed");
    f.g.delete_twin("room-1", f.g.snapshot().twin_etag("room-1"));
    CHECK(f.g.twin_count() == 0);
    // A twin created again gets a fresh etag, never an old one.
    CHECK(f.g.upsert_twin("room-1", room(20))["$etag"] != e1);
}

TEST_CASE("JSON Patch: add, replace, remove; replace needs an existing value", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/name","value":"R1"},
                                              {"op":"replace","path":"/temperature","value":22.5},
                                              {"op":"add","path":"/tags","value":{"a":"b"}}])"));
    json t = f.g.get_twin("room-1");
    CHECK(t["name"] == "R1");
    CHECK(t["temperature"] == 22.5);
    CHECK(t["tags"] == json{{"a", "b"}});
    f.g.update_twin("room-1", json::parse(R"([{"op":"remove","path":"/name"}])"));
    CHECK_FALSE(f.g.get_twin("room-1").contains("name"));
    CHECK(error_code([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/name","value":"x"}])")); }) ==
          "JsonPatchInvalid");
    CHECK(error_code([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"remove","path":"/name"}])")); }) ==
          "JsonPatchInvalid");
    CHECK(error_code([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"move","from":"/a","path":"/name"}])")); }) ==
          "JsonPatchInvalid");
    CHECK(error_code([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/$dtId","value":"x"}])")); }) ==
          "JsonPatchInvalid");
    CHECK(error_code([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/colour","value":"x"}])")); }) ==
          "ValidationFailed");
    CHECK(error_code([&] { f.g.update_twin("nobody", json::array()); }) == "DigitalTwinNotFound");
}

TEST_CASE("JSON Patch into Object properties and components", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    // A sub-property of an unset Object cannot be set: add the whole object first.
    CHECK_THAT(error_message([&] {
                   f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/settings/mode","value":"eco"}])"));
               }),
               Catch::Contains("twin \"room-1\"") && Catch::Contains("/settings/mode"));
    f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/settings","value":{"mode":"eco"}}])"));
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/settings/mode","value":"comfort"},
                                              {"op":"add","path":"/settings/level","value":3}])"));
    CHECK(f.g.get_twin("room-1")["settings"] == json{{"mode", "comfort"}, {"level", 3}});
    CHECK_THAT(error_message([&] {
                   f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/settings/level","value":"x"}])"));
               }),
               Catch::Contains("/settings/level"));
    f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/thermostat/setpoint","value":19.5}])"));
    const json t = f.g.get_twin("room-1");
    CHECK(t["thermostat"]["setpoint"] == 19.5);
    CHECK(t["thermostat"]["$metadata"]["setpoint"].contains("lastUpdateTime"));
    CHECK(f.g.snapshot().get_property("room-1", "thermostat/setpoint") == json(19.5));
    CHECK_THAT(error_message([&] {
                   f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/thermostat/setpoint","value":"x"}])"));
               }),
               Catch::Contains("/thermostat/setpoint"));
    CHECK_THAT(error_message([&] { f.g.update_twin("room-1", json::parse(R"([{"op":"remove","path":"/thermostat"}])")); }),
               Catch::Contains("must be present"));
}

TEST_CASE("a patch applies whole or not at all", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    const json before = f.g.get_twin("room-1");
    CHECK_THROWS_AS(f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":30},
                                                              {"op":"add","path":"/name","value":"n"},
                                                              {"op":"add","path":"/humidity","value":"wet"}])")),
                    ValidationError);
    CHECK(f.g.get_twin("room-1") == before);
    CHECK_THROWS_AS(f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":30},
                                                              {"op":"remove","path":"/name"}])")),
                    ValidationError);
    CHECK(f.g.get_twin("room-1") == before);
}

TEST_CASE("patch keeps lastUpdateTime of untouched properties and sets sourceTime", "[graph]") {
    Fixture f;
    json t = room(20);
    t["name"] = "A";
    f.g.upsert_twin("room-1", t);  // clock: 00:00:01 (add_models read 00:00:00)
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":21},
        {"op":"add","path":"/$metadata/temperature/sourceTime","value":"2026-06-30T23:59:59.5Z"}])"));  // 00:00:02
    const json md = f.g.get_twin("room-1")["$metadata"];
    CHECK(md["name"]["lastUpdateTime"] == "2026-07-01T00:00:01.0000000Z");
    CHECK(md["temperature"]["lastUpdateTime"] == "2026-07-01T00:00:02.0000000Z");
    CHECK(md["temperature"]["sourceTime"] == "2026-06-30T23:59:59.5000000Z");
    CHECK(md["$lastUpdateTime"] == "2026-07-01T00:00:02.0000000Z");
    // sourceTime of a property set in the same patch.
    f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/humidity","value":40},
        {"op":"add","path":"/$metadata/humidity/sourceTime","value":"2026-06-30T12:00:00Z"}])"));
    CHECK(f.g.get_twin("room-1")["$metadata"]["humidity"]["sourceTime"] == "2026-06-30T12:00:00.0000000Z");
    // ...but not of one that is unset, nor a bad time, nor lastUpdateTime.
    CHECK_THROWS_AS(f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/$metadata/occupied/sourceTime","value":"2026-06-30T12:00:00Z"}])")),
                    ValidationError);
    CHECK_THROWS_AS(f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/$metadata/name/sourceTime","value":"noon"}])")),
                    ValidationError);
    CHECK(error_code([&] {
              f.g.update_twin("room-1", json::parse(R"([{"op":"add","path":"/$metadata/name/lastUpdateTime","value":"2026-06-30T12:00:00Z"}])"));
          }) == "JsonPatchInvalid");
}

TEST_CASE("model migration through /$metadata/$model only when the twin conforms", "[graph]") {
    Fixture f;
    json t = room(20);
    t["name"] = "A";
    t["thermostat"] = {{"setpoint", 20}};
    f.g.upsert_twin("room-1", t);
    f.g.upsert_twin("room-2", room(20));
    f.g.update_twin("room-2", json::parse(R"([{"op":"add","path":"/humidity","value":40}])"));
    // room-2 has humidity, which Office does not declare.
    CHECK_THAT(error_message([&] {
                   f.g.update_twin("room-2", json::parse(R"([{"op":"replace","path":"/$metadata/$model","value":"dtmi:test:Office;1"}])"));
               }),
               Catch::Contains("/humidity") && Catch::Contains("does not conform"));
    CHECK(f.g.get_twin("room-2")["$metadata"]["$model"] == "dtmi:test:Room;1");
    // Removing humidity in the same patch makes it conform.
    f.g.update_twin("room-2", json::parse(R"([{"op":"replace","path":"/$metadata/$model","value":"dtmi:test:Office;1"},
                                              {"op":"remove","path":"/humidity"}])"));
    CHECK(f.g.get_twin("room-2")["$metadata"]["$model"] == "dtmi:test:Office;1");

    const json md_before = f.g.get_twin("room-1")["$metadata"];
    f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/$metadata/$model","value":"dtmi:test:Office;1"}])"));
    const json after = f.g.get_twin("room-1");
    CHECK(after["$metadata"]["$model"] == "dtmi:test:Office;1");
    CHECK(after["name"] == "A");
    CHECK(after["thermostat"]["setpoint"] == 20);
    CHECK(after["$metadata"]["name"]["lastUpdateTime"] == md_before["name"]["lastUpdateTime"]);
    const Snapshot s = f.g.snapshot();
    CHECK(s.numeric_column("dtmi:test:Office;1", "temperature").twins.size() == 2);
    CHECK(s.numeric_column("dtmi:test:Room;1", "temperature").twins.empty());
    CHECK(s.numeric_column("dtmi:test:Space;1", "area").twins.empty());
    // Not to a decommissioned or unknown model.
    f.g.decommission_model("dtmi:test:Room;1");
    CHECK(error_code([&] {
              f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/$metadata/$model","value":"dtmi:test:Room;1"}])"));
          }) == "ModelDecommissioned");
    CHECK(error_code([&] {
              f.g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/$metadata/$model","value":"dtmi:test:Nope;1"}])"));
          }) == "ModelNotFound");
}

TEST_CASE("delete refuses while relationships remain, unless cascade", "[graph]") {
    Fixture f;
    f.g.upsert_twin("floor-1", floor_twin(1));
    f.g.upsert_twin("room-1", room(20));
    f.g.upsert_twin("room-2", room(20));
    f.g.upsert_relationship("floor-1", "r1", rel("room-1", "contains"));
    f.g.upsert_relationship("floor-1", "r2", rel("room-2", "contains"));
    CHECK(error_code([&] { f.g.delete_twin("room-1"); }) == "RelationshipsNotDeleted");
    CHECK(error_code([&] { f.g.delete_twin("floor-1"); }) == "RelationshipsNotDeleted");
    CHECK(f.g.twin_count() == 3);
    std::vector<ChangeEvent> events;
    f.g.subscribe([&](const ChangeEvent& e) { events.push_back(e); });
    f.g.delete_twin("floor-1", std::nullopt, true);
    CHECK(f.g.twin_count() == 2);
    CHECK(f.g.relationship_count() == 0);
    const Snapshot s = f.g.snapshot();
    CHECK(s.in_relationships(*s.find("room-1")).empty());
    REQUIRE(events.size() == 3);
    CHECK(events[0].type == ChangeType::relationship_delete);
    CHECK(events[1].type == ChangeType::relationship_delete);
    CHECK(events[2].type == ChangeType::twin_delete);
    CHECK(events[2].data["number"] == 1);
    CHECK(events[2].sequence == events[0].sequence + 2);
    f.g.delete_twin("room-1");
    CHECK(error_code([&] { f.g.delete_twin("room-1"); }) == "DigitalTwinNotFound");
}

TEST_CASE("twin indices are dense and reused after delete; ids map to them", "[graph]") {
    Fixture f;
    for (int i = 0; i < 5; ++i) f.g.upsert_twin(test::numbered("s-", i), sensor(i));
    Snapshot s = f.g.snapshot();
    CHECK(s.twin_capacity() == 5);
    CHECK(*s.find("s-3") == 3);
    CHECK(s.twin_id(3) == "s-3");
    f.g.delete_twin("s-1");
    f.g.upsert_twin("x", sensor(9));
    s = f.g.snapshot();
    CHECK(*s.find("x") == 1);
    CHECK_FALSE(s.find("s-1"));
    CHECK(s.twins() == std::vector<TwinIndex>{0, 1, 2, 3, 4});
    CHECK(s.get_twin(TwinIndex{1})["value"] == 9.0);
    CHECK(s.numeric_column("dtmi:test:Sensor;1", "value").twins == std::vector<TwinIndex>{0, 1, 2, 3, 4});
}

TEST_CASE("many twins: ids hash across shards and stay findable after deletes", "[graph]") {
    Fixture f;
    f.g.atomically([](TwinGraph& g) {
        for (int i = 0; i < 20000; ++i) g.upsert_twin(test::numbered("sensor-", i), sensor(i));
    });
    for (int i = 0; i < 20000; i += 2) f.g.delete_twin(test::numbered("sensor-", i));
    const Snapshot s = f.g.snapshot();
    CHECK(s.twin_count() == 10000);
    for (int i = 0; i < 20000; ++i) {
        const auto t = s.find(test::numbered("sensor-", i));
        if (i % 2 == 0) {
            REQUIRE_FALSE(t);
        } else {
            REQUIRE(t);
            REQUIRE(s.twin_id(*t) == test::numbered("sensor-", i));
        }
    }
}

// --- relationships --------------------------------------------------------------

TEST_CASE("relationships: create, get, list outgoing by name and incoming", "[graph]") {
    Fixture f;
    f.g.upsert_twin("floor-1", floor_twin(1));
    f.g.upsert_twin("room-1", room(20));
    f.g.upsert_twin("s-1", sensor(1));
    json r = rel("room-1", "contains");
    r["since"] = "2020-01-01";
    const json stored = f.g.upsert_relationship("floor-1", "r1", r);
    CHECK(stored["$relationshipId"] == "r1");
    CHECK(stored["$sourceId"] == "floor-1");
    CHECK(stored["$targetId"] == "room-1");
    CHECK(stored["$relationshipName"] == "contains");
    CHECK(stored["since"] == "2020-01-01");
    CHECK(stored["$etag"].get<std::string>().rfind("W/", 0) == 0);
    CHECK(f.g.get_relationship("floor-1", "r1") == stored);
    f.g.upsert_relationship("floor-1", "n1", rel("s-1", "near"));
    f.g.upsert_relationship("s-1", "o1", rel("room-1", "observes"));
    const Snapshot s = f.g.snapshot();
    CHECK(s.list_relationships("floor-1").size() == 2);
    REQUIRE(s.list_relationships("floor-1", "near").size() == 1);
    CHECK(s.list_relationships("floor-1", "near")[0]["$targetId"] == "s-1");
    const auto incoming = s.list_incoming_relationships("room-1");
    REQUIRE(incoming.size() == 2);
    CHECK(incoming[0] == json{{"$relationshipId", "r1"}, {"$sourceId", "floor-1"}, {"$relationshipName", "contains"},
                              {"$relationshipLink", "/digitaltwins/floor-1/relationships/r1"}});
    const TwinIndex room_t = *s.find("room-1");
    REQUIRE(s.in_relationships(room_t).size() == 2);
    const RelationshipIndex ri = s.in_relationships(room_t)[0];
    CHECK(s.source(ri) == *s.find("floor-1"));
    CHECK(s.target(ri) == room_t);
    CHECK(s.relationship_name(ri) == "contains");
    CHECK(s.relationship_id(ri) == "r1");
    CHECK(s.relationship_count() == 3);
    // Ids are unique per source, not globally.
    f.g.upsert_relationship("s-1", "r1", rel("room-1", "observes"));
    CHECK(f.g.relationship_count() == 4);
    CHECK(error_code([&] { (void)f.g.get_relationship("floor-1", "zz"); }) == "RelationshipNotFound");
}

TEST_CASE("relationships: self-loops, missing targets, wrong target models and bad properties are refused", "[graph]") {
    Fixture f;
    f.g.upsert_twin("floor-1", floor_twin(1));
    f.g.upsert_twin("floor-2", floor_twin(2));
    f.g.upsert_twin("room-1", room(20));
    f.g.upsert_twin("s-1", sensor(1));
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r", rel("floor-1", "near")); }) == "InvalidRelationship");
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r", rel("ghost", "contains")); }) == "TargetTwinNotFound");
    CHECK(error_code([&] { f.g.upsert_relationship("ghost", "r", rel("room-1", "contains")); }) == "DigitalTwinNotFound");
    // contains targets Space: a Room (extends Space) is fine, a Sensor or a Floor is not.
    CHECK_THAT(error_message([&] { f.g.upsert_relationship("floor-1", "r", rel("s-1", "contains")); }),
               Catch::Contains("dtmi:test:Sensor;1") && Catch::Contains("requires dtmi:test:Space;1"));
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r", rel("floor-2", "contains")); }) == "InvalidRelationship");
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r", rel("room-1", "owns")); }) == "InvalidRelationship");
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r", rel("room-1", "number")); }) == "InvalidRelationship");
    json bad = rel("room-1", "contains");
    bad["since"] = "last year";
    CHECK_THAT(error_message([&] { f.g.upsert_relationship("floor-1", "r", bad); }),
               Catch::Contains("relationship \"r\" of twin \"floor-1\": /since"));
    json extra = rel("room-1", "contains");
    extra["weight"] = 1;
    CHECK_THAT(error_message([&] { f.g.upsert_relationship("floor-1", "r", extra); }), Catch::Contains("/weight"));
    CHECK(f.g.relationship_count() == 0);
    f.g.upsert_relationship("floor-1", "r", rel("floor-2", "near"));  // no target constraint
}

TEST_CASE("relationships: create-only, etags, replace, patch and delete", "[graph]") {
    Fixture f;
    f.g.upsert_twin("floor-1", floor_twin(1));
    f.g.upsert_twin("room-1", room(20));
    f.g.upsert_twin("room-2", room(20));
    const std::string e1 = f.g.upsert_relationship("floor-1", "r1", rel("room-1", "contains"))["$etag"];
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "r1", rel("room-2", "contains"), {std::nullopt, true}); }) ==
          "RelationshipAlreadyExists");
    // Replace with a new target moves the incoming edge.
    const std::string e2 = f.g.upsert_relationship("floor-1", "r1", rel("room-2", "contains"), {e1, false})["$etag"];
    CHECK(e2 != e1);
    Snapshot s = f.g.snapshot();
    CHECK(s.in_relationships(*s.find("room-1")).empty());
    CHECK(s.in_relationships(*s.find("room-2")).size() == 1);
    CHECK(s.out_relationships(*s.find("floor-1")).size() == 1);
    CHECK(error_code([&] {
              f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"add","path":"/since","value":"2020-01-01"}])"), e1);
          }) == "PreconditionFailed");
    f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"add","path":"/since","value":"2020-01-01"}])"), e2);
    CHECK(f.g.get_relationship("floor-1", "r1")["since"] == "2020-01-01");
    CHECK(error_code([&] {
              f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"replace","path":"/since","value":"never"}])"));
          }) == "ValidationFailed");
    CHECK(error_code([&] {
              f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"replace","path":"/$targetId","value":"room-1"}])"));
          }) == "JsonPatchInvalid");
    CHECK(f.g.get_relationship("floor-1", "r1")["since"] == "2020-01-01");
    f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"remove","path":"/since"}])"));
    CHECK_FALSE(f.g.get_relationship("floor-1", "r1").contains("since"));
    CHECK(error_code([&] { f.g.delete_relationship("floor-1", "r1", e2); }) == "PreconditionFailed");
    f.g.delete_relationship("floor-1", "r1");
    CHECK(f.g.relationship_count() == 0);
    CHECK(error_code([&] { f.g.delete_relationship("floor-1", "r1"); }) == "RelationshipNotFound");
    s = f.g.snapshot();
    CHECK(s.out_relationships(*s.find("floor-1")).empty());
    CHECK(s.in_relationships(*s.find("room-2")).empty());
    f.g.delete_twin("room-2");  // no relationships remain
}

// --- batches ----------------------------------------------------------------------

TEST_CASE("update_twins applies every patch or none", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    f.g.upsert_twin("room-2", room(20));
    std::vector<TwinPatch> ok{{"room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":1}])"), std::nullopt},
                              {"room-2", json::parse(R"([{"op":"replace","path":"/temperature","value":2}])"), std::nullopt}};
    f.g.update_twins(ok);
    CHECK(f.g.get_twin("room-2")["temperature"] == 2.0);
    std::vector<ChangeEvent> events;
    f.g.subscribe([&](const ChangeEvent& e) { events.push_back(e); });
    std::vector<TwinPatch> bad{{"room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":5}])"), std::nullopt},
                               {"room-2", json::parse(R"([{"op":"replace","path":"/temperature","value":"x"}])"), std::nullopt}};
    CHECK_THROWS_AS(f.g.update_twins(bad), ValidationError);
    CHECK(f.g.get_twin("room-1")["temperature"] == 1.0);
    CHECK(events.empty());
    bad[1].if_match = "W/\"nope\"";
    bad[1].patch = ok[1].patch;
    CHECK(error_code([&] { f.g.update_twins(bad); }) == "PreconditionFailed");
    CHECK(f.g.get_twin("room-1")["temperature"] == 1.0);
    CHECK(events.empty());
}

TEST_CASE("write_properties: the fast numeric path, validated and atomic", "[graph]") {
    Fixture f;
    f.g.upsert_twin("s-1", sensor(1));
    f.g.upsert_twin("room-1", room(20));
    Snapshot s = f.g.snapshot();
    const TwinIndex s1 = *s.find("s-1");
    const TwinIndex r1 = *s.find("room-1");
    const auto& sensor_layout = s.models()->get("dtmi:test:Sensor;1").layout;
    const auto& room_layout = s.models()->get("dtmi:test:Room;1").layout;
    const std::uint32_t value = sensor_layout.find("value")->column;
    const std::uint32_t count = sensor_layout.find("count")->column;
    const std::uint32_t on = sensor_layout.find("on")->column;
    const std::uint32_t humidity = room_layout.find("humidity")->column;
    const std::uint32_t name = room_layout.find("name")->column;
    const std::uint32_t level = room_layout.find("level")->column;
    const std::string etag = s.twin_etag("s-1");

    std::vector<ChangeEvent> events;
    f.g.subscribe([&](const ChangeEvent& e) { events.push_back(e); });
    std::vector<PropertyWrite> writes{{s1, value, 2.5, std::nullopt},
                                      {s1, count, 7, Timestamp{1'000'000'000}},
                                      {s1, on, 1, std::nullopt},
                                      {r1, humidity, 40, std::nullopt}};
    f.g.write_properties(writes);
    json t = f.g.get_twin("s-1");
    CHECK(t["value"] == 2.5);
    CHECK(t["count"] == 7);
    CHECK(t["on"] == true);
    CHECK(t["$metadata"]["count"]["sourceTime"] == "1970-01-01T00:00:01.0000000Z");
    CHECK(t["$etag"] != etag);
    CHECK(f.g.get_twin("room-1")["humidity"] == 40);
    REQUIRE(events.size() == 2);
    CHECK(events[0].type == ChangeType::twin_update);
    CHECK(events[0].twin_id == "s-1");
    CHECK(events[0].data["modelId"] == "dtmi:test:Sensor;1");
    CHECK(events[0].data["patch"][0] == json{{"op", "replace"}, {"path", "/value"}, {"value", 2.5}});
    CHECK(events[0].data["patch"][1] == json{{"op", "add"}, {"path", "/count"}, {"value", 7}});
    CHECK(events[1].twin_id == "room-1");

    const json before = f.g.get_twin("s-1");
    auto refused = [&](PropertyWrite bad) {
        std::vector<PropertyWrite> batch{{s1, value, 99, std::nullopt}, bad};
        const std::string msg = error_message([&] { f.g.write_properties(batch); });
        CHECK(f.g.get_twin("s-1") == before);
        return msg;
    };
    CHECK_THAT(refused({r1, name, 1, std::nullopt}), Catch::Contains("write 1") && Catch::Contains("not a numeric"));
    CHECK_THAT(refused({r1, humidity, 1.5, std::nullopt}), Catch::Contains("/humidity") && Catch::Contains("integral"));
    CHECK_THAT(refused({r1, humidity, 1e12, std::nullopt}), Catch::Contains("32-bit"));
    CHECK_THAT(refused({r1, level, 3, std::nullopt}), Catch::Contains("/level"));
    CHECK_THAT(refused({s1, on, 0.5, std::nullopt}), Catch::Contains("/on"));
    CHECK_THAT(refused({s1, 99, 1, std::nullopt}), Catch::Contains("column 99"));
    CHECK_THAT(refused({77, value, 1, std::nullopt}), Catch::Contains("no twin has index 77"));
    CHECK_THAT(refused({s1, value, std::nan(""), std::nullopt}), Catch::Contains("finite"));
    CHECK(events.size() == 2);
}

// --- events -----------------------------------------------------------------------

TEST_CASE("change events: shapes, subjects and gap-free sequence numbers", "[graph]") {
    Fixture f;
    std::vector<ChangeEvent> events;
    const auto id = f.g.subscribe([&](const ChangeEvent& e) { events.push_back(e); });
    f.g.upsert_twin("floor-1", floor_twin(1));
    f.g.upsert_twin("room-1", room(20));
    json replaced = room(21);
    replaced["name"] = "R";
    f.g.upsert_twin("room-1", replaced);
    f.g.update_twin("room-1", json::parse(R"([{"op":"remove","path":"/name"}])"));
    f.g.upsert_relationship("floor-1", "r1", rel("room-1", "contains"));
    json r = rel("room-1", "contains");
    r["since"] = "2021-02-03";
    f.g.upsert_relationship("floor-1", "r1", r);
    f.g.update_relationship("floor-1", "r1", json::parse(R"([{"op":"remove","path":"/since"}])"));
    f.g.delete_relationship("floor-1", "r1");
    f.g.delete_twin("room-1");
    REQUIRE(events.size() == 9);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].sequence == i + 1);
    CHECK(events[0].type == ChangeType::twin_create);
    CHECK(std::string(event_type(events[0].type)) == "Microsoft.DigitalTwins.Twin.Create");
    CHECK(events[0].subject == "floor-1");
    CHECK(events[0].data == f.g.snapshot().get_twin("floor-1"));
    CHECK(events[1].time == Timestamp{1'782'864'000'000'000'000LL + 2'000'000'000LL});  // add_models read the first tick
    CHECK(events[2].type == ChangeType::twin_update);
    CHECK(events[2].data["modelId"] == "dtmi:test:Room;1");
    CHECK(events[2].data["patch"] == json::parse(R"([{"op":"add","path":"/name","value":"R"},
                                                      {"op":"replace","path":"/temperature","value":21.0}])"));
    CHECK(events[3].data["patch"] == json::parse(R"([{"op":"remove","path":"/name"}])"));
    CHECK(events[4].type == ChangeType::relationship_create);
    CHECK(events[4].subject == "floor-1/relationships/r1");
    CHECK(events[4].twin_id == "floor-1");
    CHECK(events[4].relationship_id == "r1");
    CHECK(events[4].data["$targetId"] == "room-1");
    CHECK(events[5].type == ChangeType::relationship_update);
    CHECK(events[5].data["modelId"] == "dtmi:test:Floor;1");
    CHECK(events[5].data["patch"] == json::parse(R"([{"op":"add","path":"/since","value":"2021-02-03"}])"));
    CHECK(std::string(event_type(events[6].type)) == "Microsoft.DigitalTwins.Relationship.Update");
    CHECK(events[7].type == ChangeType::relationship_delete);
    CHECK(events[7].data["$relationshipId"] == "r1");
    CHECK(events[8].type == ChangeType::twin_delete);
    CHECK(events[8].data["$dtId"] == "room-1");
    CHECK(events[8].data["temperature"] == 21.0);
    CHECK(f.g.stats().events_emitted == 9);

    // A failed write emits nothing; an unsubscribed listener hears nothing.
    CHECK_THROWS(f.g.upsert_twin("room-1", room(20), {std::string("W/\"x\""), false}));
    CHECK(events.size() == 9);
    f.g.unsubscribe(id);
    f.g.upsert_twin("room-3", room(20));
    CHECK(events.size() == 9);
}

TEST_CASE("atomically: events after commit; rollback restores the graph and emits nothing", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    std::vector<ChangeEvent> events;
    std::size_t seen_during_body = 0;
    f.g.subscribe([&](const ChangeEvent& e) { events.push_back(e); });
    f.g.atomically([&](TwinGraph& g) {
        g.upsert_twin("room-2", room(1));
        g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":5}])"));
        seen_during_body = events.size();
    });
    CHECK(seen_during_body == 0);
    REQUIRE(events.size() == 2);
    CHECK(events[1].sequence == events[0].sequence + 1);

    const json before1 = f.g.get_twin("room-1");
    const Snapshot before = f.g.snapshot();
    CHECK_THROWS_AS(f.g.atomically([&](TwinGraph& g) {
        g.upsert_twin("room-3", room(1));
        g.update_twin("room-1", json::parse(R"([{"op":"replace","path":"/temperature","value":6}])"));
        g.upsert_twin("floor-1", floor_twin(1));
        g.upsert_relationship("floor-1", "r", rel("room-3", "contains"));
        g.delete_twin("room-2");
        throw std::runtime_error("abort");
    }),
                    std::runtime_error);
    CHECK(events.size() == 2);
    CHECK(f.g.twin_count() == 2);
    CHECK(f.g.relationship_count() == 0);
    CHECK(f.g.get_twin("room-1") == before1);
    const Snapshot after = f.g.snapshot();
    CHECK_FALSE(after.contains("room-3"));
    CHECK(after.contains("room-2"));
    CHECK_FALSE(after.contains("floor-1"));
    // Sequence numbers continue without a gap.
    f.g.upsert_twin("room-4", room(1));
    REQUIRE(events.size() == 3);
    CHECK(events[2].sequence == 3);
}

TEST_CASE("a listener may read the graph but not modify it", "[graph]") {
    Fixture f;
    std::string seen;
    bool refused = false;
    f.g.subscribe([&](const ChangeEvent& e) {
        seen = f.g.get_twin(e.twin_id)["$dtId"];
        try {
            f.g.upsert_twin("other", room(1));
        } catch (const UsageError& refusal) {
            refused = std::string(refusal.what()).find("a change listener must not modify the graph") != std::string::npos;
        }
    });
    f.g.upsert_twin("room-1", room(20));
    CHECK(seen == "room-1");
    CHECK(refused);
    CHECK(f.g.twin_count() == 1);
}

// --- reading --------------------------------------------------------------------------

TEST_CASE("get_property and numeric_column read the columns", "[graph]") {
    Fixture f;
    f.g.upsert_twin("room-1", room(20));
    json t = room(22);
    t["humidity"] = 50;
    t["area"] = 12.5;
    f.g.upsert_twin("room-2", t);
    json o = {{"$metadata", {{"$model", "dtmi:test:Office;1"}}}, {"area", 30.0}, {"thermostat", json::object()}};
    f.g.upsert_twin("office-1", o);
    const Snapshot s = f.g.snapshot();
    CHECK(s.get_property("room-2", "humidity") == json(50));
    CHECK_FALSE(s.get_property("room-1", "humidity"));
    CHECK_FALSE(s.get_property("room-1", "thermostat/setpoint"));
    CHECK(error_code([&] { (void)s.get_property("room-1", "colour"); }) == "ValidationFailed");
    CHECK(error_code([&] { (void)s.get_property("nobody", "humidity"); }) == "DigitalTwinNotFound");
    const NumericColumn temps = s.numeric_column("dtmi:test:Room;1", "temperature");
    CHECK(temps.values == std::vector<double>{20.0, 22.0});
    CHECK(temps.twins == std::vector<TwinIndex>{*s.find("room-1"), *s.find("room-2")});
    const NumericColumn areas = s.numeric_column("dtmi:test:Space;1", "area");
    CHECK(areas.values == std::vector<double>{12.5, 30.0});
    CHECK(s.numeric_column("dtmi:test:Space;1", "area", false).twins.empty());
    CHECK(error_code([&] { (void)s.numeric_column("dtmi:test:Room;1", "name"); }) == "ValidationFailed");
    CHECK(error_code([&] { (void)s.numeric_column("dtmi:test:Nope;1", "x"); }) == "ModelNotFound");
}

TEST_CASE("twins, relationships and patches nested beyond the JSON depth limit are refused", "[graph]") {
    Fixture f;
    json deep = 1;
    for (int k = 0; k < 200; ++k) {
        json wrapper = json::array();
        wrapper.push_back(std::move(deep));
        deep = std::move(wrapper);
    }
    const std::string reason = "nests arrays and objects deeper than the limit of 128 levels";
    json twin = room(21.5);
    twin["name"] = deep;
    CHECK(error_code([&] { f.g.upsert_twin("room-1", twin); }) == "ValidationFailed");
    CHECK(error_message([&] { f.g.upsert_twin("room-1", twin); }).find(reason) != std::string::npos);
    CHECK(f.g.twin_count() == 0);

    f.g.upsert_twin("room-1", room(21.5));
    f.g.upsert_twin("floor-1", floor_twin(1));
    const json patch = json::array({{{"op", "add"}, {"path", "/name"}, {"value", deep}}});
    CHECK(error_message([&] { f.g.update_twin("room-1", patch); }).find(reason) != std::string::npos);

    json r = rel("room-1", "contains");
    r["since"] = deep;
    CHECK(error_code([&] { f.g.upsert_relationship("floor-1", "c1", r); }) == "InvalidRelationship");
    CHECK(error_message([&] { f.g.upsert_relationship("floor-1", "c1", r); }).find(reason) != std::string::npos);
    CHECK(f.g.relationship_count() == 0);
}
