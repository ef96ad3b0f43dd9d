// Degradation prognostics (models/equipment/prognostics.md): the history
// readers, the health indicator, the RUL distributions' accuracy and
// calibration on C-MAPSS FD001 (fitted on the training file alone), the
// parameters file, the same pipeline on a synthetic six-condition fleet, and
// predicted_failures driving availability in a scenario run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "models/builtin.hpp"
#include "models/equipment/histories.hpp"
#include "models/equipment/live_prognostics.hpp"
#include "models/equipment/predicted_failures.hpp"
#include "models/equipment/prognostics.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/routes.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using namespace twinsim::models;

namespace {

std::filesystem::path data_dir() { return std::filesystem::path(TWINSIM_SOURCE_DIR) / "scenarios/equipment/data"; }

const HistorySet& fd001_train() {
    static const HistorySet set = read_cmapss(data_dir() / "train_FD001.txt.gz", true);
    return set;
}
const HistorySet& fd001_test() {
    static const HistorySet set = read_cmapss(data_dir() / "test_FD001.txt.gz", false);
    return set;
}

struct Accuracy {
    double rmse = 0.0, score = 0.0, coverage = 0.0;
};

/// The C-MAPSS protocol: truth capped at 125, prediction at each test unit's last cycle.
Accuracy accuracy(const PrognosticsModel& model, const HistorySet& test, const std::vector<double>& truth) {
    const std::vector<RulDistribution> predictions = model.predict(test);
    REQUIRE(predictions.size() == truth.size());
    Accuracy a;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const double t = std::min(truth[i], 125.0);
        const double p = predictions[i].capped_mean(125.0);
        const double d = p - t;
        a.rmse += d * d;
        a.score += d < 0 ? std::exp(-d / 13.0) - 1.0 : std::exp(d / 10.0) - 1.0;
        const double lo = predictions[i].capped_quantile(0.05, 125.0), hi = predictions[i].capped_quantile(0.95, 125.0);
        a.coverage += (t >= lo && t <= hi) ? 1.0 : 0.0;
    }
    a.rmse = std::sqrt(a.rmse / static_cast<double>(truth.size()));
    a.coverage /= static_cast<double>(truth.size());
    return a;
}

}  // namespace

TEST_CASE("histories: the C-MAPSS text format, gzip or not, with or without a header", "[prognostics]") {
    const HistorySet& train = fd001_train();
    CHECK(train.units.size() == 100);
    CHECK(train.rows() == 20631);
    CHECK(train.setting_count() == 3);
    CHECK(train.sensor_count() == 21);
    CHECK(train.units[0].id == "1");
    CHECK(train.units[0].failed);
    CHECK(train.units[0].cycles.front() == 1.0);
    CHECK(train.units[0].sensors[1] == Approx(641.82));  // s2 of the first row
    CHECK(fd001_test().units.size() == 100);
    CHECK_FALSE(fd001_test().units[0].failed);

    std::string row = "1 1 -0.0007 -0.0004 100.0";
    for (int s = 0; s < 21; ++s) row.append(" ").append(std::to_string(s + 1));  // (not " " + to_string: GCC 12 -Wrestrict)
    std::string second = row;
    second.replace(2, 1, "2");  // cycle 2
    const HistorySet plain = parse_cmapss(row + "\n" + second + "\n", "t.txt", true);
    CHECK(plain.units[0].rows() == 2);
    CHECK_THROWS_WITH(parse_cmapss(row + "\n1 3 0 0\n", "t.txt", true),
                      Catch::Contains("t.txt:2") && Catch::Contains("expected 26 numbers, found 4"));
    CHECK_THROWS_WITH(parse_cmapss(row + "\n" + row + "\n", "t.txt", true), Catch::Contains("appears twice"));
    CHECK_THROWS_WITH(parse_cmapss("unit cycle\n", "t.txt", true), Catch::Contains("no rows"));
    CHECK_THROWS_WITH(parse_cmapss("1 1 0 0 0\n", "t.txt", true), Catch::Contains("t.txt:1: expected at least 26"));

    const std::vector<double> truth = read_rul_truth(data_dir() / "RUL_FD001.txt");
    REQUIRE(truth.size() == 100);
    CHECK(truth[0] == 112.0);
}

