// thermal_zones: the building's rooms as an RC network with HVAC (models/building/thermal.md),
// checked against analytic solutions, its own energy balance and the chiller-failure what-if.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "models/building/thermal.hpp"
#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& thermal() { return *models::builtin_registry().find("thermal_zones"); }
const scenario::BehaviourModel& availability() { return *models::builtin_registry().find("availability"); }

struct RoomSpec {
    std::string id;
    double area;
    double volume;
    double t0;
    double equipment;
};

/// Rooms on one level (isPartOf level-0), no HVAC.
graph::Snapshot rooms_on_level(const std::vector<RoomSpec>& rooms) {
    graph::TwinGraph g;
    g.add_models(test::building_interfaces());
    g.upsert_twin("level-0", {{"$metadata", {{"$model", "dtmi:twinsim:building:Level;1"}}}, {"levelNumber", 0}});
    for (const RoomSpec& r : rooms) {
        g.upsert_twin(r.id, {{"$metadata", {{"$model", test::room_model}}},
                             {"area", r.area},
                             {"airVolume", r.volume},
                             {"temperature", r.t0},
                             {"temperatureSetpoint", 22.0},
                             {"occupancy", 0},
                             {"lightingPower", 0.0},
                             {"equipmentHeatGain", r.equipment}});
        g.upsert_relationship(r.id, "isPartOf-1", {{"$targetId", "level-0"}, {"$relationshipName", "isPartOf"}});
    }
    return g.snapshot();
}

/// Constant weather at 20 degC, no sun; `extra` overrides.
json constant_conditions(const json& extra) {
    json p = {{"outdoor_mean", 20.0}, {"outdoor_amplitude", 0.0}, {"solar_peak", 0.0}, {"step", 300}};
    for (const auto& [k, v] : extra.items()) p[k] = v;
    return p;
}

double temperature(const scenario::Run& run, const graph::Snapshot& g, graph::TwinIndex t) {
    return *run.value(t, test::column_of(g, t, "temperature"));
}

/// (gains - cooling - loss - stored) relative to the largest term.
double imbalance(const models::ThermalStatistics& s) {
    const double scale = std::max({std::abs(s.gains), std::abs(s.cooling), std::abs(s.outdoor_loss), std::abs(s.stored)});
    return std::abs(s.gains - s.cooling - s.outdoor_loss - s.stored) / scale;
}

/// A bare run of thermal_zones (binding 1) beside availability on the chillers (binding 0).
struct BuildingRun {
    const graph::Snapshot& g = test::sample_building();
    std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    scenario::Binding thermal_binding, availability_binding;
    scenario::Run run{g, test::run_options()};
    std::unique_ptr<scenario::Behaviour> avail, zones;

    explicit BuildingRun(const json& parameters) {
        availability_binding = test::bind(g, "availability", {{"capacity_property", "coolingCapacity"}}, chillers, 0);
        thermal_binding = test::bind(g, "thermal_zones", parameters, rooms, 1);
        thermal().check(thermal_binding);
        avail = availability().instantiate(availability_binding, run);
        zones = thermal().instantiate(thermal_binding, run);
        run.start_behaviour(*avail);
        run.start_behaviour(*zones);
    }
    void fail(const std::string& chiller, const json& data = json::object()) {
        REQUIRE(avail->on_event(run, *g.find(chiller), "fail", data));
    }
    [[nodiscard]] models::ThermalStatistics stats() const { return *models::thermal_statistics(*zones); }
    [[nodiscard]] double t(const std::string& room) const { return temperature(run, g, *g.find(room)); }
};

}  // namespace

