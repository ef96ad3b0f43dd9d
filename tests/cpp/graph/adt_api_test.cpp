// graph::adt: the ADT data-plane behaviour every front end shares — match
// conditions, the dependenciesFor closure, model data, components.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/adt_api.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
using adt::MatchCondition;

namespace {

struct Fixture {
    TwinGraph g{test::test_options()};
    Fixture() {
        auto docs = test::building_models();
        g.add_models(docs);
        g.upsert_twin("room-1", test::room(21.0));
    }
};

/// The code and message of the GraphError `f` throws ("no error" when none).
template <class F>
std::pair<std::string, std::string> error_of(F&& f) {
    try {
        f();
    } catch (const GraphError& e) {
        return {e.code(), e.what()};
    }
    return {"no error", ""};
}

std::vector<std::string> ids(const std::vector<ModelInfo>& models) {
    std::vector<std::string> out;
    for (const auto& m : models) out.push_back(m.id);
    return out;
}

}  // namespace

TEST_CASE("adt: match condition names are the SDK's", "[adt_api]") {
    for (const char* name : {"Unconditionally", "IfNotModified", "IfModified", "IfPresent", "IfMissing"}) {
        const auto c = adt::parse_match_condition(name);
        REQUIRE(c);
        CHECK(std::string(adt::to_string(*c)) == name);
    }
    CHECK(adt::parse_match_condition("IfMissing") == MatchCondition::if_missing);
    CHECK_FALSE(adt::parse_match_condition("ifmissing"));
    CHECK_FALSE(adt::parse_match_condition(""));
}

TEST_CASE("adt: match conditions become the graph's write conditions", "[adt_api]") {
    const std::optional<std::string> etag = "W/\"0000000000000001\"";
    SECTION("upserts") {
        CHECK_FALSE(adt::upsert_condition(MatchCondition::unconditionally, etag).if_match);
        CHECK(adt::upsert_condition(MatchCondition::if_not_modified, etag).if_match == etag);
        CHECK(adt::upsert_condition(MatchCondition::if_present, std::nullopt).if_match == "*");
        const WriteCondition missing = adt::upsert_condition(MatchCondition::if_missing, std::nullopt);
        CHECK(missing.if_none_match);
        CHECK_FALSE(missing.if_match);
        // No condition: IfNotModified when an etag is given, else unconditional.
        CHECK(adt::upsert_condition(std::nullopt, etag).if_match == etag);
        const WriteCondition none = adt::upsert_condition(std::nullopt, std::nullopt);
        CHECK_FALSE(none.if_match);
        CHECK_FALSE(none.if_none_match);
    }
    SECTION("updates and deletes") {
        CHECK_FALSE(adt::if_match(MatchCondition::unconditionally, etag));
        CHECK(adt::if_match(MatchCondition::if_not_modified, etag) == etag);
        CHECK(adt::if_match(MatchCondition::if_present, std::nullopt) == "*");
        CHECK(adt::if_match(std::nullopt, etag) == etag);
        CHECK_FALSE(adt::if_match(std::nullopt, std::nullopt));
    }
    SECTION("refused combinations name the condition") {
        auto e = error_of([&] { (void)adt::if_match(MatchCondition::if_not_modified, std::nullopt); });
        CHECK(e.first == "InvalidArgument");
        CHECK_THAT(e.second, Catch::Contains("etag must be provided") && Catch::Contains("IfNotModified"));
        e = error_of([&] { (void)adt::if_match(MatchCondition::if_missing, etag); });
        CHECK(e.first == "InvalidArgument");
        CHECK_THAT(e.second, Catch::Contains("IfMissing") && Catch::Contains("upserts"));
        e = error_of([&] { (void)adt::upsert_condition(MatchCondition::if_modified, etag); });
        CHECK_THAT(e.second, Catch::Contains("IfModified"));
        CHECK_THROWS_AS(adt::if_match(MatchCondition::if_modified, etag), ValidationError);
    }
}

