// The built-in models on the what-if path: a scenario file binds them, prepare()
// checks their parameters (errors name the file, line and field), a Run of the
// prepared scenario starts them, delivers injected events and records what they do.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const std::string scenario_text = R"yaml(name: models-e2e
base: building.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT24H
step: PT5M
seed: 9
parameters:
  down_hours: 2
events:
  - {at: PT14H, event: fail, twin: chiller-1, data: {repairHours: "${down_hours}"}}
models:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState}
  - model: relaxation
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {property: temperature, target: 30, time_constant: PT2H}
  - model: queue
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0"
    parameters: {property: occupancy, arrival_rate: 2, mean_service: PT1H, servers: capacity, max_in_system: capacity}
recording:
  series:
    - where: "$dtId = 'chiller-1'"
      properties: [coolingCapacity]
      on_change: true
  events: true
kpis:
  - name: chiller-1 hours down
    statistic: time_below
    where: "$dtId = 'chiller-1'"
    property: coolingCapacity
    threshold: 1
  - name: final temperature
    statistic: final
    where: "$dtId = 'room-00-01'"
    property: temperature
)yaml";

}  // namespace

TEST_CASE("the built-in models run a scenario: failure and repair logged, values recorded, KPIs exact", "[models]") {
    const graph::Snapshot& base = test::sample_building();
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(scenario_text, "e2e.yaml"), base,
                                            models::builtin_registry());
    scenario::Run run(prepared, 0);
    run.run_to_end();
    const scenario::RunRecord record = run.finish();
    CHECK(record.end_time == 24 * 3600.0);

    auto find = [&](const std::string& type) {
        return std::find_if(record.events.begin(), record.events.end(), [&](const io::EventRecord& e) { return e.type == type; });
    };
    const auto failure = find("failure");
    REQUIRE(failure != record.events.end());
    CHECK(failure->twin == "chiller-1");
    CHECK(failure->time == 14 * 3600.0);
    const json detail = json::parse(failure->detail_json);
    CHECK(detail["capacity"] == 400.0);
    CHECK(detail["repair_after_s"] == 7200.0);
    CHECK(detail["cause"] == "event");
    const auto repair = find("repair");
    REQUIRE(repair != record.events.end());
    CHECK(repair->twin == "chiller-1");
    CHECK(repair->time == 16 * 3600.0);
    CHECK(json::parse(repair->detail_json)["downtime_s"] == 7200.0);
    CHECK(std::count_if(record.events.begin(), record.events.end(),
                        [](const io::EventRecord& e) { return e.type == "failure" || e.type == "repair"; }) == 2);

    // One queue summary per room with capacity > 0 (54), at the horizon; nothing per customer.
    std::size_t summaries = 0;
    std::uint64_t arrivals = 0;
    for (const io::EventRecord& e : record.events) {
        if (e.type != "queue_summary") continue;
        ++summaries;
        CHECK(e.time == 24 * 3600.0);
        const json d = json::parse(e.detail_json);
        arrivals += d["arrivals"].get<std::uint64_t>();
        CHECK(d["in_system"].get<std::int64_t>() <= d["servers"].get<std::int64_t>());
    }
    CHECK(summaries == 54);  // 61 rooms, 7 of them (plant, corridors...) with capacity 0
    CHECK(static_cast<double>(arrivals) == Approx(54 * 2 * 24).epsilon(0.1));
    CHECK(record.events.size() == 1 + 2 + summaries);  // the injected "fail", failure, repair, summaries

    // chiller-1's coolingCapacity, on change: 400 at 0, 0 at 14 h, 400 at 16 h.
    REQUIRE(record.changes.size() == 1);
    const auto& changes = record.changes[0];
    REQUIRE(changes.size() == 3);
    CHECK((changes[0].time == 0.0 && changes[0].value == 400.0));
    CHECK((changes[1].time == 14 * 3600.0 && changes[1].value == 0.0));
    CHECK((changes[2].time == 16 * 3600.0 && changes[2].value == 400.0));

    REQUIRE(record.kpis.size() == 2);
    CHECK(record.kpis[0].value == Approx(2.0).margin(1e-12));  // hours below 1 kW
    const double x0 = 20.43;                                   // room-00-01 in building.ndjson
    const double exact = 30.0 + (x0 - 30.0) * std::exp(-24.0 / 2.0);
    CHECK(std::abs(record.kpis[1].value - exact) <= 1e-12 * exact);
    CHECK(run.graph().get_twin("chiller-1")["operatingState"] == "running");
}

