// availability: failure and repair of equipment (models/generic/availability.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models/generic/availability.hpp"
#include "models_fixtures.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& availability() { return *models::builtin_registry().find("availability"); }

const json chiller_parameters = {{"capacity_property", "coolingCapacity"}, {"state_property", "operatingState"}};

double capacity(const scenario::Run& run, const graph::Snapshot& g, const std::string& id) {
    const graph::TwinIndex t = *g.find(id);
    return *run.value(t, test::column_of(g, t, "coolingCapacity"));
}

json state(const scenario::Run& run, const std::string& id) { return run.graph().get_twin(id)["operatingState"]; }

}  // namespace

TEST_CASE("availability: fail sets capacity 0 and the failed state, the scheduled repair restores both", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    REQUIRE(chillers.size() == 2);
    const scenario::Binding b = test::bind(g, "availability", chiller_parameters, chillers);
    availability().check(b);
    CHECK(availability().events() == std::vector<std::string>{"fail", "repair"});

    scenario::Run run(g, test::run_options());
    auto behaviour = availability().instantiate(b, run);
    CHECK(behaviour->handled_events() == std::vector<std::string>{"fail", "repair"});
    run.start_behaviour(*behaviour);
    const double c1 = capacity(run, g, "chiller-1");
    const double c2 = capacity(run, g, "chiller-2");
    CHECK(c1 == 400.0);
    CHECK(state(run, "chiller-1") == "running");

    run.advance_to(14 * 3600.0);
    CHECK(behaviour->on_event(run, *g.find("chiller-1"), "fail", {{"repairHours", 2.5}}));
    CHECK(capacity(run, g, "chiller-1") == 0.0);
    CHECK(state(run, "chiller-1") == "failed");
    CHECK(capacity(run, g, "chiller-2") == c2);  // the other chiller is untouched
    models::AvailabilityStatistics s = *models::availability_statistics(*behaviour, 0, run.simulator().now());
    CHECK(s.failed);
    CHECK(s.failures == 1);
    REQUIRE(s.repair_due);
    CHECK(*s.repair_due == 16.5 * 3600.0);

    run.advance_to(16.5 * 3600.0 - 1.0);
    CHECK(capacity(run, g, "chiller-1") == 0.0);
    run.advance_to(16.5 * 3600.0);
    CHECK(capacity(run, g, "chiller-1") == c1);
    CHECK(state(run, "chiller-1") == "running");
    s = *models::availability_statistics(*behaviour, 0, run.simulator().now());
    CHECK(!s.failed);
    CHECK(s.repairs == 1);
    CHECK(s.downtime == 2.5 * 3600.0);

    // Events for other twins or of other names are not this behaviour's.
    CHECK_FALSE(behaviour->on_event(run, *g.find("room-00-01"), "fail", json::object()));
    CHECK_FALSE(behaviour->on_event(run, *g.find("chiller-1"), "explode", json::object()));
    // A payload it cannot use is an error naming the twin.
    CHECK_THROWS_WITH(behaviour->on_event(run, *g.find("chiller-2"), "fail", {{"repairHours", "soon"}}),
                      Catch::Contains("chiller-2") && Catch::Contains("repairHours"));
}