TEST_CASE("thermal_zones: one zone follows the analytic exponential response", "[models]") {
    const graph::Snapshot g = rooms_on_level({{"room-a", 20.0, 50.0, 22.0, 400.0}});
    const std::vector<graph::TwinIndex> zone = test::twins_of(g, test::room_model);
    const double ua = 2.0 * 20.0, t_out = 20.0, gain = 400.0, x0 = 22.0;

    SECTION("air node only: T = T_ss + (T0 - T_ss) exp(-t UA / C)") {
        for (const char* integrator : {"exact", "implicit"}) {
            const scenario::Binding b = test::bind(
                g, "thermal_zones",
                constant_conditions({{"mass_capacity", 0}, {"ua_per_area", 2.0}, {"integrator", integrator}}), zone);
            thermal().check(b);
            scenario::Run run(g, test::run_options());
            auto behaviour = thermal().instantiate(b, run);
            run.start_behaviour(*behaviour);
            const double c = 50.0 * 1206.0, tss = t_out + gain / ua;
            double worst = 0.0;
            for (int k = 0; k <= 48; ++k) {  // 4 h, 5-minute steps
                run.advance_to(300.0 * k);
                const double exact = tss + (x0 - tss) * std::exp(-300.0 * k * ua / c);
                worst = std::max(worst, std::abs(temperature(run, g, zone[0]) - exact) / exact);
            }
            const models::ThermalStatistics s = *models::thermal_statistics(*behaviour);
            INFO(integrator << ": worst relative error " << worst << ", energy imbalance " << imbalance(s));
            std::cout << "[thermal] one air node, " << integrator << ": worst relative error " << worst << "\n";
            CHECK(s.integrator == integrator);
            if (std::string(integrator) == "exact")
                CHECK(worst < 1e-6);
            else
                CHECK(worst < 2e-2);  // backward Euler: first order in dt / tau (here 0.2)
            CHECK(imbalance(s) < 1e-9);
        }
    }

    SECTION("air and mass nodes: the two-exponential solution of the 2x2 system") {
        const double ca = 50.0 * 1206.0, cm = 100000.0 * 20.0, h = ua, hm = 22.75 * 20.0, rf = 0.5;
        const scenario::Binding b = test::bind(g, "thermal_zones", constant_conditions({{"ua_per_area", 2.0}}), zone);
        scenario::Run run(g, test::run_options());
        auto behaviour = thermal().instantiate(b, run);
        run.start_behaviour(*behaviour);
        // dx/dt = M x + f, x = (T_air, T_mass); steady state: T_air = T_out + G/h, T_mass = T_air + rf G / hm.
        const double a11 = -(h + hm) / ca, a12 = hm / ca, a21 = hm / cm, a22 = -hm / cm;
        const double tr = a11 + a22, det = a11 * a22 - a12 * a21, disc = std::sqrt(tr * tr / 4.0 - det);
        const double l1 = tr / 2.0 + disc, l2 = tr / 2.0 - disc;
        const double sa = t_out + gain / h, sm = sa + rf * gain / hm;
        // Eigenvectors (a12, l - a11); x0 - x_ss = c1 v1 + c2 v2.
        const double v1a = a12, v1m = l1 - a11, v2a = a12, v2m = l2 - a11;
        const double da = x0 - sa, dm = x0 - sm, dv = v1a * v2m - v2a * v1m;
        const double c1 = (da * v2m - v2a * dm) / dv, c2 = (v1a * dm - da * v1m) / dv;
        double worst_air = 0.0, worst_mass = 0.0;
        for (int k = 0; k <= 288; ++k) {  // one day
            const double t = 300.0 * k;
            run.advance_to(t);
            const double air = sa + c1 * v1a * std::exp(l1 * t) + c2 * v2a * std::exp(l2 * t);
            const double mass = sm + c1 * v1m * std::exp(l1 * t) + c2 * v2m * std::exp(l2 * t);
            worst_air = std::max(worst_air, std::abs(temperature(run, g, zone[0]) - air) / air);
            worst_mass = std::max(worst_mass,
                                  std::abs(models::thermal_statistics(*behaviour)->mass_temperature[0] - mass) / mass);
        }
        std::cout << "[thermal] air + mass node, exact: worst relative error air " << worst_air << ", mass "
                  << worst_mass << "\n";
        CHECK(worst_air < 1e-6);
        CHECK(worst_mass < 1e-6);
    }
}