TEST_CASE("histories: CSV with a header, and recorded values", "[prognostics]") {
    const HistorySet csv = parse_history_csv(
        "unit,cycle,setting1,temp,pressure\nA,2,0,11,20\nA,1,0,10,21\nB,1,1,12,22\n", "h.csv", true);
    REQUIRE(csv.units.size() == 2);
    CHECK(csv.setting_names == std::vector<std::string>{"setting1"});
    CHECK(csv.sensor_names == std::vector<std::string>{"temp", "pressure"});
    CHECK(csv.units[0].cycles == std::vector<double>{1.0, 2.0});  // sorted by cycle
    CHECK(csv.units[0].sensors == std::vector<double>{10, 21, 11, 20});
    CHECK_THROWS_WITH(parse_history_csv("unit,cycle,t\nA,1,x\n", "h.csv", true),
                      Catch::Contains("h.csv:2") && Catch::Contains("column \"t\""));
    CHECK_THROWS_WITH(parse_history_csv("cycle,t\n1,2\n", "h.csv", true), Catch::Contains("no \"unit\" column"));

    const std::vector<HistoryValue> values = {{"pump-1", 10, "temp", 50.0}, {"pump-1", 10, "load", 1.0},
                                              {"pump-1", 20, "temp", 51.0}, {"pump-2", 5, "temp", 40.0},
                                              {"pump-2", 5, "load", 0.5}};
    const HistorySet h = histories_from_values(values, {"load"}, {"temp"}, false);
    REQUIRE(h.units.size() == 2);
    CHECK(h.units[0].cycles == std::vector<double>{1.0, 2.0});
    CHECK(h.units[0].settings == std::vector<double>{1.0, 1.0});  // carried forward
    CHECK(h.units[0].sensors == std::vector<double>{50.0, 51.0});
    CHECK_THROWS_WITH(histories_from_values(values, {}, {"vibration"}, false), Catch::Contains("\"vibration\""));
}

TEST_CASE("prognostics: FD001 accuracy and calibrated 90% intervals, fitted on the training file alone", "[prognostics]") {
    // CPU time of the process, not wall time: the fit runs on this thread, and
    // a loaded CI machine must not fail a fit that did its work in time.
    const std::clock_t started = std::clock();
    const PrognosticsModel model = PrognosticsModel::fit(fd001_train());
    const double fit_cpu_seconds = static_cast<double>(std::clock() - started) / CLOCKS_PER_SEC;
    CHECK(fit_cpu_seconds < 5.0);
    // The usual informative sensors of FD001 (the flat ones and s6 carry no trend).
    CHECK(model.health_indicator().informative_sensors() ==
          std::vector<std::string>{"s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21"});
    CHECK(model.health_indicator().condition_count() == 1);

    const Accuracy a = accuracy(model, fd001_test(), read_rul_truth(data_dir() / "RUL_FD001.txt"));
    INFO("RMSE " << a.rmse << ", score " << a.score << ", coverage " << a.coverage);
    CHECK(a.rmse < 18.0);
    CHECK(a.coverage >= 0.85);
    CHECK(a.coverage <= 0.95);

    // A distribution, not only a number: consistent quantiles and probabilities.
    const RulDistribution r = model.predict(fd001_test().units[0]);
    double total = 0.0;
    for (const double p : r.pmf) total += p;
    CHECK(total == Approx(1.0).epsilon(1e-9));
    CHECK(r.quantile(0.05) <= r.quantile(0.5));
    CHECK(r.quantile(0.5) <= r.quantile(0.95));
    CHECK(r.probability_within(r.quantile(0.5)) >= 0.5);
    CHECK(r.probability_within(1e9) == Approx(1.0));
    CHECK(r.health > 0.5);  // engine 1 of the test set is young (31 cycles)
}

TEST_CASE("prognostics: the parameters file round-trips and refuses damage by name", "[prognostics]") {
    const PrognosticsModel model = PrognosticsModel::fit(fd001_train());
    const std::filesystem::path file = std::filesystem::temp_directory_path() / "twinsim-prognostics-test.json";
    model.save(file);
    const PrognosticsModel loaded = PrognosticsModel::load(file);
    const UnitHistory& unit = fd001_test().units[33];
    CHECK(loaded.predict(unit).pmf == model.predict(unit).pmf);  // bit-identical

    nlohmann::json j = model.to_json();
    j["degradation"]["variance"][3] = -1.0;
    CHECK_THROWS_WITH(PrognosticsModel::from_json(j), Catch::Contains("parameters.degradation.variance"));
    j = model.to_json();
    j["health_indicator"]["weights"]["s99"] = 1.0;
    CHECK_THROWS_WITH(PrognosticsModel::from_json(j), Catch::Contains("weights.s99: not one of the sensors"));
    j = model.to_json();
    j["format"] = "something-else";
    CHECK_THROWS_AS(PrognosticsModel::from_json(j), PrognosticsParameterError);
    {
        std::ofstream out(file);
        out << std::string(300, '[');
    }
    CHECK_THROWS_WITH(PrognosticsModel::load(file), Catch::Contains("deeper"));
    std::filesystem::remove(file);
}

