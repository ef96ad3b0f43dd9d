// maintenance: policies, crews, lead times, costs, and the fleet fast path's
// equivalence with the behaviour (models/equipment/maintenance.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models/equipment/maintenance.hpp"
#include "models_fixtures.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/common/statistics.hpp"
#include "twinsim/scenario/compare.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

constexpr const char* unit_model = "dtmi:twinsim:equipment:MaintainedUnit;1";
constexpr double year = 8760.0;  // hours

const std::vector<dtdl::Document>& equipment_interfaces() {
    static const std::vector<dtdl::Document> documents =
        dtdl::read_documents(std::vector<std::filesystem::path>{test::source_dir() / "models" / "equipment"});
    return documents;
}

/// n MaintainedUnit twins "unit-000".., each with `properties` (plus capacity 1).
graph::Snapshot units(int n, json properties = json::object()) {
    graph::TwinGraph g;
    g.add_models(equipment_interfaces());
    for (int i = 0; i < n; ++i) {
        json twin = properties;
        twin["$metadata"] = {{"$model", unit_model}};
        twin["capacity"] = 1.0;
        std::string id = std::to_string(i);
        g.upsert_twin("unit-" + std::string(3 - id.size(), '0') + id, twin);
    }
    return g.snapshot();
}

const scenario::BehaviourModel& maintenance() { return *models::builtin_registry().find("maintenance"); }

struct Outcome {
    models::MaintenanceStatistics stats;
    double failures = 0, planned = 0, unplanned_down = 0, planned_down = 0, cost = 0;
};

/// One bare run of the maintenance behaviour over `horizon` hours.
Outcome simulate(const graph::Snapshot& g, const json& parameters, double horizon, std::uint64_t seed = 1) {
    const std::vector<graph::TwinIndex> twins = test::twins_of(g, unit_model);
    const scenario::Binding b = test::bind(g, "maintenance", parameters, twins);
    maintenance().check(b);
    scenario::Run run(g, test::run_options(seed));
    auto behaviour = maintenance().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(horizon * 3600.0);
    Outcome o;
    o.stats = *models::maintenance_statistics(*behaviour, run.simulator().now());
    for (const models::UnitOutcome& u : o.stats.units) {
        o.failures += u.failures;
        o.planned += u.planned;
        o.unplanned_down += u.unplanned_downtime;
        o.planned_down += u.planned_downtime;
        o.cost += u.cost;
    }
    return o;
}

const json wear_out = {{"beta", 3.0}, {"eta", 2000.0}, {"repair_time", 24.0}, {"replacement_time", 4.0}};

json with(json base, const json& more) {
    base.update(more);
    return base;
}

}  // namespace

TEST_CASE("maintenance: replacing early trades failures for planned downtime", "[maintenance]") {
    const graph::Snapshot g = units(60);
    const Outcome rtf = simulate(g, wear_out, year);
    const Outcome fixed = simulate(g, with(wear_out, {{"policy", "fixed_interval"}, {"interval", 300.0}}), year);
    CHECK(rtf.planned == 0);
    CHECK(rtf.planned_down == 0.0);
    // Wear-out life, eta 2000 h: about 4 failures per unit-year run to failure.
    CHECK(rtf.failures > 60 * 3);
    // Replaced every 300 h, a unit almost never reaches the age where it wears out: P(T < 300) = 0.34 %.
    CHECK(fixed.failures < rtf.failures / 10);
    CHECK(fixed.planned > 60 * 25);
    CHECK(fixed.planned_down > rtf.planned_down);
    CHECK(fixed.unplanned_down < rtf.unplanned_down);

    // Condition-based: the replacement age is where P(fail within h | age) reaches p.
    const Outcome cbm = simulate(g, with(wear_out, {{"policy", "condition"}, {"risk_horizon", 100.0}, {"risk_threshold", 0.05}}), year);
    const double age = *models::WeibullLife(3.0, 2000.0).age_at_conditional_risk(100.0, 0.05);
    CHECK(cbm.stats.lives[0].renewal_replacement_age == Approx(age));
    CHECK(cbm.failures < rtf.failures);
    CHECK(cbm.planned > 0);
    // Inspections every 250 h: the replacement waits for the next inspection age.
    const Outcome inspected = simulate(
        g, with(wear_out, {{"policy", "condition"}, {"risk_horizon", 100.0}, {"risk_threshold", 0.05}, {"inspection_interval", 250.0}}),
        year);
    CHECK(inspected.stats.lives[0].renewal_replacement_age == Approx(std::ceil(age / 250.0) * 250.0));
    // No wear-out (beta <= 1): the condition never triggers, so it is run to failure.
    // (A new unit already at the threshold is never replaced on condition: replacing cannot lower the risk.)
    const json random_life = {{"beta", 1.0}, {"eta", 2000.0}, {"policy", "condition"}};
    const Outcome memoryless = simulate(g, random_life, year);
    CHECK(memoryless.planned == 0);
    CHECK(memoryless.failures == simulate(g, with(random_life, {{"policy", "run_to_failure"}}), year).failures);
}

