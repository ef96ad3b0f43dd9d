// Replay runs (docs/replay.md, docs/scenario-format.md "Replay"): a history
// twinsim recorded itself, fed back through the same models, reproduces the
// recorded outputs; what-if alternatives keep the recorded disturbances;
// modelled vs recorded series; errors naming the input.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/common/guideline14.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/compare_recorded.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
namespace fs = std::filesystem;

namespace {

// The day as it happened: random occupancy (queue), chiller-1 failing at
// 14:00 (availability); occupancy and chiller capacities recorded on change,
// room temperatures every 5 minutes.
const char* recorded_day = R"yaml(name: as-recorded
base: building.ndjson
start: "2026-07-15T00:00:00Z"
horizon: PT24H
step: PT5M
seed: 11
events:
  - {at: PT14H, event: fail, twin: chiller-1}
behaviours:
  - model: queue
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND capacity > 0"
    parameters: {property: occupancy, arrival_rate: 2.0, mean_service: PT2H, servers: capacity, max_in_system: capacity}
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
    parameters: {capacity_property: coolingCapacity, state_property: operatingState}
  - model: thermal_zones
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {outdoor_mean: 27, outdoor_amplitude: 7, outdoor_peak_hour: 15}
recording:
  series:
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [occupancy]
      on_change: true
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')"
      properties: [coolingCapacity]
      on_change: true
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [temperature]
      interval: PT5M
)yaml";

// The replay: no queue, no failure event; the recorded occupancy and chiller
// capacities drive the same thermal model.
std::string replay_day(const std::string& source, const std::string& extra = {}) {
    return R"yaml(name: replayed
base: building.ndjson
start: "2026-07-15T00:00:00Z"
horizon: PT24H
step: PT5M
seed: 11
behaviours:
  - model: thermal_zones
    where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
    parameters: {outdoor_mean: 27, outdoor_amplitude: 7, outdoor_peak_hour: 15}
recording:
  series:
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [temperature]
      interval: PT5M
replay:
  source: ")yaml" + source + R"yaml("
  interpolation: step
  inputs:
    - {where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", property: occupancy}
    - {where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1')", property: coolingCapacity}
)yaml" + extra;
}

/// A run's record as history rows (what the live layer's recorder would hold).
io::HistoryTables history_of(const scenario::PreparedScenario& p, const scenario::RunRecord& r) {
    io::HistoryTables t;
    t.source = "recorded day";
    auto add = [&](const std::string& twin, const std::string& model, const std::string& key, double at, double v) {
        auto& u = t.property_updates;
        u.time_ns.push_back(p.spec.start.ns + std::llround(at * 1e9));
        u.source_time_ns.push_back(io::no_time);
        u.id.push_back(twin);
        u.model_id.push_back(model);
        u.key.push_back(key);
        u.value.push_back(nlohmann::json(v).dump());
        u.unit.push_back("");
        u.relationship_id.push_back("");
        u.relationship_target.push_back("");
        u.action.push_back("Update");
        u.sequence.push_back(u.sequence.size() + 1);
    };
    for (std::size_t s = 0; s < p.series.size(); ++s) {
        const scenario::SeriesPlan& plan = p.series[s];
        if (plan.on_change) {
            for (const auto& c : r.changes[s])
                if (!std::isnan(c.value)) add(plan.twin_ids[c.twin], plan.model, plan.property, c.time, c.value);
        } else {
            for (std::size_t k = 0; k < plan.times.size(); ++k)
                for (std::size_t n = 0; n < plan.twins.size(); ++n)
                    add(plan.twin_ids[n], plan.model, plan.property, plan.times[k], r.samples[s][k * plan.twins.size() + n]);
        }
    }
    return t;
}

std::size_t series_named(const scenario::PreparedScenario& p, const std::string& name) {
    for (std::size_t s = 0; s < p.series.size(); ++s)
        if (p.series[s].name == name) return s;
    FAIL("no series " << name);
    return 0;
}

struct Recorded {
    std::shared_ptr<const scenario::PreparedScenario> prepared;
    scenario::RunRecord record;
    fs::path file;
    Recorded() = default;
    Recorded(const Recorded&) = delete;
    Recorded& operator=(const Recorded&) = delete;
    Recorded(Recorded&&) = default;
    ~Recorded() {
        std::error_code ignored;
        if (!file.empty()) fs::remove(file, ignored);  // the history file outlives every test case, not the program
    }
};

const Recorded& recorded() {
    static const Recorded r = [] {
        Recorded out;
        out.prepared = scenario::prepare(scenario::scenario_from_yaml(recorded_day, "recorded.yaml"),
                                         test::sample_building(), models::builtin_registry());
        scenario::Run run(out.prepared, 0);
        run.run_to_end();
        out.record = run.finish();
        out.file = fs::temp_directory_path() / ("twinsim-replay-" + std::to_string(::getpid()) + ".h5");
        (void)io::write_history_file(out.file, history_of(*out.prepared, out.record));
        return out;
    }();
    return r;
}

scenario::RunRecord run_replay(const std::string& yaml, std::shared_ptr<const scenario::PreparedScenario>& prepared) {
    prepared = scenario::prepare(scenario::scenario_from_yaml(yaml, "replay.yaml"), test::sample_building(),
                                 models::builtin_registry());
    scenario::Run run(prepared, 0);
    run.run_to_end();
    return run.finish();
}

}  // namespace