TEST_CASE("prognostics: the pipeline runs unchanged on a six-condition fleet", "[prognostics]") {
    // FD001 moved to six operating conditions, as in FD002/FD004: each row gets
    // a condition's settings (plus noise) and each sensor that condition's
    // offset and gain. Nothing in the pipeline is told about the conditions.
    const double centres[6][3] = {{0, 0, 100}, {10, 0.25, 100}, {20, 0.7, 100}, {25, 0.62, 60}, {35, 0.84, 100}, {42, 0.84, 100}};
    auto transform = [&](HistorySet set, std::uint32_t seed) {
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<int> pick(0, 5);
        std::normal_distribution<double> noise(0.0, 1.0);
        for (UnitHistory& u : set.units)
            for (std::size_t k = 0; k < u.rows(); ++k) {
                const int c = pick(rng);
                for (std::size_t j = 0; j < 3; ++j)
                    u.settings[k * 3 + j] = centres[c][j] + (j == 0 ? 0.002 : j == 1 ? 0.0002 : 0.0) * noise(rng);
                for (std::size_t m = 0; m < 21; ++m) {
                    double& x = u.sensors[k * 21 + m];
                    x = x * (1.0 + 0.08 * c) + 37.0 * c * static_cast<double>(m % 3);
                }
            }
        return set;
    };
    const HistorySet train = transform(fd001_train(), 7);
    const HistorySet test = transform(fd001_test(), 8);
    const PrognosticsModel model = PrognosticsModel::fit(train);
    CHECK(model.health_indicator().condition_count() == 6);
    const Accuracy a = accuracy(model, test, read_rul_truth(data_dir() / "RUL_FD001.txt"));
    INFO("RMSE " << a.rmse << ", score " << a.score << ", coverage " << a.coverage);
    CHECK(a.rmse < 18.0);
    CHECK(a.coverage >= 0.8);
}

// --- predicted_failures: failures drawn from the RUL distribution drive availability ---------

namespace {

nlohmann::json quantiles(double scale) {
    nlohmann::json q = nlohmann::json::object();
    for (std::size_t k = 0; k < 9; ++k) q[std::string(rul_quantile_names[k])] = scale * (0.5 + static_cast<double>(k));
    return q;
}

/// Two engines, each feeding its own aircraft: eng-1 about to fail (RUL quantiles 0.5 to 8.5 cycles),
/// eng-2 far from it (5,000 to 85,000 cycles).
graph::Snapshot fleet_graph() {
    graph::TwinGraph g;
    const std::vector<std::filesystem::path> files{std::filesystem::path(TWINSIM_SOURCE_DIR) /
                                                   "models/equipment/degrading_equipment.json"};
    g.add_models(dtdl::read_documents(files));
    const std::string engine = "dtmi:twinsim:equipment:TurbofanEngine;1", group = "dtmi:twinsim:equipment:AssetGroup;1";
    g.upsert_twin("eng-1", {{"$metadata", {{"$model", engine}}}, {"capacity", 1.0}, {"operatingState", "running"},
                            {"rulQuantiles", quantiles(1.0)}});
    g.upsert_twin("eng-2", {{"$metadata", {{"$model", engine}}}, {"capacity", 1.0}, {"operatingState", "running"},
                            {"rulQuantiles", quantiles(10000.0)}});
    g.upsert_twin("eng-3", {{"$metadata", {{"$model", engine}}}, {"capacity", 1.0}, {"operatingState", "running"}});
    g.upsert_twin("aircraft-1", {{"$metadata", {{"$model", group}}}, {"capacity", 1.0}, {"available", true}});
    g.upsert_twin("aircraft-2", {{"$metadata", {{"$model", group}}}, {"capacity", 1.0}, {"available", true}});
    g.upsert_relationship("eng-1", "r1", {{"$relationshipName", "feeds"}, {"$targetId", "aircraft-1"}});
    g.upsert_relationship("eng-2", "r2", {{"$relationshipName", "feeds"}, {"$targetId", "aircraft-2"}});
    g.upsert_relationship("eng-3", "r3", {{"$relationshipName", "feeds"}, {"$targetId", "aircraft-2"}});
    return g.snapshot();
}

const std::string fleet_scenario = R"yaml(name: predicted-failures
base: fleet.ndjson
start: "2026-07-01T00:00:00Z"
horizon: PT100H
step: PT1H
seed: 3
behaviours:
  - model: availability
    where: "IS_OF_MODEL('dtmi:twinsim:equipment:DegradingEquipment;1')"
    parameters: {capacity_property: capacity, state_property: operatingState}
  - model: predicted_failures
    where: "IS_OF_MODEL('dtmi:twinsim:equipment:DegradingEquipment;1')"
    parameters: {cycle: PT1H}
  - model: rules
    where: "IS_OF_MODEL('dtmi:twinsim:equipment:AssetGroup;1')"
    parameters:
      rules:
        - name: aircraft capacity
          relationship: feeds
          aggregate: min
          source_property: capacity
          target_property: capacity
        - name: aircraft grounded
          when: "capacity = 0"
          then:
            - set: {available: false}
recording:
  events: true
)yaml";

}  // namespace