TEST_CASE("thermal_zones: the energy balance closes over a run (heat in = stored + out)", "[models]") {
    for (const char* integrator : {"exact", "implicit"}) {
        BuildingRun r({{"integrator", integrator}, {"step", 300}});
        r.run.advance_to(14 * 3600.0);
        r.fail("chiller-1", {{"repairHours", 2}});
        r.run.advance_to(24 * 3600.0);
        const models::ThermalStatistics s = r.stats();
        std::cout << "[thermal] building day, " << integrator << ": gains " << s.gains / 3.6e6 << " kWh, cooling "
                  << s.cooling / 3.6e6 << " kWh, outdoor loss " << s.outdoor_loss / 3.6e6 << " kWh, stored "
                  << s.stored / 3.6e6 << " kWh, electric " << s.electric / 3.6e6 << " kWh, imbalance "
                  << imbalance(s) << "\n";
        CHECK(s.integrator == integrator);
        CHECK(s.steps == 288);
        CHECK(s.cooling > 0.0);
        CHECK(s.electric > 0.0);
        CHECK(imbalance(s) < 1e-9);
    }
}

TEST_CASE("thermal_zones: coupled zones reach the hand-solved steady state", "[models]") {
    // Rooms a, b, c in a row (adjacency by $dtId): UA = 2 W/(m2.K) x (10, 20, 30) m2, 20 W/K between
    // neighbours, gains 200, 400, 0 W, outdoors 20 degC. With theta = T - 20:
    //   two zones:   40 t1 - 20 t2 = 200, -20 t1 + 60 t2 = 400            -> t1 = t2 = 10
    //   three zones: 40 t1 - 20 t2 = 200, -20 t1 + 80 t2 - 20 t3 = 400,
    //                -20 t2 + 80 t3 = 0                                    -> t = (115, 100, 25) / 13
    const std::vector<RoomSpec> specs{{"room-a", 10.0, 25.0, 21.0, 200.0},
                                      {"room-b", 20.0, 50.0, 23.0, 400.0},
                                      {"room-c", 30.0, 75.0, 19.0, 0.0}};
    for (std::size_t zones : {2u, 3u}) {
        const graph::Snapshot g = rooms_on_level(std::vector<RoomSpec>(specs.begin(), specs.begin() + static_cast<long>(zones)));
        const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
        const std::vector<double> expected =
            zones == 2 ? std::vector<double>{30.0, 30.0}
                       : std::vector<double>{20.0 + 115.0 / 13.0, 20.0 + 100.0 / 13.0, 20.0 + 25.0 / 13.0};
        for (const char* integrator : {"exact", "implicit"}) {
            const scenario::Binding b = test::bind(
                g, "thermal_zones",
                constant_conditions({{"ua_per_area", 2.0}, {"integrator", integrator}, {"step", 3600}}), rooms);
            scenario::Run run(g, test::run_options());
            auto behaviour = thermal().instantiate(b, run);
            run.start_behaviour(*behaviour);
            run.advance_to(120 * 86400.0);  // about 200 slowest time constants
            double worst = 0.0;
            for (std::size_t i = 0; i < zones; ++i) {
                const std::size_t k = static_cast<std::size_t>(g.twin_id(rooms[i]).back() - 'a');
                worst = std::max(worst, std::abs(temperature(run, g, rooms[i]) - expected[k]) / expected[k]);
                // A mass node passes its radiant share of the gains (1/2) on to the air:
                // T_mass = T_air + G / 2 / (22.75 W/(m2.K) x area).
                const double mass = expected[k] + 0.5 * specs[k].equipment / (22.75 * specs[k].area);
                worst = std::max(worst, std::abs(models::thermal_statistics(*behaviour)->mass_temperature[i] - mass) / mass);
            }
            std::cout << "[thermal] " << zones << " coupled zones, " << integrator << ": worst relative error "
                      << worst << "\n";
            CHECK(worst < 1e-9);
            CHECK(models::thermal_statistics(*behaviour)->components == 1);
        }
    }
}