TEST_CASE("replay: a history twinsim recorded, replayed through the same models, reproduces the recorded outputs",
          "[replay_run]") {
    const Recorded& rec = recorded();
    std::shared_ptr<const scenario::PreparedScenario> p;
    const scenario::RunRecord replay = run_replay(replay_day(rec.file.string()), p);
    REQUIRE(p->replay);
    CHECK(p->replay->targets.size() == 61 + 2);  // every room's occupancy, both chillers' capacity
    const std::size_t original = series_named(*rec.prepared, "temperature");
    const std::size_t modelled = series_named(*p, "temperature");
    const std::size_t recorded_series = series_named(*p, "temperature.recorded");
    const auto& want = rec.record.samples[original];
    const auto& got = replay.samples[modelled];
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    CHECK(worst <= 1e-9);
    // The recorded twin of the series is the history itself.
    CHECK(replay.samples[recorded_series] == want);
    // The failure was replayed too: chiller-1's recorded capacity drops to 0 for
    // the step after 14:00 (step 169 integrates (14:00, 14:05]).
    const auto chiller = std::find_if(p->replay->targets.begin(), p->replay->targets.end(),
                                      [](const scenario::ReplayTarget& t) { return t.twin_id == "chiller-1"; });
    REQUIRE(chiller != p->replay->targets.end());
    REQUIRE(chiller->steps.size() == 2);
    CHECK(chiller->steps[1] == 14 * 12 + 1);
    CHECK(chiller->values[1] == 0.0);
    const auto& rooms = p->series[modelled].twin_ids;

    // Guideline 14 on the replay: a model that reproduces the record meets it exactly.
    const Guideline14Report g14 =
        guideline14_report(p->spec.start, p->series[modelled].times, rooms, want, got);
    CHECK(g14.overall.meets());
    CHECK(std::abs(g14.overall.nmbe) < 1e-9);
}

TEST_CASE("replay: what-if alternatives change the policy while the recorded disturbances stay", "[replay_run]") {
    const Recorded& rec = recorded();
    std::shared_ptr<const scenario::PreparedScenario> base, warmer;
    const scenario::RunRecord as_it_was = run_replay(replay_day(rec.file.string()), base);
    // The alternative: setpoints 2 K higher everywhere (an override), same recorded occupancy and failure.
    const scenario::RunRecord what_if = run_replay(
        replay_day(rec.file.string(), "overrides:\n  - {where: \"IS_OF_MODEL('dtmi:twinsim:building:Room;1')\", set: {temperatureSetpoint: 24.0}}\n"),
        warmer);
    const auto& a = as_it_was.samples[series_named(*base, "temperature")];
    const auto& b = what_if.samples[series_named(*warmer, "temperature")];
    double sum_a = 0, sum_b = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sum_a += a[i], sum_b += b[i];
    CHECK(sum_b > sum_a);
    // The recorded series is the same in both: the disturbances did not change.
    CHECK(as_it_was.samples[series_named(*base, "temperature.recorded")] ==
          what_if.samples[series_named(*warmer, "temperature.recorded")]);
}