TEST_CASE("predicted_failures: quantile sampling follows the distribution", "[prognostics]") {
    // Quantiles of an exponential RUL with mean 100 cycles: samples must reproduce its quantiles.
    std::vector<double> q;
    for (const double p : rul_quantile_levels) q.push_back(-100.0 * std::log(1.0 - p));
    CHECK(rul_from_quantiles(q, 0.5) == Approx(q[4]));
    CHECK(rul_from_quantiles(q, 0.0) >= 0.0);
    CHECK(rul_from_quantiles(q, 0.01) == Approx(q[0]));
    double previous = -1.0;
    for (int i = 0; i <= 100; ++i) {
        const double r = rul_from_quantiles(q, i / 100.0);
        CHECK(r >= previous);
        previous = r;
    }
    std::vector<double> descending = {9, 8, 7, 6, 5, 4, 3, 2, 1};  // damaged input stays monotone
    CHECK(rul_from_quantiles(descending, 0.9) == Approx(9.0));
}

TEST_CASE("predicted_failures: a unit near its end fails early and its dependants become unavailable", "[prognostics]") {
    const graph::Snapshot base = fleet_graph();
    const auto prepared =
        scenario::prepare(scenario::scenario_from_yaml(fleet_scenario, "predicted-failures.yaml"), base, models::builtin_registry());
    std::vector<double> failure_times;
    for (int round = 0; round < 2; ++round) {  // the same replication twice: the same failure time
        scenario::Run run(prepared, 0);
        run.run_to_end();
        const scenario::RunRecord record = run.finish();
        std::vector<const io::EventRecord*> predicted, failures, missing;
        for (const io::EventRecord& e : record.events) {
            if (e.type == "predicted_failure") predicted.push_back(&e);
            if (e.type == "failure") failures.push_back(&e);
            if (e.type == "prediction_missing") missing.push_back(&e);
        }
        REQUIRE(predicted.size() == 1);  // eng-2 is thousands of cycles away; eng-3 has no prediction
        CHECK(predicted[0]->twin == "eng-1");
        CHECK(predicted[0]->time <= 9.0 * 3600.0);
        REQUIRE(failures.size() == 1);  // availability failed it, as an injected event would
        CHECK(failures[0]->twin == "eng-1");
        CHECK(failures[0]->time == predicted[0]->time);
        CHECK(nlohmann::json::parse(failures[0]->detail_json)["cause"] == "event");
        REQUIRE(missing.size() == 1);
        CHECK(missing[0]->twin == "eng-3");
        failure_times.push_back(failures[0]->time);

        // The failure propagated: eng-1 down, its aircraft grounded; the other aircraft flies.
        CHECK(run.graph().get_twin("eng-1")["capacity"] == 0.0);
        CHECK(run.graph().get_twin("eng-1")["operatingState"] == "failed");
        CHECK(run.graph().get_twin("aircraft-1")["capacity"] == 0.0);
        CHECK(run.graph().get_twin("aircraft-1")["available"] == false);
        CHECK(run.graph().get_twin("aircraft-2")["capacity"] == 1.0);
        CHECK(run.graph().get_twin("aircraft-2")["available"] == true);
    }
    CHECK(failure_times[0] == failure_times[1]);

    // Another replication draws another time from the same distribution.
    scenario::Run other(prepared, 1);
    other.run_to_end();
    const scenario::RunRecord record = other.finish();
    const auto it = std::find_if(record.events.begin(), record.events.end(),
                                 [](const io::EventRecord& e) { return e.type == "failure"; });
    REQUIRE(it != record.events.end());
    CHECK(it->time != failure_times[0]);
}

// --- live prognostics: properties follow the readings as they arrive ----------------------------