TEST_CASE("availability: a repair event cancels the pending scheduled repair; fail/repair are idempotent", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    const graph::TwinIndex c1 = *g.find("chiller-1");
    scenario::Run run(g, test::run_options());
    auto behaviour = availability().instantiate(test::bind(g, "availability", chiller_parameters, chillers), run);
    run.start_behaviour(*behaviour);

    run.advance_to(3600.0);
    behaviour->on_event(run, c1, "fail", {{"repairHours", 5}});  // repair due at 6 h
    run.advance_to(2 * 3600.0);
    behaviour->on_event(run, c1, "fail", json::object());  // already failed: nothing changes
    CHECK(models::availability_statistics(*behaviour, 0, run.simulator().now())->failures == 1);
    behaviour->on_event(run, c1, "repair", json::object());  // early repair: the 6 h one is cancelled
    CHECK(capacity(run, g, "chiller-1") == 400.0);
    CHECK(state(run, "chiller-1") == "running");
    CHECK_FALSE(models::availability_statistics(*behaviour, 0, run.simulator().now())->repair_due);
    behaviour->on_event(run, c1, "repair", json::object());  // not failed: nothing to do
    CHECK(models::availability_statistics(*behaviour, 0, run.simulator().now())->repairs == 1);

    run.advance_to(3 * 3600.0);
    behaviour->on_event(run, c1, "fail", json::object());  // no repair time: stays down until repaired
    run.advance_to(10 * 3600.0);                            // past the cancelled 6 h repair
    CHECK(capacity(run, g, "chiller-1") == 0.0);
    CHECK(state(run, "chiller-1") == "failed");
    const models::AvailabilityStatistics s = *models::availability_statistics(*behaviour, 0, run.simulator().now());
    CHECK(s.failures == 2);
    CHECK(s.repairs == 1);
    CHECK(s.downtime == 1 * 3600.0 + 7 * 3600.0);

    // A second fail with a repair time while down schedules (or moves) the repair.
    behaviour->on_event(run, c1, "fail", {{"repairHours", 1}});
    CHECK(*models::availability_statistics(*behaviour, 0, run.simulator().now())->repair_due == 11 * 3600.0);
    behaviour->on_event(run, c1, "fail", {{"repairHours", 0.5}});
    CHECK(*models::availability_statistics(*behaviour, 0, run.simulator().now())->repair_due == 10.5 * 3600.0);
    run.advance_to(12 * 3600.0);
    CHECK(capacity(run, g, "chiller-1") == 400.0);
    CHECK(models::availability_statistics(*behaviour, 0, run.simulator().now())->repairs == 2);
}

TEST_CASE("availability: an injected failure pre-empts the pending random one; repair_time is used without repairHours", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    const graph::TwinIndex c1 = *g.find("chiller-1");
    json p = chiller_parameters;
    p["mtbf"] = "P365D";
    p["repair_time"] = "PT4H";
    scenario::Run run(g, test::run_options());
    auto behaviour = availability().instantiate(test::bind(g, "availability", p, chillers), run);
    run.start_behaviour(*behaviour);
    models::AvailabilityStatistics s = *models::availability_statistics(*behaviour, 0, 0.0);
    REQUIRE(s.failure_due);
    const double random_failure = *s.failure_due;
    CHECK(random_failure > 60.0);  // (probability ~ 2e-6 of failing for this seed otherwise)

    run.advance_to(60.0);
    behaviour->on_event(run, c1, "fail", json::object());
    s = *models::availability_statistics(*behaviour, 0, run.simulator().now());
    CHECK_FALSE(s.failure_due);               // the random failure was cancelled
    REQUIRE(s.repair_due);
    CHECK(*s.repair_due == 60.0 + 4 * 3600.0);  // repair_time, no repairHours given
    run.advance_to(60.0 + 4 * 3600.0);
    s = *models::availability_statistics(*behaviour, 0, run.simulator().now());
    CHECK_FALSE(s.failed);
    REQUIRE(s.failure_due);  // a new time to failure from the repair
    CHECK(*s.failure_due > run.simulator().now());
    CHECK(*s.failure_due != random_failure);
}