TEST_CASE("replay: errors name the input, the twin, the property and the time", "[replay_run]") {
    const Recorded& rec = recorded();
    std::shared_ptr<const scenario::PreparedScenario> p;
    // A mapped input the history lacks.
    std::string yaml = replay_day(rec.file.string());
    yaml.replace(yaml.find("property: occupancy"), 19, "property: lightingPower");
    CHECK_THROWS_WITH(run_replay(yaml, p), Catch::Contains("replay.inputs[0]") &&
                                               Catch::Contains(".lightingPower at 2026-07-15T00:00:00Z") &&
                                               Catch::Contains("holds no recorded value"));
    // A gap longer than the policy allows: chillers' capacity is recorded once, then at 14:00.
    yaml = replay_day(rec.file.string());
    yaml.replace(yaml.find("property: coolingCapacity}"), 26, "property: coolingCapacity, max_gap: PT1H}");
    CHECK_THROWS_WITH(run_replay(yaml, p), Catch::Contains("replay.inputs[1]") &&
                                               Catch::Contains("chiller-1.coolingCapacity at 2026-07-15T01:05:00Z") &&
                                               Catch::Contains("max_gap"));
    // ... which the model may fill instead.
    yaml.replace(yaml.find("max_gap: PT1H}"), 14, "max_gap: PT1H, on_gap: model}");
    CHECK_NOTHROW(run_replay(yaml, p));
    // A history file that does not exist.
    CHECK_THROWS_WITH(run_replay(replay_day("/nonexistent/history.h5"), p), Catch::Contains("replay.source"));
    // A target that is not in the graph.
    yaml = replay_day(rec.file.string()) + "    - {twin: room-00-01, property: occupancy, to: {twin: room-99}}\n";
    CHECK_THROWS_WITH(run_replay(yaml, p), Catch::Contains("replay.inputs[2]") && Catch::Contains("room-99"));
}

TEST_CASE("replay: linear interpolation of an integer input is refused naming the twin and the property",
          "[replay_run]") {
    const Recorded& rec = recorded();
    std::shared_ptr<const scenario::PreparedScenario> p;
    // occupancy is a DTDL integer: a line between 2 and 3 people is no count.
    std::string yaml = replay_day(rec.file.string());
    yaml.replace(yaml.find("interpolation: step"), 19, "interpolation: linear");
    CHECK_THROWS_WITH(run_replay(yaml, p), Catch::Contains("replay.inputs[0].interpolation") &&
                                               Catch::Contains("twin \"room-") &&
                                               Catch::Contains("property \"occupancy\"") &&
                                               Catch::Contains("an integer") &&
                                               Catch::Contains("use interpolation: step"));
    // Step for the count, linear for the chillers' capacity (a double): accepted.
    yaml = replay_day(rec.file.string());
    yaml.replace(yaml.find("property: occupancy}"), 20, "property: occupancy, interpolation: step}");
    yaml.replace(yaml.find("interpolation: step\n"), 19, "interpolation: linear");
    CHECK_NOTHROW(run_replay(yaml, p));
}