TEST_CASE("thermal_zones: a chiller failure raises the temperatures of the rooms it cools", "[models]") {
    SECTION("bare runs: failed chiller-1 removes the cooling of ahu-00/02/04, chiller-2's levels are untouched") {
        BuildingRun base(json{{"step", 300}});
        BuildingRun failed(json{{"step", 300}});
        base.run.advance_to(14 * 3600.0);
        failed.run.advance_to(14 * 3600.0);
        CHECK(failed.t("room-00-03") == base.t("room-00-03"));
        failed.fail("chiller-1");
        base.run.advance_to(18 * 3600.0);
        failed.run.advance_to(18 * 3600.0);
        double rise = HUGE_VAL, untouched = 0.0;
        for (const std::string level : {"00", "02", "04"})
            for (int k = 1; k <= 10; ++k) {
                const std::string room = "room-" + level + "-" + (k < 10 ? "0" : "") + std::to_string(k);
                rise = std::min(rise, failed.t(room) - base.t(room));
            }
        for (const std::string level : {"01", "03", "05"})
            for (int k = 1; k <= 10; ++k) {
                const std::string room = "room-" + level + "-" + (k < 10 ? "0" : "") + std::to_string(k);
                untouched = std::max(untouched, std::abs(failed.t(room) - base.t(room)));
            }
        std::cout << "[thermal] chiller-1 fails at 14:00: at 18:00 its rooms are at least " << rise
                  << " K warmer; chiller-2's rooms differ by " << untouched << " K\n";
        CHECK(rise > 1.0);
        CHECK(untouched == 0.0);
        const models::ThermalStatistics s = failed.stats();
        REQUIRE(s.chillers.size() == 2);
        const std::size_t c1 = s.chillers[0] == "chiller-1" ? 0 : 1;
        CHECK(s.chiller_load[c1] == 0.0);
        CHECK(s.chiller_power[c1] == 0.0);
        CHECK(s.chiller_load[1 - c1] > 0.0);
        CHECK(base.stats().chiller_load[c1] > 0.0);
        // Without the failure the cooled rooms stay within the thermostat band (22 +- 0.5 degC).
        CHECK(base.t("room-00-03") <= 22.5 + 1e-9);
        CHECK(failed.t("room-00-03") > 23.0);
        // The plant room is served by no AHU; it only feels its warmer neighbour room-00-10.
        CHECK(failed.t("room-plant") > base.t("room-plant"));
        CHECK(failed.t("room-plant") - base.t("room-plant") < failed.t("room-00-10") - base.t("room-00-10"));
    }

    SECTION("both pumps of chiller-2 stopped: chiller-2's levels warm up") {
        BuildingRun base(json{{"step", 300}});
        BuildingRun stopped(json{{"step", 300}});
        for (const char* pump : {"pump-2-duty", "pump-2-standby"}) {
            const graph::TwinIndex p = *stopped.g.find(pump);
            stopped.run.write(p, test::column_of(stopped.g, p, "flowRate"), 0.0);
        }
        base.run.advance_to(18 * 3600.0);
        stopped.run.advance_to(18 * 3600.0);
        CHECK(stopped.t("room-01-03") > base.t("room-01-03") + 1.0);
        CHECK(stopped.t("room-00-03") == base.t("room-00-03"));
    }

    SECTION("the scenario path: prepare(), runs with and without the failure, KPIs and the summary event") {
        const std::string text = R"yaml(name: thermal-e2e
base: building.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT24H
step: PT5M
seed: 3
events:
  - {at: PT14H, event: fail, twin: chiller-1}
models:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState}
  - model: thermal_zones
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {outdoor_mean: 26, outdoor_amplitude: 6}
recording:
  series:
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [temperature]
      interval: PT5M
  events: true
kpis:
  - name: hours above 24 degC
    statistic: time_above
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND usage != 'plant'"
    property: temperature
    threshold: 24.0
    over: max
  - name: peak room temperature
    statistic: max
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND usage != 'plant'"
    property: temperature
    over: max
)yaml";
        const graph::Snapshot& base = test::sample_building();
        auto run_once = [&](bool with_failure, double& seconds) {
            std::string t = text;
            if (!with_failure) t.replace(t.find("events:\n  - {at"), t.find("models:") - t.find("events:\n  - {at"), "");
            const auto prepared = scenario::prepare(scenario::scenario_from_yaml(t, "thermal.yaml"), base,
                                                    models::builtin_registry());
            const auto t0 = std::chrono::steady_clock::now();
            scenario::Run run(prepared, 0);
            run.run_to_end();
            scenario::RunRecord record = run.finish();
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return record;
        };
        double s_base = 0.0, s_failed = 0.0;
        const scenario::RunRecord no_failure = run_once(false, s_base);
        const scenario::RunRecord failure = run_once(true, s_failed);
        std::cout << "[thermal] bundled building, one day at 5 min, one replication: " << s_base << " s (no failure), "
                  << s_failed << " s (failure); peak " << no_failure.kpis[1].value << " -> " << failure.kpis[1].value
                  << " degC, hours above 24 degC " << no_failure.kpis[0].value << " -> " << failure.kpis[0].value
                  << "\n";
        REQUIRE(no_failure.kpis.size() == 2);
        CHECK(failure.kpis[1].value > no_failure.kpis[1].value + 1.0);
        CHECK(failure.kpis[0].value > no_failure.kpis[0].value);
        const auto summary = std::find_if(failure.events.begin(), failure.events.end(),
                                          [](const io::EventRecord& e) { return e.type == "thermal_summary"; });
        REQUIRE(summary != failure.events.end());
        CHECK(summary->time == 24 * 3600.0);
        const json d = json::parse(summary->detail_json);
        CHECK(d["zones"] == 61);
        CHECK(d["chiller_electric_kwh"]["chiller-1"].get<double>() > 0.0);
        CHECK(d["electric_kwh"].get<double>() > 0.0);
    }
}

