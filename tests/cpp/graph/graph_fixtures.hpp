#pragma once
// Models and helpers shared by the graph tests.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::test {

inline std::vector<dtdl::Document> building_models() {
    const char* space = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Space;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"area","schema":"double"}]})";
    const char* thermostat = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Thermostat;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"setpoint","schema":"double","writable":true},
                  {"@type":"Property","name":"mode","schema":"string"}]})";
    const char* room = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Room;1","@type":"Interface",
      "extends":"dtmi:test:Space;1",
      "contents":[
        {"@type":"Property","name":"temperature","schema":"double"},
        {"@type":"Property","name":"humidity","schema":"integer"},
        {"@type":"Property","name":"occupied","schema":"boolean"},
        {"@type":"Property","name":"name","schema":"string"},
        {"@type":"Property","name":"status","schema":{"@type":"Enum","valueSchema":"string",
           "enumValues":[{"name":"ok","enumValue":"ok"},{"name":"alarm","enumValue":"alarm"}]}},
        {"@type":"Property","name":"level","schema":{"@type":"Enum","valueSchema":"integer",
           "enumValues":[{"name":"low","enumValue":1},{"name":"high","enumValue":2}]}},
        {"@type":"Property","name":"settings","schema":{"@type":"Object","fields":[
           {"name":"mode","schema":"string"},{"name":"level","schema":"integer"}]}},
        {"@type":"Property","name":"tags","schema":{"@type":"Map","mapKey":{"name":"k","schema":"string"},
           "mapValue":{"name":"v","schema":"string"}}},
        {"@type":"Property","name":"readings","schema":{"@type":"Array","elementSchema":"double"}},
        {"@type":"Telemetry","name":"reading","schema":"double"},
        {"@type":"Component","name":"thermostat","schema":"dtmi:test:Thermostat;1"}]})";
    const char* office = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Office;1","@type":"Interface",
      "extends":"dtmi:test:Space;1",
      "contents":[
        {"@type":"Property","name":"temperature","schema":"double"},
        {"@type":"Property","name":"name","schema":"string"},
        {"@type":"Component","name":"thermostat","schema":"dtmi:test:Thermostat;1"}]})";
    const char* floor = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Floor;1","@type":"Interface",
      "contents":[
        {"@type":"Property","name":"number","schema":"integer"},
        {"@type":"Relationship","name":"contains","target":"dtmi:test:Space;1",
         "properties":[{"@type":"Property","name":"since","schema":"date"}]},
        {"@type":"Relationship","name":"near"}]})";
    const char* sensor = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:test:Sensor;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"value","schema":"double"},
                  {"@type":"Property","name":"count","schema":"long"},
                  {"@type":"Property","name":"on","schema":"boolean"},
                  {"@type":"Relationship","name":"observes","target":"dtmi:test:Room;1"}]})";
    return {{"space.json", space}, {"thermostat.json", thermostat}, {"room.json", room},
            {"office.json", office}, {"floor.json", floor}, {"sensor.json", sensor}};
}

/// A clock that advances by one second per reading, from 2026-07-01T00:00:00Z.
struct TestClock {
    std::shared_ptr<std::int64_t> ticks = std::make_shared<std::int64_t>(0);
    Timestamp operator()() const {
        return Timestamp{1'782'864'000'000'000'000LL + (*ticks)++ * 1'000'000'000LL};
    }
};

inline graph::TwinGraphOptions test_options() {
    graph::TwinGraphOptions o;
    o.clock = TestClock{};
    return o;
}

inline nlohmann::json room(double temperature) {
    return {{"$metadata", {{"$model", "dtmi:test:Room;1"}}}, {"temperature", temperature}, {"thermostat", nlohmann::json::object()}};
}

inline nlohmann::json floor_twin(int number) {
    return {{"$metadata", {{"$model", "dtmi:test:Floor;1"}}}, {"number", number}};
}

inline nlohmann::json sensor(double value) {
    return {{"$metadata", {{"$model", "dtmi:test:Sensor;1"}}}, {"value", value}};
}

inline nlohmann::json rel(const std::string& target, const std::string& name) {
    return {{"$targetId", target}, {"$relationshipName", name}};
}

inline std::string numbered(std::string prefix, long long k) {
    prefix += std::to_string(k);
    return prefix;
}

}  // namespace twinsim::test