TEST_CASE("replay: a behaviour parameter takes a recorded series (weather)", "[replay_run]") {
    // Record the outdoor temperature on a twin: here the building's own area stands in for
    // a weather twin's property, so the history holds one numeric series of "building".
    io::HistoryTables t;
    t.source = "weather";
    const Timestamp start = *parse_timestamp("2026-07-15T00:00:00Z");
    for (int h = -1; h <= 25; ++h) {
        auto& u = t.property_updates;
        u.time_ns.push_back(start.ns + std::int64_t{h} * 3'600'000'000'000);
        u.source_time_ns.push_back(io::no_time);
        u.id.push_back("building");
        u.model_id.push_back("dtmi:twinsim:building:Building;1");
        u.key.push_back("area");
        u.value.push_back(std::to_string(20 + h % 12));
        u.unit.push_back("");
        u.relationship_id.push_back("");
        u.relationship_target.push_back("");
        u.action.push_back("Update");
        u.sequence.push_back(u.sequence.size() + 1);
    }
    const fs::path file = fs::temp_directory_path() / ("twinsim-weather-" + std::to_string(::getpid()) + ".h5");
    (void)io::write_history_file(file, t);
    std::string yaml = replay_day(file.string());
    yaml = yaml.substr(0, yaml.find("  inputs:")) +
           "  inputs:\n    - {twin: building, property: area, interpolation: linear, to: {behaviour: thermal_zones, parameter: outdoor_series}}\n";
    std::shared_ptr<const scenario::PreparedScenario> p;
    (void)run_replay(yaml, p);
    const nlohmann::json& series = p->bindings.at(0).parameters.at("outdoor_series");
    REQUIRE(series.size() == 24 * 12 + 1);
    CHECK(series[0][1].get<double>() == Approx(20.0));
    CHECK(series[6][0].get<double>() == Approx(1800.0));
    CHECK(series[6][1].get<double>() == Approx(20.5));  // halfway from 20 (00:00) to 21 (01:00)
    fs::remove(file);
}

TEST_CASE("replay: the results file holds modelled and recorded series; compare reports Guideline 14", "[replay_run]") {
    const Recorded& rec = recorded();
    // The baseline replay, and an alternative whose setpoints are 3 K higher: the modelled
    // temperatures move away from the record, and Guideline 14 says so.
    std::vector<std::shared_ptr<const scenario::PreparedScenario>> job;
    job.push_back(scenario::prepare(scenario::scenario_from_yaml(replay_day(rec.file.string()), "a.yaml"),
                                    test::sample_building(), models::builtin_registry(), 0));
    std::string warm = replay_day(rec.file.string(), "overrides:\n  - {where: \"IS_OF_MODEL('dtmi:twinsim:building:Room;1')\", set: {temperatureSetpoint: 30.0}}\n");
    warm.replace(warm.find("name: replayed"), 14, "name: warmer");
    job.push_back(scenario::prepare(scenario::scenario_from_yaml(warm, "b.yaml"), test::sample_building(),
                                    models::builtin_registry(), 1));
    const fs::path out = fs::temp_directory_path() / ("twinsim-replay-results-" + std::to_string(::getpid()) + ".h5");
    scenario::RunnerOptions options;
    options.threads = 2;
    (void)scenario::run_job(job, out, options);
    const io::ResultsReader reader(out);
    const auto names = reader.series_names("replayed");
    CHECK(std::find(names.begin(), names.end(), "temperature.recorded") != names.end());
    const auto compared = scenario::compare_recorded(reader);
    REQUIRE(compared.size() == 2);
    CHECK(compared[0].scenario == "replayed");
    CHECK(compared[0].series == "temperature");
    CHECK(compared[0].report.twins.size() == 61);
    CHECK(compared[0].report.overall.hours == 25 * 61);  // 00:00 .. 24:00 for every room, pooled
    CHECK(std::abs(compared[0].report.overall.nmbe) < 1e-9);
    CHECK(compared[0].report.overall.meets());
    CHECK(compared[1].scenario == "warmer");
    CHECK(compared[1].report.overall.nmbe < 0.0);  // the model over-predicts the record
    const nlohmann::ordered_json j = scenario::to_json(compared);
    CHECK(j[0]["overall"]["meets"] == true);
    CHECK(j[0]["twins"].size() == 61);
    fs::remove(out);
}