TEST_CASE("thermal_zones: stable at a 5-minute step with tiny capacities", "[models]") {
    // Air 1 J/(m3.K), mass 1 kJ/(m2.K): time constants of seconds, 300 s steps. Under constant
    // conditions every room must settle (no oscillation, no blow-up) with or without cooling.
    for (const char* integrator : {"exact", "implicit"}) {
        BuildingRun r({{"integrator", integrator},
                       {"step", 300},
                       {"air_heat_capacity", 1.0},
                       {"mass_capacity", 1000.0},
                       {"outdoor_mean", 30.0},
                       {"outdoor_amplitude", 0.0},
                       {"solar_peak", 0.0}});
        std::vector<std::vector<double>> series(r.rooms.size());
        for (int k = 1; k <= 72; ++k) {  // 6 h
            r.run.advance_to(300.0 * k);
            for (std::size_t i = 0; i < r.rooms.size(); ++i) series[i].push_back(temperature(r.run, r.g, r.rooms[i]));
        }
        // No oscillation: every room's step-to-step change keeps its sign (at most one reversal,
        // the cooled rooms' first approach to their band) and has died out after 6 h.
        double final_change = 0.0, lowest = HUGE_VAL, highest = -HUGE_VAL;
        int reversals = 0;
        for (const auto& s : series) {
            int sign = 0, flips = 0;
            for (std::size_t k = 0; k < s.size(); ++k) {
                REQUIRE(std::isfinite(s[k]));
                lowest = std::min(lowest, s[k]);
                highest = std::max(highest, s[k]);
                if (k == 0) continue;
                const double d = s[k] - s[k - 1];
                if (std::abs(d) <= 1e-9) continue;
                const int now = d > 0 ? 1 : -1;
                if (sign != 0 && now != sign) ++flips;
                sign = now;
            }
            reversals = std::max(reversals, flips);
            final_change = std::max(final_change, std::abs(s.back() - s[s.size() - 2]));
        }
        std::cout << "[thermal] tiny capacities, " << integrator << ": most sign reversals of a room's change "
                  << reversals << ", last step's largest change " << final_change << " K; range " << lowest
                  << " .. " << highest << " degC\n";
        CHECK(reversals <= 1);
        CHECK(final_change < 1e-6);
        CHECK(lowest > 20.0);   // cooled rooms sit in their band around 22 degC, never below it
        CHECK(highest < 60.0);  // the uncooled plant room: outdoors + its gains / UA
        CHECK(imbalance(r.stats()) < 1e-9);
    }
}