TEST_CASE("adt: conditions applied to the graph", "[adt_api]") {
    Fixture f;
    const std::string etag = f.g.get_twin("room-1")["$etag"];
    const json patch = json::array({{{"op", "replace"}, {"path", "/temperature"}, {"value", 22.0}}});

    SECTION("IfNotModified with a stale etag fails with PreconditionFailed") {
        f.g.update_twin("room-1", patch, adt::if_match(MatchCondition::if_not_modified, etag));
        const auto e = error_of(
            [&] { f.g.update_twin("room-1", patch, adt::if_match(MatchCondition::if_not_modified, etag)); });
        CHECK(e.first == "PreconditionFailed");
        CHECK_THAT(e.second, Catch::Contains("room-1") && Catch::Contains(etag));
        CHECK_THROWS_AS(f.g.delete_twin("room-1", adt::if_match(MatchCondition::if_not_modified, etag)), ConflictError);
        CHECK(f.g.find("room-1"));
    }
    SECTION("IfMissing on an existing twin is DigitalTwinAlreadyExists and changes nothing") {
        const auto e = error_of([&] {
            f.g.upsert_twin("room-1", test::room(30.0), adt::upsert_condition(MatchCondition::if_missing, std::nullopt));
        });
        CHECK(e.first == "DigitalTwinAlreadyExists");
        CHECK_THAT(e.second, Catch::Contains("room-1"));
        CHECK(f.g.get_twin("room-1")["temperature"] == 21.0);
        CHECK(f.g.get_twin("room-1")["$etag"] == etag);
        // ... and creates a new one.
        f.g.upsert_twin("room-2", test::room(30.0), adt::upsert_condition(MatchCondition::if_missing, std::nullopt));
        CHECK(f.g.get_twin("room-2")["temperature"] == 30.0);
    }
    SECTION("IfPresent needs the twin to exist") {
        const auto e = error_of([&] {
            f.g.upsert_twin("room-9", test::room(30.0), adt::upsert_condition(MatchCondition::if_present, std::nullopt));
        });
        CHECK(e.first == "PreconditionFailed");
        CHECK_FALSE(f.g.find("room-9"));
        f.g.upsert_twin("room-1", test::room(25.0), adt::upsert_condition(MatchCondition::if_present, std::nullopt));
        CHECK(f.g.get_twin("room-1")["temperature"] == 25.0);
    }
    SECTION("Unconditionally ignores a stale etag") {
        f.g.update_twin("room-1", patch);
        f.g.update_twin("room-1", patch, adt::if_match(MatchCondition::unconditionally, etag));
        CHECK(f.g.get_twin("room-1")["temperature"] == 22.0);
    }
}

TEST_CASE("adt: dependenciesFor is the transitive closure of bases and components", "[adt_api]") {
    Fixture f;
    const Snapshot s = f.g.snapshot();
    // Room extends Space and has a Thermostat component.
    const std::vector<std::string> room{"dtmi:test:Room;1"};
    CHECK(ids(adt::dependencies_for(s, room)) ==
          std::vector<std::string>{"dtmi:test:Room;1", "dtmi:test:Space;1", "dtmi:test:Thermostat;1"});
    // Floor's relationship target (Space) is not a dependency.
    const std::vector<std::string> floor{"dtmi:test:Floor;1"};
    CHECK(ids(adt::dependencies_for(s, floor)) == std::vector<std::string>{"dtmi:test:Floor;1"});
    // Several ids: the union, each once, in list_models' order.
    const std::vector<std::string> both{"dtmi:test:Office;1", "dtmi:test:Room;1"};
    CHECK(ids(adt::dependencies_for(s, both)) ==
          std::vector<std::string>{"dtmi:test:Office;1", "dtmi:test:Room;1", "dtmi:test:Space;1",
                                   "dtmi:test:Thermostat;1"});
    CHECK(adt::dependencies_for(s, std::vector<std::string>{}).empty());

    SECTION("a deeper chain is followed to its root") {
        const std::vector<dtdl::Document> more{
            {"lab.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Lab;1","@type":"Interface",
               "extends":"dtmi:test:Room;1"})"}};
        f.g.add_models(more);
        const std::vector<std::string> lab{"dtmi:test:Lab;1"};
        CHECK(ids(adt::dependencies_for(f.g.snapshot(), lab)) ==
              std::vector<std::string>{"dtmi:test:Lab;1", "dtmi:test:Room;1", "dtmi:test:Space;1",
                                       "dtmi:test:Thermostat;1"});
    }
    SECTION("a missing model is ModelNotFound naming it") {
        const std::vector<std::string> missing{"dtmi:test:Room;1", "dtmi:test:Nowhere;1"};
        const auto e = error_of([&] { (void)adt::dependencies_for(s, missing); });
        CHECK(e.first == "ModelNotFound");
        CHECK_THAT(e.second, Catch::Contains("dtmi:test:Nowhere;1"));
    }
}