TEST_CASE("maintenance: costs add up from counts and downtime", "[maintenance]") {
    const graph::Snapshot g = units(20);
    const json p = with(wear_out, {{"policy", "fixed_interval"}, {"interval", 1500.0}, {"lead_time", 48.0},
                                   {"failure_cost", 7000.0}, {"planned_cost", 2000.0},
                                   {"unplanned_downtime_cost", 300.0}, {"planned_downtime_cost", 50.0}});
    const Outcome o = simulate(g, p, year);
    REQUIRE(o.failures > 0);
    REQUIRE(o.planned > 0);
    CHECK(o.cost == Approx(7000.0 * o.failures + 2000.0 * o.planned + 300.0 * o.unplanned_down + 50.0 * o.planned_down)
                        .epsilon(1e-12));
    // Each finished failure costs lead time + repair in downtime; each planned one the replacement time.
    CHECK(o.unplanned_down <= o.failures * (48.0 + 24.0) + 1e-9);
    CHECK(o.unplanned_down > (o.failures - 20) * (48.0 + 24.0) - 1e-9);  // at most one per unit cut by the horizon
    CHECK(o.planned_down <= o.planned * 4.0 + 1e-9);
}

TEST_CASE("maintenance: one crew makes replacements queue", "[maintenance]") {
    // Short lives and long repairs: with one crew, failed units wait for it.
    const graph::Snapshot g = units(30);
    const json p = {{"beta", 2.0}, {"eta", 500.0}, {"repair_time", 48.0}};
    const Outcome unlimited = simulate(g, p, year);
    const Outcome one = simulate(g, with(p, {{"crews", 1}}), year);
    CHECK(unlimited.stats.crew_waits == 0);
    CHECK(one.stats.crews == 1);
    CHECK(one.stats.crew_waits > 10);
    CHECK(one.stats.mean_crew_wait > 10.0);  // hours
    // Waiting is downtime: fewer working hours, so fewer failures, and more downtime per failure.
    CHECK(one.unplanned_down / one.failures > unlimited.unplanned_down / unlimited.failures + 10.0);
    CHECK(one.failures < unlimited.failures);
}