TEST_CASE("thermal_zones: parameters and properties are checked before any run", "[models]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    const std::vector<graph::TwinIndex> chillers = test::twins_of(g, test::chiller_model);
    auto refused = [&](const json& p, const std::vector<graph::TwinIndex>& twins) {
        return test::parameter_error([&] { thermal().check(test::bind(g, "thermal_zones", p, twins)); });
    };
    CHECK(refused(json::object(), rooms).empty());
    CHECK(refused({{"adjacency", "grid"}}, rooms) == "adjacency");
    CHECK(refused({{"integrator", "rk4"}}, rooms) == "integrator");
    CHECK(refused({{"deadband", -1}}, rooms) == "deadband");
    CHECK(refused({{"sunrise_hour", 21}}, rooms) == "sunset_hour");
    CHECK(refused({{"outdoor_series", json::array({json::array({0, 20}), json::array({0, 21})})}}, rooms) ==
          "outdoor_series");
    CHECK(refused({{"chiller_power_property", "manufacturer"}}, rooms) == "chiller_power_property");
    CHECK(refused({{"temperature", 1}}, rooms) == "temperature");
    CHECK(refused(json::object(), chillers) == "zones");  // chillers have no area/airVolume
}

TEST_CASE("thermal_zones: a recorded outdoor series drives the zones", "[models]") {
    // One air-only zone, no gains: the outdoor series steps from 20 to 30 degC at 1 h (held
    // between points by linear interpolation over one second); the room relaxes toward it.
    const graph::Snapshot g = rooms_on_level({{"room-a", 20.0, 50.0, 20.0, 0.0}});
    const std::vector<graph::TwinIndex> zone = test::twins_of(g, test::room_model);
    const json series = json::array({json::array({0, 20.0}), json::array({3600, 20.0}), json::array({3601, 30.0})});
    const scenario::Binding b = test::bind(
        g, "thermal_zones", constant_conditions({{"mass_capacity", 0}, {"outdoor_series", series}}), zone);
    scenario::Run run(g, test::run_options());
    auto behaviour = thermal().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(3600.0);
    CHECK(temperature(run, g, zone[0]) == Approx(20.0).margin(1e-12));
    run.advance_to(86400.0);
    CHECK(temperature(run, g, zone[0]) == Approx(30.0).epsilon(1e-9));
}

TEST_CASE("thermal_zones: 10,000 zones for a day at a 5-minute step", "[.][thermal_bench]") {
    // 10 buildings x 20 levels x 50 rooms on rows; no HVAC.
    graph::TwinGraph g;
    g.add_models(test::building_interfaces());
    for (int l = 0; l < 200; ++l) {
        const std::string level = "level-" + std::to_string(1000 + l);
        g.upsert_twin(level, {{"$metadata", {{"$model", "dtmi:twinsim:building:Level;1"}}}, {"levelNumber", l % 20}});
        for (int r = 0; r < 50; ++r) {
            const std::string room = level + "-room-" + std::to_string(100 + r);
            g.upsert_twin(room, {{"$metadata", {{"$model", test::room_model}}},
                                 {"area", 20.0 + r % 7},
                                 {"airVolume", 56.0},
                                 {"temperature", 22.0},
                                 {"temperatureSetpoint", 22.0},
                                 {"occupancy", r % 3},
                                 {"lightingPower", 160.0},
                                 {"equipmentHeatGain", 240.0}});
            g.upsert_relationship(room, "isPartOf-1", {{"$targetId", level}, {"$relationshipName", "isPartOf"}});
        }
    }
    const graph::Snapshot s = g.snapshot();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(s, test::room_model);
    REQUIRE(rooms.size() == 10000);
    for (const char* integrator : {"exact", "implicit"}) {
        const auto t0 = std::chrono::steady_clock::now();
        scenario::Run run(s, test::run_options());
        auto behaviour = thermal().instantiate(test::bind(s, "thermal_zones", {{"integrator", integrator}, {"step", 300}}, rooms), run);
        run.start_behaviour(*behaviour);
        const auto t1 = std::chrono::steady_clock::now();
        run.advance_to(86400.0);
        const auto t2 = std::chrono::steady_clock::now();
        const models::ThermalStatistics st = *models::thermal_statistics(*behaviour);
        std::cout << "[thermal] 10,000 zones, " << st.integrator << ": set-up "
                  << std::chrono::duration<double>(t1 - t0).count() << " s, one day "
                  << std::chrono::duration<double>(t2 - t1).count() << " s, imbalance " << imbalance(st) << "\n";
        CHECK(imbalance(st) < 1e-9);
    }
}