TEST_CASE("prepare() refuses a bad built-in model parameter naming file, line and field", "[models]") {
    const graph::Snapshot& base = test::sample_building();
    auto refuse = [&](const std::string& from, const std::string& to) -> std::string {
        std::string text = scenario_text;
        REQUIRE(text.find(from) != std::string::npos);
        text.replace(text.find(from), from.size(), to);
        try {
            (void)scenario::prepare(scenario::scenario_from_yaml(text, "bad.yaml"), base, models::builtin_registry());
        } catch (const scenario::ScenarioError& e) {
            return std::to_string(e.line()) + " " + e.field() + ": " + e.reason();
        }
        return "accepted";
    };
    CHECK_THAT(refuse("time_constant: PT2H", "time_constant: -1"),
               Catch::StartsWith("17 models[1].parameters.time_constant: must be > 0"));
    CHECK_THAT(refuse("state_property: operatingState", "state_property: operatingState, failed_state: broken"),
               Catch::StartsWith("14 models[0].parameters.failed_state:"));
    CHECK_THAT(refuse("servers: capacity,", "servers: name,"), Catch::StartsWith("20 models[2].parameters.servers:"));
    CHECK_THAT(refuse("target: 30,", "target: 30, tau: 5,"), Catch::StartsWith("17 models[1].parameters.tau: unknown parameter"));
}

TEST_CASE("scenarios of a job share random numbers: occupancy is the same whatever else a scenario binds", "[models]") {
    const graph::Snapshot& base = test::sample_building();
    const std::string head = R"yaml(name: crn
base: building.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT12H
seed: 5
parameters:
  rate: {distribution: uniform, low: 1, high: 3}
)yaml";
    const std::string queue = R"yaml(  - model: queue
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0"
    parameters: {property: occupancy, arrival_rate: "${rate}", mean_service: PT1H, servers: capacity, max_in_system: capacity}
)yaml";
    const std::string tail = R"yaml(recording:
  series:
    - {where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0", properties: [occupancy], on_change: true}
)yaml";
    // A: occupancy alone. B: a chiller model bound (and failing) before the queue.
    const std::string a = head + "models:\n" + queue + tail;
    const std::string b = head + "events:\n  - {at: PT3H, event: fail, twin: chiller-1}\nmodels:\n"
                                 "  - model: availability\n    where: \"IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')\"\n"
                                 "    parameters: {capacity_property: coolingCapacity, mtbf: PT5H, repair_time: PT1H}\n" +
                          queue + tail;
    auto occupancy = [&](const std::string& text, std::uint32_t index, std::uint32_t replication) {
        const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "crn.yaml"), base,
                                                models::builtin_registry(), index);
        scenario::Run run(prepared, replication);
        run.run_to_end();
        const scenario::RunRecord r = run.finish();
        std::vector<std::tuple<double, std::uint32_t, double>> out;
        for (const auto& c : r.changes.at(0)) out.emplace_back(c.time, c.twin, c.value);
        return std::pair{out, r.parameters};
    };
    const auto [a0, pa] = occupancy(a, 0, 0);
    REQUIRE(a0.size() > 200);
    // The same scenario at another position of a job: the same draws.
    CHECK(occupancy(a, 7, 0).first == a0);
    // Another scenario with the same seed: the same arrival rate and the same people, although
    // it binds a model before the queue that draws random failures.
    const auto [b0, pb] = occupancy(b, 1, 0);
    CHECK(pb["rate"] == pa["rate"]);
    CHECK(b0 == a0);
    // Another replication: other draws.
    CHECK(occupancy(a, 0, 1).first != a0);
}