TEST_CASE("live prognostics: property updates and telemetry keep the RUL properties current", "[prognostics]") {
    auto model = std::make_shared<const PrognosticsModel>(PrognosticsModel::fit(fd001_train()));
    graph::TwinGraph g;
    const std::vector<std::filesystem::path> files{std::filesystem::path(TWINSIM_SOURCE_DIR) /
                                                   "models/equipment/degrading_equipment.json"};
    g.add_models(dtdl::read_documents(files));
    const std::string engine = "dtmi:twinsim:equipment:TurbofanEngine;1";
    for (const char* id : {"engine-a", "engine-b", "engine-c"})
        g.upsert_twin(id, {{"$metadata", {{"$model", engine}}}, {"capacity", 1.0}});
    live::EventRouter router(g);
    LivePrognostics live(g, model, {.horizon = 30.0}, &router);
    const HistorySet& test = fd001_test();
    const UnitHistory& a = test.units[33];  // 203 cycles, RUL 7
    const UnitHistory& b = test.units[0];   // 31 cycles, RUL 112

    // engine-a: one property update per cycle, as an ingestion would write them.
    for (std::size_t k = 0; k < a.rows(); ++k) {
        nlohmann::json patch = nlohmann::json::array();
        for (std::size_t j = 0; j < 3; ++j)
            patch.push_back({{"op", "add"}, {"path", "/" + test.setting_names[j]}, {"value", a.settings[k * 3 + j]}});
        for (std::size_t m = 0; m < 21; ++m)
            patch.push_back({{"op", "add"}, {"path", "/" + test.sensor_names[m]}, {"value", a.sensors[k * 21 + m]}});
        g.update_twin("engine-a", patch);
    }
    // engine-b: one telemetry message per cycle ({"reading": {...}}, the interface's Map telemetry).
    for (std::size_t k = 0; k < b.rows(); ++k) {
        nlohmann::json reading = {{"cycle", b.cycles[k]}};
        for (std::size_t j = 0; j < 3; ++j) reading[test.setting_names[j]] = b.settings[k * 3 + j];
        for (std::size_t m = 0; m < 21; ++m) reading[test.sensor_names[m]] = b.sensors[k * 21 + m];
        router.publish_telemetry("engine-b", {{"reading", reading}});
    }
    REQUIRE(router.flush(std::chrono::seconds(60)));
    live.drain();

    // The same distributions as a batch prediction of the same histories.
    const RulDistribution expect_a = model->predict(a), expect_b = model->predict(b);
    const nlohmann::json ta = g.get_twin("engine-a"), tb = g.get_twin("engine-b");
    CHECK(ta["prognosticsReadings"] == a.rows());
    CHECK(ta["cycle"] == a.cycles.back());
    CHECK(ta["rulMean"].get<double>() == Approx(expect_a.mean()).epsilon(1e-12));
    CHECK(ta["rulP05"] == expect_a.quantile(0.05));
    CHECK(ta["rulP95"] == expect_a.quantile(0.95));
    CHECK(ta["failureProbability"].get<double>() == Approx(expect_a.probability_within(30.0)).epsilon(1e-12));
    CHECK(ta["failureProbability"].get<double>() > 0.5);  // 7 cycles left
    CHECK(ta["rulQuantiles"]["q50"] == expect_a.quantile(0.5));
    CHECK(tb["prognosticsReadings"] == b.rows());
    CHECK(tb["rulMean"].get<double>() == Approx(expect_b.mean()).epsilon(1e-12));
    CHECK(tb["failureProbability"].get<double>() < 0.05);  // young engine
    CHECK_FALSE(g.get_twin("engine-c").contains("rulMean"));  // no readings, no prediction

    const LivePrognosticsStatistics s = live.statistics();
    CHECK(s.readings == a.rows() + b.rows());
    CHECK(s.failures == 0);
    CHECK(s.updates <= s.readings);
    REQUIRE(live.distribution("engine-a"));
    CHECK(live.distribution("engine-a")->pmf == expect_a.pmf);

    // Seeded history: queued all at once, predicted and written in one update_twins call.
    HistorySet seeded;
    seeded.setting_names = test.setting_names;
    seeded.sensor_names = test.sensor_names;
    seeded.units.push_back(test.units[50]);
    seeded.units.back().id = "engine-c";
    seeded.units.push_back(test.units[51]);
    seeded.units.back().id = "not-a-twin";
    const std::uint64_t updates_before = live.statistics().updates;
    CHECK(live.seed(seeded) == 1);  // not-a-twin skipped
    live.drain();
    CHECK(g.get_twin("engine-c")["prognosticsReadings"] == test.units[50].rows());
    CHECK(live.statistics().updates - updates_before == 1);
}