TEST_CASE("availability with MTBF and exponential repairs: unavailability MTTR / (MTBF + MTTR)", "[models]") {
    const int n = 50;
    const graph::Snapshot g =
        test::fleet(test::chiller_model, "chiller", n, {{"coolingCapacity", 300.0}, {"operatingState", "standby"}});
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    const double mtbf = 1000.0;
    const double mttr = 250.0;
    const json p = {{"capacity_property", "coolingCapacity"},
                    {"state_property", "operatingState"},
                    {"mtbf", mtbf},
                    {"repair_time", mttr},
                    {"repair_distribution", "exponential"}};
    availability().check(test::bind(g, "availability", p, chillers));
    scenario::Run run(g, test::run_options(3));
    auto behaviour = availability().instantiate(test::bind(g, "availability", p, chillers), run);
    run.start_behaviour(*behaviour);
    const double horizon = 400'000.0;  // ~320 cycles per chiller, 16,000 in all
    run.advance_to(horizon);
    double downtime = 0.0;
    std::uint64_t failures = 0;
    for (int i = 0; i < n; ++i) {
        const models::AvailabilityStatistics s = *models::availability_statistics(*behaviour, static_cast<std::size_t>(i), horizon);
        downtime += s.downtime;
        failures += s.failures;
        // Working twins hold their own values again; failed ones read 0 and "failed".
        const graph::TwinIndex t = chillers[static_cast<std::size_t>(i)];
        CHECK(*run.value(t, test::column_of(g, t, "coolingCapacity")) == (s.failed ? 0.0 : 300.0));
        CHECK(run.graph().get_twin(g.twin_id(t))["operatingState"] == (s.failed ? "failed" : "standby"));
    }
    const double unavailability = downtime / (n * horizon);
    const double theory = mttr / (mtbf + mttr);  // 0.2
    const double cycles = n * horizon / (mtbf + mttr);
    INFO("unavailability " << unavailability << " (theory " << theory << "), failures " << failures << " (expected ~"
                           << cycles << ")");
    CHECK(unavailability == Approx(theory).epsilon(0.04));
    CHECK(static_cast<double>(failures) == Approx(cycles).epsilon(0.04));
}

TEST_CASE("availability refuses bad parameters, naming the parameter", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    auto error = [&](const json& parameters) {
        return test::parameter_error([&] { availability().check(test::bind(g, "availability", parameters, chillers)); });
    };
    auto with = [&](const std::string& key, const json& value) {
        json p = chiller_parameters;
        p[key] = value;
        return p;
    };
    CHECK(error(chiller_parameters).empty());
    CHECK(error(json{{"capacity_property", "coolingCapacity"}}).empty());
    CHECK(error(with("failed_state", "maintenance")).empty());
    CHECK(error(with("repair_time", "PT2H")).empty());
    CHECK(error(with("mtbf", "${mtbf}")).empty());
    CHECK(error(json{{"state_property", "operatingState"}}) == "capacity_property");
    CHECK(error(with("capacity_property", "manufacturer")) == "capacity_property");
    CHECK(error(with("capacity_property", "flowRate")) == "capacity_property");  // a pump's, not a chiller's
    CHECK(error(with("state_property", "status")) == "state_property");
    CHECK(error(with("failed_state", "broken")) == "failed_state");  // not an OperatingState value
    CHECK(error(with("repair_time", -1)) == "repair_time");
    CHECK(error(with("repair_distribution", "weibull")) == "repair_distribution");
    CHECK(error(with("repair_distribution", "exponential")) == "repair_distribution");  // needs repair_time
    CHECK(error(with("mtbf", 0)) == "mtbf");
    CHECK(error(with("mttr", 3600)) == "mttr");
}

TEST_CASE("the built-in registry holds relaxation, queue and availability", "[models]") {
    const scenario::ModelRegistry& r = models::builtin_registry();
    CHECK(&r == &models::builtin_registry());
    std::vector<std::string> names;
    for (const scenario::BehaviourModel* m : r.list()) {
        names.emplace_back(m->name());
        CHECK_FALSE(m->description().empty());
        for (const scenario::ModelParameter& p : m->parameters()) CHECK_FALSE(p.description.empty());
    }
    CHECK(names == std::vector<std::string>{"availability", "maintenance", "predicted_failures", "production_line",
                                           "queue", "relaxation", "rules", "schedule", "thermal_zones"});
    scenario::ModelRegistry mine;
    models::register_builtin_models(mine);
    CHECK_THROWS_AS(models::register_builtin_models(mine), std::invalid_argument);
}