TEST_CASE("maintenance: the fleet fast path is the behaviour, unit by unit", "[maintenance]") {
    json properties = {{"ageHours", 900.0}};
    const graph::Snapshot g = units(40, properties);
    const std::vector<graph::TwinIndex> twins = test::twins_of(g, unit_model);
    for (const json& p : {with(wear_out, {{"policy", "condition"}, {"risk_horizon", 200.0}, {"risk_threshold", 0.1},
                                          {"lead_time", 12.0}}),
                          with(wear_out, {{"policy", "fixed_interval"}, {"interval", 1200.0}}), wear_out}) {
        const Outcome o = simulate(g, p, year, 9);
        scenario::Run run(g, test::run_options(9));
        for (std::size_t i = 0; i < twins.size(); ++i) {
            kernel::RandomStream stream = run.twin_stream(0, twins[i]);
            const models::UnitOutcome fast = models::simulate_unit(o.stats.plan, o.stats.lives[i], year, stream);
            const models::UnitOutcome& slow = o.stats.units[i];
            CHECK(fast.failures == slow.failures);
            CHECK(fast.planned == slow.planned);
            CHECK(fast.unplanned_downtime == Approx(slow.unplanned_downtime).epsilon(1e-9).margin(1e-9));
            CHECK(fast.planned_downtime == Approx(slow.planned_downtime).epsilon(1e-9).margin(1e-9));
            CHECK(fast.cost == Approx(slow.cost).epsilon(1e-9).margin(1e-9));
            // The benchmark's form, one Philox block at a time: the same words, so the same outcome.
            const models::UnitOutcome blocks = models::simulate_unit(
                o.stats.plan, o.stats.lives[i], year, kernel::run_key(run.id()), (std::uint64_t{1} << 32) | twins[i]);
            CHECK(blocks.failures == fast.failures);
            CHECK(blocks.planned == fast.planned);
            CHECK(blocks.cost == fast.cost);
        }
    }
}

TEST_CASE("maintenance: the unit's properties record its state and outcome", "[maintenance]") {
    // (That a failure drives a bound `availability` is tested through a scenario: tests/python/test_maintenance.py.)
    const graph::Snapshot g = units(3);
    const std::vector<graph::TwinIndex> twins = test::twins_of(g, unit_model);
    const scenario::Binding m = test::bind(g, "maintenance", {{"beta", 2.0}, {"eta", 100.0}, {"lead_time", 10.0}}, twins, 1);
    scenario::Run run(g, test::run_options(3));
    auto behaviour = maintenance().instantiate(m, run);
    run.start_behaviour(*behaviour);
    const std::uint32_t available = test::column_of(g, twins[0], "available");
    const std::uint32_t failures = test::column_of(g, twins[0], "failures");
    // Step until unit 0 is down, then check the capacity followed.
    bool seen_down = false;
    for (double t = 0.0; t < 2000.0 && !seen_down; t += 0.5) {
        run.advance_to(t * 3600.0);
        if (*run.value(twins[0], available) == 0.0) {
            seen_down = true;
            CHECK(*run.value(twins[0], failures) >= 1.0);
        }
    }
    REQUIRE(seen_down);
    run.advance_to(run.simulator().now() + 18.0 * 3600.0);  // lead time 10 h + repair 8 h later it is back
    CHECK(*run.value(twins[0], available) == 1.0);
    const models::MaintenanceStatistics s = *models::maintenance_statistics(*behaviour, run.simulator().now());
    CHECK(*run.value(twins[0], failures) == double(s.units[0].failures));
}

TEST_CASE("maintenance: prognostics' RUL sets the installed unit's life; AFT covariates set the rest", "[maintenance]") {
    graph::TwinGraph g;
    g.add_models(equipment_interfaces());
    g.upsert_twin("known", {{"$metadata", {{"$model", unit_model}}}, {"load", 0.5}, {"temperature", 30.0},
                            {"rulMeanHours", 50.0}, {"rulLowHours", 20.0}});
    g.upsert_twin("heavy", {{"$metadata", {{"$model", unit_model}}}, {"load", 1.0}, {"temperature", 30.0}});
    const graph::Snapshot s = g.snapshot();
    const json p = {{"beta", 2.0}, {"aft_covariates", {"load", "temperature"}}, {"aft_coefficients", {9.0, -1.0, -0.02}},
                    {"policy", "condition"}, {"risk_horizon", 24.0}, {"risk_threshold", 0.1}};
    const Outcome o = simulate(s, p, 10.0);
    const models::UnitLives& known = o.stats.lives[0];
    CHECK(known.installed.mean() == Approx(50.0).epsilon(1e-9));
    CHECK(known.installed.quantile(0.1) == Approx(20.0).epsilon(1e-9));
    CHECK(known.renewal.eta() == Approx(std::exp(9.0 - 0.5 - 0.6)).epsilon(1e-12));
    CHECK(o.stats.lives[1].renewal.eta() == Approx(std::exp(9.0 - 1.0 - 0.6)).epsilon(1e-12));
    // The unit prognostics call short-lived is replaced at once: P(fail within 24 h) > P(RUL <= 20 h) = 0.1.
    CHECK(known.installed_replacement_age == 0.0);
    CHECK(o.stats.units[0].planned == 1);
}

