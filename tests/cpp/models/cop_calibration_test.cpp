// Calibration of the chillers' COP from recorded chiller power
// (models/building/cop_calibration.hpp, calibration.md "COP"): a history
// recorded by twinsim from a building whose chillers have hidden COPs, with
// sensor noise, is fitted back within 5 %.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "models/building/calibration.hpp"
#include "models/building/cop_calibration.hpp"
#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/scenario/calibration_file.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;

namespace {

std::string day(const std::string& extra, const std::string& power = "electricPower") {
    return R"yaml(name: hot day
base: building.ndjson
start: "2026-07-15T05:00:00Z"
horizon: PT24H
step: PT5M
behaviours:
  - model: thermal_zones
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {outdoor_mean: 30, outdoor_amplitude: 6, chiller_power_property: )yaml" +
           power + "}\n" + extra;
}

/// The chillers' power of a run of `yaml`, every 5 minutes, with 3 % noise, as history rows.
io::HistoryTables recorded_power(const std::string& yaml) {
    const auto p = scenario::prepare(scenario::scenario_from_yaml(yaml), test::sample_building(),
                                     models::builtin_registry());
    scenario::Run run(p, 0);
    run.run_to_end();
    const scenario::RunRecord r = run.finish();
    io::HistoryTables t;
    std::mt19937_64 random(5);
    std::normal_distribution<double> noise(0.0, 0.03);
    const scenario::SeriesPlan& plan = p->series.front();
    auto& u = t.property_updates;
    for (std::size_t k = 0; k < plan.times.size(); ++k)
        for (std::size_t n = 0; n < plan.twins.size(); ++n) {
            u.time_ns.push_back(p->spec.start.ns + std::llround(plan.times[k] * 1e9));
            u.source_time_ns.push_back(io::no_time);
            u.id.push_back(plan.twin_ids[n]);
            u.model_id.push_back(plan.model);
            u.key.push_back("electricPower");
            u.value.push_back(nlohmann::json(r.samples[0][k * plan.twins.size() + n] * (1.0 + noise(random))).dump());
            u.unit.push_back("kilowatt");
            u.relationship_id.emplace_back();
            u.relationship_target.emplace_back();
            u.action.emplace_back("Update");
            u.sequence.push_back(u.sequence.size() + 1);
        }
    return t;
}

}  // namespace

TEST_CASE("calibration: hidden chiller COPs are recovered within 5 % from recorded chiller power",
          "[calibration][cop]") {
    // The hidden plant: COP 4.3 and 6.2 where the twin says 5.11 and 5.65.
    const std::string hidden = day(R"yaml(overrides:
  - {where: "$dtId = 'chiller-1'", set: {coefficientOfPerformance: 4.3}}
  - {where: "$dtId = 'chiller-2'", set: {coefficientOfPerformance: 6.2}}
recording:
  series:
    - {where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')", properties: [electricPower], interval: PT5M}
)yaml");
    const scenario::RecordedHistory history(recorded_power(hidden));
    const scenario::ScenarioSpec twin = scenario::scenario_from_yaml(day(""));
    const models::CopResult fit = models::calibrate_cop(twin, test::sample_building(), history, {});
    CHECK(fit.power_property == "electricPower");
    REQUIRE(!fit.chillers.empty());
    for (const models::FittedCop& c : fit.chillers) {
        const double truth = c.chiller == "chiller-1" ? 4.3 : 6.2;
        INFO(c.chiller << ": fitted " << c.value << " +- " << c.standard_error << " on " << c.samples
                       << " steps (hidden " << truth << ", twin " << c.initial << ")");
        CHECK(std::abs(c.value / truth - 1.0) < 0.05);
        CHECK(c.standard_error > 0.0);
        CHECK(c.standard_error < 0.05 * truth);
        CHECK(c.samples > 50);
        CHECK(c.initial == (c.chiller == "chiller-1" ? 5.11 : 5.65));
    }

    // The fitted values as a calibration file a scenario loads: thermal_zones' chiller_cop replaces the
    // twin's coefficientOfPerformance, and the replayed power matches the hidden plant's to the noise.
    nlohmann::json file;
    models::merge_cop(file, fit);
    REQUIRE(file["behaviours"][0]["parameters"]["chiller_cop"].size() == fit.chillers.size());
    CHECK(file["fit"]["cop"].size() == fit.chillers.size());
    scenario::ScenarioSpec calibrated = scenario::scenario_from_yaml(day(R"yaml(recording:
  series:
    - {where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')", properties: [electricPower], interval: PT5M}
)yaml"));
    scenario::apply_calibration_text(calibrated.models, file.dump(), "cop.json");
    const models::CopResult again = models::calibrate_cop(calibrated, test::sample_building(), history, {});
    for (const models::FittedCop& c : again.chillers) CHECK(c.initial == file["behaviours"][0]["parameters"]["chiller_cop"][c.chiller].get<double>());
    std::vector<std::string> texts{"ua_per_area", "cop", "cop@chiller-2", "solar_peak"};
    CHECK(models::take_cop_choices(texts) == std::vector<std::string>{"*", "chiller-2"});
    CHECK(texts == std::vector<std::string>{"ua_per_area", "solar_peak"});
    // A chiller_cop naming a twin that is not a chiller the rooms reach is refused.
    CHECK_THROWS_WITH(scenario::prepare(scenario::scenario_from_yaml(day("").replace(
                                            day("").find("chiller_power_property"), 0, "chiller_cop: {pump-9: 4}, ")),
                                        test::sample_building(), models::builtin_registry()),
                      Catch::Contains("chiller_cop") && Catch::Contains("pump-9"));

    // Clear errors: no power mapped, an unknown chiller, a chiller without recorded power.
    CHECK_THROWS_WITH(models::calibrate_cop(scenario::scenario_from_yaml(day("", "none")), test::sample_building(),
                                            history, {}),
                      Catch::Contains("chiller_power_property"));
    models::CopOptions unknown;
    unknown.chillers = "pump-*";
    CHECK_THROWS_WITH(models::calibrate_cop(twin, test::sample_building(), history, unknown),
                      Catch::Contains("no chiller") && Catch::Contains("pump-*"));
    models::CopOptions other;
    other.power_property = "ratedPower";
    CHECK_THROWS_AS(models::calibrate_cop(twin, test::sample_building(), history, other), models::CalibrationError);
}