TEST_CASE("thermal_zones: a TMY3 weather file drives outdoor temperature and solar gains", "[models][weather]") {
    // A zone of tiny capacity follows the outdoor temperature within a step: its air
    // temperature at the end of a step is the weather at the step's middle (no gains).
    const graph::Snapshot g = rooms_on_level({{"room-a", 20.0, 50.0, 20.0, 0.0}});
    const std::vector<graph::TwinIndex> zone = test::twins_of(g, test::room_model);
    const std::string file = (test::source_dir() / "scenarios/building/weather/723170TYA.CSV").string();
    const json fast = {{"mass_capacity", 0}, {"air_heat_capacity", 1.0}, {"solar_peak", 0.0}, {"weather_file", file}};
    {
        // No weather_start: the run starts 2026-07-01T00:00Z = 06-30 19:00 local standard time (UTC-5).
        // Lines 4341/4342 of the file: 06/30 19:00 24.4 degC, 20:00 23.3 degC.
        scenario::Run run(g, test::run_options());
        auto behaviour = thermal().instantiate(test::bind(g, "thermal_zones", constant_conditions(fast), zone), run);
        run.start_behaviour(*behaviour);
        run.advance_to(3600.0);  // the last step's middle: 19:57:30
        CHECK(temperature(run, g, zone[0]) == Approx(24.4 + (23.3 - 24.4) * 57.5 / 60.0).epsilon(1e-9));
    }
    {
        json p = constant_conditions(fast);
        p["weather_start"] = "07-09T14:00";  // 35.6 degC at 14:00 and 15:00 (lines 4552, 4553)
        scenario::Run run(g, test::run_options());
        auto behaviour = thermal().instantiate(test::bind(g, "thermal_zones", p, zone), run);
        run.start_behaviour(*behaviour);
        run.advance_to(1800.0);
        CHECK(temperature(run, g, zone[0]) == Approx(35.6).epsilon(1e-9));
    }
    {
        // Solar: one 300 s step from 07-09 13:00; its middle 13:02:30 lies between the GHI means
        // of 12-13 h (919 W/m2, at 12:30) and 13-14 h (845 W/m2, at 13:30).
        json p = constant_conditions({{"weather_file", file}, {"weather_start", "07-09T13:00"}, {"solar_peak", 50.0}});
        scenario::Run run(g, test::run_options());
        auto behaviour = thermal().instantiate(test::bind(g, "thermal_zones", p, zone), run);
        run.start_behaviour(*behaviour);
        run.advance_to(300.0);
        const double ghi = 919.0 + (845.0 - 919.0) * (0.5 + 150.0 / 3600.0);
        CHECK(models::thermal_statistics(*behaviour)->gains == Approx(50.0 * ghi / 1000.0 * 20.0 * 300.0).epsilon(1e-12));
    }
    auto refused = [&](const json& extra) {
        return test::parameter_error([&] { thermal().check(test::bind(g, "thermal_zones", extra, zone)); });
    };
    CHECK(refused({{"weather_file", file}}).empty());
    CHECK(refused({{"weather_file", file + ".missing"}}) == "weather_file");
    CHECK(refused({{"weather_file", file}, {"weather_start", "7-9"}}) == "weather_start");
    CHECK(refused({{"weather_file", file}, {"weather_start", "02-30"}}) == "weather_start");
    CHECK(refused({{"weather_start", "07-09"}}) == "weather_start");
    CHECK(refused({{"weather_file", file}, {"outdoor_series", json::array({json::array({0, 20})})}}) == "weather_file");
}