TEST_CASE("maintenance: a twin with prognostics in cycles (DegradingEquipment) binds too", "[maintenance]") {
    // The shape of dtmi:twinsim:equipment:DegradingEquipment;1: capacity and the RUL in cycles, none of the outputs.
    const dtdl::Document engine{"<engine>", R"({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Engine;1",
        "@type": "Interface", "contents": [
          {"@type": "Property", "name": "capacity", "schema": "double"},
          {"@type": "Property", "name": "rulMean", "schema": "double"},
          {"@type": "Property", "name": "rulP05", "schema": "double"}]})"};
    graph::TwinGraph g;
    g.add_models(std::vector<dtdl::Document>{engine});
    g.upsert_twin("worn", {{"$metadata", {{"$model", "dtmi:test:Engine;1"}}}, {"capacity", 1.0}, {"rulMean", 40.0},
                           {"rulP05", 12.0}});
    g.upsert_twin("unknown", {{"$metadata", {{"$model", "dtmi:test:Engine;1"}}}, {"capacity", 1.0}});
    const graph::Snapshot s = g.snapshot();
    const std::vector<graph::TwinIndex> twins = test::twins_of(s, "dtmi:test:Engine;1");
    const json p = {{"beta", 3.0}, {"eta", 2000.0}, {"policy", "condition"}, {"risk_horizon", 48.0},
                    {"risk_threshold", 0.05}, {"rul_mean_property", "rulMean"}, {"rul_low_property", "rulP05"},
                    {"rul_quantile", 0.05}, {"rul_hours_per_unit", 2.0}};
    const scenario::Binding b = test::bind(s, "maintenance", p, twins);
    maintenance().check(b);
    scenario::Run run(s, test::run_options(4));
    auto behaviour = maintenance().instantiate(b, run);
    run.start_behaviour(*behaviour);
    run.advance_to(200.0 * 3600.0);
    const models::MaintenanceStatistics st = *models::maintenance_statistics(*behaviour, run.simulator().now());
    const std::size_t worn = s.find("worn") == twins[0] ? 0 : 1;
    // The worn engine's remaining life: mean 40 cycles = 80 h, 5 % quantile 12 cycles = 24 h.
    CHECK(st.lives[worn].installed.mean() == Approx(80.0).epsilon(1e-9));
    CHECK(st.lives[worn].installed.quantile(0.05) == Approx(24.0).epsilon(1e-9));
    // P(RUL <= 24 h) = 5 %, so P(fail within 48 h) > 5 %: it is replaced at once, before it fails.
    CHECK(st.lives[worn].installed_replacement_age == 0.0);
    CHECK(st.units[worn].planned == 1);
    CHECK(st.units[worn].failures == 0);
    // The other has no prognostics: the fleet's Weibull, new.
    CHECK(st.lives[1 - worn].installed == models::WeibullLife(3.0, 2000.0));
    CHECK(st.units[1 - worn].planned == 0);
}