TEST_CASE("adt: model data has ADT's shape", "[adt_api]") {
    TwinGraph g(test::test_options());
    const std::vector<dtdl::Document> docs{
        {"a.json", R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:A;1","@type":"Interface",
           "displayName":"Pump","description":{"en":"A pump","de":"Eine Pumpe"}})"}};
    g.add_models(docs);
    const ModelInfo info = g.snapshot().get_model("dtmi:test:A;1");
    const json data = adt::model_data(info);
    CHECK(data["id"] == "dtmi:test:A;1");
    CHECK(data["displayName"] == json{{"en", "Pump"}});
    CHECK(data["description"] == json{{"en", "A pump"}, {"de", "Eine Pumpe"}});
    CHECK(data["uploadTime"] == "2026-07-01T00:00:00.0000000Z");
    CHECK(data["decommissioned"] == false);
    CHECK_FALSE(data.contains("model"));
    CHECK(adt::model_data(info, true)["model"] == info.definition);
    g.decommission_model("dtmi:test:A;1");
    CHECK(adt::model_data(g.snapshot().get_model("dtmi:test:A;1"))["decommissioned"] == true);
}

TEST_CASE("adt: get_component and update_component", "[adt_api]") {
    Fixture f;
    adt::update_component(f.g, "room-1", "thermostat",
                          json::array({{{"op", "add"}, {"path", "/setpoint"}, {"value", 20.5}}}));
    const json component = adt::get_component(f.g.snapshot(), "room-1", "thermostat");
    CHECK(component["setpoint"] == 20.5);
    CHECK(component["$metadata"]["setpoint"].contains("lastUpdateTime"));

    SECTION("the etag is the twin's") {
        const std::string etag = f.g.get_twin("room-1")["$etag"];
        const json patch = json::array({{{"op", "replace"}, {"path", "/setpoint"}, {"value", 19.0}}});
        adt::update_component(f.g, "room-1", "thermostat", patch, etag);
        CHECK(error_of([&] { adt::update_component(f.g, "room-1", "thermostat", patch, etag); }).first ==
              "PreconditionFailed");
        CHECK(adt::get_component(f.g.snapshot(), "room-1", "thermostat")["setpoint"] == 19.0);
    }
    SECTION("a missing component is ComponentNotFound naming twin and component") {
        for (const char* name : {"temperature", "nothing"}) {  // a property is not a component either
            auto e = error_of([&] { (void)adt::get_component(f.g.snapshot(), "room-1", name); });
            CHECK(e.first == "ComponentNotFound");
            CHECK_THAT(e.second, Catch::Contains("room-1") && Catch::Contains(name));
            const std::string before = f.g.get_twin("room-1")["$etag"];
            e = error_of([&] {
                adt::update_component(f.g, "room-1", name, json::array({{{"op", "add"}, {"path", "/x"}, {"value", 1}}}));
            });
            CHECK(e.first == "ComponentNotFound");
            CHECK(f.g.get_twin("room-1")["$etag"] == before);
        }
        CHECK_THROWS_AS(adt::get_component(f.g.snapshot(), "room-1", "nothing"), NotFoundError);
    }
    SECTION("a missing twin is DigitalTwinNotFound") {
        CHECK(error_of([&] { (void)adt::get_component(f.g.snapshot(), "nobody", "thermostat"); }).first ==
              "DigitalTwinNotFound");
        CHECK(error_of([&] { adt::update_component(f.g, "nobody", "thermostat", json::array()); }).first ==
              "DigitalTwinNotFound");
    }
    SECTION("paths are prefixed; malformed operations are left for update_twin to report") {
        const json p = adt::component_patch("thermostat", json::array({{{"op", "add"}, {"path", "/setpoint"}, {"value", 1}},
                                                                       {{"op", "remove"}},
                                                                       json(3)}));
        CHECK(p[0]["path"] == "/thermostat/setpoint");
        CHECK_FALSE(p[1].contains("path"));
        CHECK(p[2] == 3);
        CHECK(error_of([&] { adt::update_component(f.g, "room-1", "thermostat", json::array({json(3)})); }).first ==
              "JsonPatchInvalid");
    }
}
