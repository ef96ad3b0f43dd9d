#pragma once
// A small building for the query and expression tests (models from
// tests/cpp/graph/graph_fixtures.hpp):
//
//   floor-1 (number 1) -contains-> room-1 (21.5, humidity 40, name "Lab", occupied)
//                      -contains-> room-2 (25, humidity 55, name "lobby", settings {mode eco, level 2})
//                      -contains-> office-1 (Office, 23, name "Corner")
//           -near-> floor-2
//   floor-2 (number 2) -contains-> room-3 (no temperature, readings [1, 2.5])
//   sensor-1 (value 3, count 7, on) -observes-> room-1
//   sensor-2 (value 9.5) -observes-> room-2
// contains relationships of floor-1 carry "since" on room-1 ("2020-01-01") and room-2 ("2021-06-01").

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../graph/graph_fixtures.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::test {

inline void build_query_building(graph::TwinGraph& g) {
    using nlohmann::json;
    auto docs = building_models();
    g.add_models(docs);
    g.upsert_twin("floor-1", floor_twin(1));
    g.upsert_twin("floor-2", floor_twin(2));
    json r1 = room(21.5);
    r1["humidity"] = 40;
    r1["name"] = "Lab";
    r1["occupied"] = true;
    r1["thermostat"] = {{"setpoint", 20.0}, {"mode", "auto"}};
    g.upsert_twin("room-1", r1);
    json r2 = room(25);
    r2["humidity"] = 55;
    r2["name"] = "lobby";
    r2["settings"] = {{"mode", "eco"}, {"level", 2}};
    r2["tags"] = {{"wing", "east"}};
    g.upsert_twin("room-2", r2);
    json r3 = {{"$metadata", {{"$model", "dtmi:test:Room;1"}}}, {"thermostat", json::object()}, {"readings", {1, 2.5}}};
    g.upsert_twin("room-3", r3);
    g.upsert_twin("office-1", {{"$metadata", {{"$model", "dtmi:test:Office;1"}}},
                               {"temperature", 23.0},
                               {"name", "Corner"},
                               {"thermostat", json::object()}});
    json s1 = sensor(3);
    s1["count"] = 7;
    s1["on"] = true;
    g.upsert_twin("sensor-1", s1);
    g.upsert_twin("sensor-2", sensor(9.5));
    json c1 = rel("room-1", "contains");
    c1["since"] = "2020-01-01";
    g.upsert_relationship("floor-1", "c1", c1);
    json c2 = rel("room-2", "contains");
    c2["since"] = "2021-06-01";
    g.upsert_relationship("floor-1", "c2", c2);
    g.upsert_relationship("floor-1", "c3", rel("office-1", "contains"));
    g.upsert_relationship("floor-2", "c4", rel("room-3", "contains"));
    g.upsert_relationship("floor-1", "n1", rel("floor-2", "near"));
    g.upsert_relationship("sensor-1", "o1", rel("room-1", "observes"));
    g.upsert_relationship("sensor-2", "o2", rel("room-2", "observes"));
}

/// The $dtId of each row (rows that are twins).
inline std::vector<std::string> ids(const std::vector<nlohmann::json>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.at("$dtId").get<std::string>());
    return out;
}

/// The $dtId of member `alias` of each row.
inline std::vector<std::string> ids(const std::vector<nlohmann::json>& rows, const std::string& alias) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.at(alias).at("$dtId").get<std::string>());
    return out;
}

}  // namespace twinsim::test