TEST_CASE("maintenance: bad parameters are refused naming the parameter", "[maintenance]") {
    const graph::Snapshot g = units(2);
    const std::vector<graph::TwinIndex> twins = test::twins_of(g, unit_model);
    const auto error = [&](const json& p) {
        return test::parameter_error([&] { maintenance().check(test::bind(g, "maintenance", p, twins)); });
    };
    CHECK(error(wear_out).empty());
    CHECK(error(with(wear_out, {{"policy", "sometimes"}})) == "policy");
    CHECK(error(with(wear_out, {{"policy", "fixed_interval"}})) == "interval");
    CHECK(error(with(wear_out, {{"beta", -1.0}})) == "beta");
    CHECK(error({{"beta", 2.0}}) == "eta");  // no life at all
    CHECK(error(with(wear_out, {{"aft_covariates", {"load"}}})) == "aft_covariates");
    CHECK(error(with(wear_out, {{"aft_covariates", {"load"}}, {"aft_coefficients", {1.0}}})) == "aft_coefficients");
    CHECK(error(with(wear_out, {{"aft_covariates", {"nosuch"}}, {"aft_coefficients", {1.0, 2.0}}})) == "aft_covariates");
    CHECK(error(with(wear_out, {{"crews", 1.5}})) == "crews");
    CHECK(error(with(wear_out, {{"policy", "condition"}, {"risk_threshold", 1.0}})) == "risk_threshold");
    CHECK(error(with(wear_out, {{"rul_mean_property", 3}})) == "rul_mean_property");
    CHECK(error(with(wear_out, {{"rul_hours_per_unit", 0.0}})) == "rul_hours_per_unit");
}

TEST_CASE("cheapest: the lowest mean, the runner-up's paired difference, errors naming what the file holds", "[maintenance]") {
    // Three policies, four replications each; replication r shares its noise across them (common random numbers).
    const auto kpi = [](std::vector<double> runs) {
        scenario::ComparedKpi k;
        k.name = "maintenance cost";
        k.selection = "sum over units";
        k.statistic = "final";
        k.unit = "1";
        std::vector<double> values;
        for (std::size_t r = 0; r < runs.size(); ++r) {
            k.runs[static_cast<std::int32_t>(r)] = runs[r];
            values.push_back(runs[r]);
        }
        const SampleSummary s = summarize_sample(values);
        k.n = s.n;
        k.mean = s.mean;
        k.ci95_low = s.ci95_low;
        k.ci95_high = s.ci95_high;
        return k;
    };
    scenario::Comparison c;
    c.file = "policies.h5";
    c.scenarios = {{"run_to_failure", {kpi({100, 120, 90, 110})}},
                   {"fixed_interval", {kpi({60, 75, 52, 71})}},
                   {"condition", {kpi({50, 71, 41, 62})}}};
    c.baseline = 0;
    const scenario::Cheapest best = scenario::cheapest(c, "maintenance cost");
    CHECK(best.scenario == 2);
    CHECK(best.summary.mean == 56.0);
    REQUIRE(best.runner_up == 1u);
    CHECK(best.versus_runner_up.difference == Approx(8.5));
    CHECK(best.versus_runner_up.paired_n == 4);
    CHECK(best.versus_runner_up.paired_low > 0.0);  // 10, 4, 11, 9: the ranking holds
    REQUIRE(best.versus_baseline);
    CHECK(best.versus_baseline->difference == Approx(-49.0));
    CHECK(best.ranking == std::vector<std::pair<std::size_t, double>>{{2, 56.0}, {1, 64.5}, {0, 105.0}});
    const auto printed = scenario::to_json(c, best);
    CHECK(printed["cheapest"]["scenario"] == "condition");
    CHECK(printed["runner_up"]["significant"] == true);
    CHECK(printed["vs_baseline"]["baseline"] == "run_to_failure");
    CHECK_THROWS_WITH(scenario::cheapest(c, "cost"),
                      Catch::Contains("no KPI named \"cost\"") && Catch::Contains("\"maintenance cost\""));
    CHECK_THROWS_WITH(scenario::cheapest(c, "maintenance cost", "other"), Catch::Contains("no selection \"other\""));
}
