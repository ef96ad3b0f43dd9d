// schedule: sets a property of its twins at given times (models/generic/schedule.md).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& schedule() { return *models::builtin_registry().find("schedule"); }

}  // namespace

TEST_CASE("schedule sets the property of every twin exactly at each time", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    REQUIRE(!rooms.empty());
    const std::uint32_t column = test::column_of(g, rooms[0], "temperatureSetpoint");
    const double initial = g.get_property(g.twin_id(rooms[0]), "temperatureSetpoint")->get<double>();
    const scenario::Binding b = test::bind(
        g, "schedule", {{"property", "temperatureSetpoint"}, {"values", json::array({json::array({"PT6H", 20.0}),
                                                                                      json::array({36000, 23.5})})}},
        rooms);
    schedule().check(b);
    scenario::Run run(g, test::run_options());
    auto behaviour = schedule().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(6 * 3600.0 - 1.0);
    CHECK(*run.value(rooms[0], column) == initial);
    run.advance_to(6 * 3600.0);
    for (const graph::TwinIndex t : rooms) CHECK(*run.value(t, test::column_of(g, t, "temperatureSetpoint")) == 20.0);
    run.advance_to(36000.0 - 1.0);
    CHECK(*run.value(rooms[0], column) == 20.0);
    run.advance_to(86400.0);
    for (const graph::TwinIndex t : rooms) CHECK(*run.value(t, test::column_of(g, t, "temperatureSetpoint")) == 23.5);
}

TEST_CASE("schedule refuses bad parameters", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    auto bad = [&](json values) {
        return test::bind(g, "schedule", {{"property", "temperatureSetpoint"}, {"values", std::move(values)}}, rooms);
    };
    CHECK_THROWS_AS(schedule().check(bad(json::array())), scenario::ModelParameterError);
    CHECK_THROWS_AS(schedule().check(bad(json::array({json::array({3600, 20.0}), json::array({60, 21.0})}))),
                    scenario::ModelParameterError);
    CHECK_THROWS_AS(schedule().check(bad(json::array({json::array({-1, 20.0})}))), scenario::ModelParameterError);
    CHECK_THROWS_AS(schedule().check(bad(json::array({json::array({60, "warm"})}))), scenario::ModelParameterError);
    CHECK_THROWS_AS(schedule().check(bad(json::array({json::array({60})}))), scenario::ModelParameterError);
    CHECK_THROWS_AS(schedule().check(test::bind(g, "schedule",
                                                {{"property", "nonexistent"},
                                                 {"values", json::array({json::array({60, 20.0})})}},
                                                rooms)),
                    scenario::ModelParameterError);
}
