// The what-if path end to end: prepare (checks with file/line), Run of a
// prepared scenario (parameters, overrides, behaviours, injected events,
// recorder, KPIs), and the parallel runner (determinism at 1/2/8 threads,
// isolated failures, cancellation, summaries across replications).
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "../graph/graph_fixtures.hpp"
#include "twinsim/common/statistics.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

constexpr int sensors = 40;

graph::Snapshot base_snapshot() {
    graph::TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    for (int i = 0; i < sensors; ++i) g.upsert_twin(test::numbered("s", i), test::sensor(static_cast<double>(i)));
    g.upsert_twin("room", test::room(21.0));
    return g.snapshot();
}

/// A test model. `script`: [[t, value], ...] written to every bound twin at
/// time t. `jitter` (mean seconds): each twin rewrites its value with a
/// uniform draw at exponential intervals from its own sub-stream.
/// `fail_replication`: that replication throws at t = 100. Handles the event
/// "set" ({"value": v}) and "explode" (throws).
class TestModel final : public scenario::BehaviourModel {
public:
    std::string_view name() const override { return "test"; }
    std::string_view description() const override { return "scripted writes for the runner's tests"; }
    std::span<const scenario::ModelParameter> parameters() const override { return params_; }
    std::vector<std::string> events() const override { return {"set", "explode"}; }
    void check(const scenario::Binding& b) const override {
        scenario::ParameterReader r(b.parameters, params_);
        (void)scenario::numeric_columns(*b.graph, b.twins, r.string("property"), "property");
        (void)r.number("jitter", 0.0);
        (void)r.number("scale", 0.0);
        r.finish();
    }
    std::unique_ptr<scenario::Behaviour> instantiate(const scenario::Binding& b, scenario::Run& run) const override {
        scenario::ParameterReader r(b.parameters, params_);
        auto out = std::make_unique<Behaviour>();
        out->twins.assign(b.twins.begin(), b.twins.end());
        out->columns = scenario::numeric_columns(*b.graph, b.twins, r.string("property"), "property");
        out->script = r.raw("script");
        out->jitter = r.required_number("jitter", 0.0);
        out->scale = r.required_number("scale", 0.0);
        out->fail = r.raw("fail_replication").get<std::int64_t>() == static_cast<std::int64_t>(run.replication());
        for (const auto t : b.twins) out->streams.push_back(run.twin_stream(b.index, t));
        return out;
    }

private:
    struct Tick {
        std::uint32_t kind;  // 0 script step, 1 jitter, 2 fail
        std::uint32_t index;
    };
    struct Behaviour final : scenario::Behaviour {
        std::vector<graph::TwinIndex> twins;
        std::vector<std::uint32_t> columns;
        std::vector<kernel::RandomStream> streams;
        json script;
        double jitter = 0, scale = 1;
        bool fail = false;
        kernel::EventType<Tick> type{};
        void start(scenario::Run& run) override {
            auto& sim = run.simulator();
            type = sim.on<Tick>([this, &run](kernel::Simulator& s, const Tick& t) {
                if (t.kind == 2) throw Error("the test model failed on purpose");
                if (t.kind == 0) {
                    const double v = script[t.index][1].get<double>();
                    std::vector<graph::PropertyWrite> w;
                    for (std::size_t i = 0; i < twins.size(); ++i) w.push_back({twins[i], columns[i], v, std::nullopt});
                    run.write(w);
                    return;
                }
                auto& r = streams[t.index];
                run.write(twins[t.index], columns[t.index], std::floor(r.uniform01() * 100.0 * scale));
                s.schedule(type, -std::log(r.uniform_open()) * jitter, t);
            });
            for (std::uint32_t k = 0; k < script.size(); ++k)
                sim.schedule_at(type, script[k][0].get<double>(), Tick{0, k});
            if (jitter > 0)
                for (std::uint32_t i = 0; i < twins.size(); ++i)
                    sim.schedule(type, -std::log(streams[i].uniform_open()) * jitter, Tick{1, i});
            if (fail) sim.schedule_at(type, 100.0, Tick{2, 0});
        }
        bool on_event(scenario::Run& run, graph::TwinIndex twin, std::string_view event, const json& data) override {
            if (event == "explode") throw Error("exploded");
            if (event != "set") return false;
            for (std::size_t i = 0; i < twins.size(); ++i)
                if (twins[i] == twin) run.write(twin, columns[i], data.at("value").get<double>());
            run.log_event(run.graph().snapshot().twin_id(twin), "set", data);
            return true;
        }
    };
    std::vector<scenario::ModelParameter> params_{
        {"property", "", "the numeric property written", json()},
        {"script", "", "[[t, value], ...]", json::array()},
        {"jitter", "s", "mean time between random rewrites (0: none)", 0.0},
        {"scale", "1", "scale of the random values", 1.0},
        {"fail_replication", "", "replication that throws at t = 100 (-1: none)", -1},
    };
};

const scenario::ModelRegistry& registry() {
    static const scenario::ModelRegistry r = [] {
        scenario::ModelRegistry x;
        x.add(std::make_shared<TestModel>());
        return x;
    }();
    return r;
}

std::filesystem::path scratch(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("twinsim-runner-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

const char* scripted = R"(
name: scripted
base: live
start: "2026-07-01T00:00:00Z"
horizon: 1000
replications: 2
seed: 5
models:
  - model: test
    where: "IS_OF_MODEL('dtmi:test:Sensor;1') AND $dtId IN ['s1', 's2']"
    parameters:
      property: value
      script: [[100, 10], [300, 30], [600, 5]]
recording:
  series:
    - where: "$dtId IN ['s1', 's2']"
      properties: [value]
      interval: 250
      on_change: true
kpis:
  - {name: avg, statistic: mean, where: "$dtId = 's1'", property: value}
  - {name: lo, statistic: min, where: "$dtId = 's1'", property: value}
  - {name: hi, statistic: max, where: "$dtId = 's1'", property: value}
  - {name: last, statistic: final, where: "$dtId = 's1'", property: value}
  - {name: area, statistic: integral, where: "$dtId = 's1'", property: value}
  - {name: above, statistic: time_above, where: "$dtId = 's1'", property: value, threshold: 9}
  - {name: below, statistic: time_below, where: "$dtId = 's1'", property: value, threshold: 9}
  - {name: excess, statistic: excess_above, where: "$dtId = 's1'", property: value, threshold: 9}
  - {name: deficit, statistic: excess_below, where: "$dtId = 's1'", property: value, threshold: 9}
  - {name: sum, statistic: final, where: "$dtId IN ['s1', 's2']", property: value, over: sum}
  - {name: sets, statistic: event_count, event: set}
)";

}  // namespace

TEST_CASE("runner: KPIs of a run are exact time statistics of the piecewise-constant signal", "[runner]") {
    const auto spec = scenario::scenario_from_yaml(scripted, "scripted.yaml");
    const auto prepared = scenario::prepare(spec, base_snapshot(), registry());
    scenario::Run run(prepared, 0);
    CHECK(run.run_to_end() == kernel::StopReason::horizon);
    const scenario::RunRecord r = run.finish();
    // s1 = 1 on [0,100), 10 on [100,300), 30 on [300,600), 5 on [600,1000].
    auto kpi = [&](const std::string& name) {
        for (const auto& k : r.kpis)
            if (k.name == name) return k.value;
        FAIL("no KPI " << name);
        return 0.0;
    };
    const double integral = 1 * 100 + 10 * 200 + 30 * 300 + 5 * 400;  // value-seconds
    CHECK(kpi("avg") == Approx(integral / 1000).epsilon(1e-12));
    CHECK(kpi("lo") == 1.0);
    CHECK(kpi("hi") == 30.0);
    CHECK(kpi("last") == 5.0);
    CHECK(kpi("area") == Approx(integral / 3600).epsilon(1e-12));
    CHECK(kpi("above") == Approx(500.0 / 3600).epsilon(1e-12));
    CHECK(kpi("below") == Approx(500.0 / 3600).epsilon(1e-12));
    // Degree-hours beyond 9: (10 - 9) * 200 + (30 - 9) * 300 above, (9 - 1) * 100 + (9 - 5) * 400 below.
    CHECK(kpi("excess") == Approx((1.0 * 200 + 21.0 * 300) / 3600).epsilon(1e-12));
    CHECK(kpi("deficit") == Approx((8.0 * 100 + 4.0 * 400) / 3600).epsilon(1e-12));
    CHECK(kpi("sum") == 10.0);
    CHECK(kpi("sets") == 0.0);

    // Interval samples at 0, 250, 500, 750, 1000 (after the writes of their instant).
    REQUIRE(r.samples.size() == 2);
    CHECK(r.samples[0] == std::vector<double>{1, 2, 10, 10, 30, 30, 5, 5, 5, 5});
    // On-change: the initial values, then one record per twin and write.
    REQUIRE(r.changes[1].size() == 2 + 3 * 2);
    CHECK(r.changes[1][2].time == 100.0);
    CHECK(r.changes[1][2].value == 10.0);
}

TEST_CASE("runner: prepare refuses bad scenarios naming file, line and field", "[runner]") {
    const graph::Snapshot base = base_snapshot();
    auto refuse = [&](const std::string& from, const std::string& to, const std::string& field, std::uint32_t line,
                      const std::string& reason) {
        std::string text = scripted;
        const auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
        try {
            (void)scenario::prepare(scenario::scenario_from_yaml(text, "bad.yaml"), base, registry());
            FAIL("accepted: " << to);
        } catch (const scenario::ScenarioError& e) {
            CHECK(e.file() == "bad.yaml");
            CHECK(e.field() == field);
            CHECK(e.line() == line);
            CHECK_THAT(e.what(), Catch::Contains(reason));
        }
    };
    refuse("model: test", "model: nosuch", "models[0].model", 9, "unknown model \"nosuch\" (known: test)");
    refuse("property: value\n      script", "property: nosuch\n      script", "models[0].parameters.property", 12,
           "has no property \"nosuch\"");
    refuse("      script: [[100", "      colour: 3\n      script: [[100", "models[0].parameters.colour", 13, "unknown parameter");
    refuse("properties: [value]", "properties: [name]", "recording.series[0].properties[0]", 17, "has a property \"name\"");
    refuse("where: \"$dtId = 's1'\", property: value}", "where: \"$dtId = 'zz'\", property: value}", "kpis[0].property", 21,
           "matches no twin");
    refuse("models:", "events: [{at: 10, event: set, twin: nobody}]\nmodels:", "events[0].twin", 8, "no twin \"nobody\"");
    refuse("models:", "events: [{at: 10, event: melt, twin: s1}]\nmodels:", "events[0].event", 8, "handles the event \"melt\"");
}

TEST_CASE("runner: parameters, overrides and injected events reach the run", "[runner]") {
    std::string text = scripted;
    text.replace(text.find("models:"), 7, R"(parameters:
  level: {distribution: uniform, low: 50, high: 60}
  fixed: 7
overrides:
  - set: {value: "${level}"}
    where: "$dtId = 's3'"
events:
  - {at: 400, event: set, twin: s2, data: {value: "${fixed}"}}
models:)");
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "p.yaml"), base_snapshot(), registry());
    scenario::Run a(prepared, 0);
    scenario::Run b(prepared, 1);
    const double la = a.parameters().at("level").get<double>();
    const double lb = b.parameters().at("level").get<double>();
    CHECK(la >= 50);
    CHECK(la < 60);
    CHECK(la != lb);
    CHECK(a.value(*a.graph().find("s3"), a.base().models()->get("dtmi:test:Sensor;1").layout.find("value")->column) == la);
    (void)a.run_to_end();
    const auto r = a.finish();
    REQUIRE(r.events.size() == 2);  // the injected "set" (logged by the runner) and the model's log entry
    CHECK(r.events[0].type == "set");
    CHECK(r.events[0].time == 400.0);
    CHECK(r.events[0].twin == "s2");
    CHECK(json::parse(r.events[0].detail_json) == json{{"value", 7}});
    for (const auto& k : r.kpis)
        if (k.name == "sets") CHECK(k.value == 2.0);
}

namespace {

std::vector<std::shared_ptr<const scenario::PreparedScenario>> jittery(std::uint32_t replications, bool failing = false) {
    std::string text = scripted;
    text.replace(text.find("replications: 2"), 15, "replications: " + std::to_string(replications));
    text.replace(text.find("AND $dtId IN ['s1', 's2']"), 25, "");
    text.replace(text.find("script: [[100, 10], [300, 30], [600, 5]]"), 40,
                 std::string("jitter: 7\n      scale: 3") + (failing ? "\n      fail_replication: 2" : ""));
    auto spec = scenario::scenario_from_yaml(text, "j.yaml");
    auto other = spec;
    other.name = "other";
    other.seed = 6;
    return scenario::prepare_all({spec, other}, base_snapshot(), registry());
}

struct FileContent {
    std::vector<std::string> scenarios;
    std::vector<io::SeriesData> series;
    std::vector<std::vector<io::EventRecord>> events;
    std::vector<std::vector<io::KpiRow>> kpis;
    bool operator==(const FileContent& o) const {
        if (scenarios != o.scenarios || events != o.events || kpis != o.kpis || series.size() != o.series.size()) return false;
        for (std::size_t i = 0; i < series.size(); ++i) {
            const auto& a = series[i];
            const auto& b = o.series[i];
            if (a.twin_ids != b.twin_ids || a.times != b.times || a.values.size() != b.values.size()) return false;
            // bit for bit (NaN == NaN)
            if (std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) != 0) return false;
        }
        return true;
    }
};

FileContent read_back(const std::filesystem::path& path) {
    io::ResultsReader reader(path);
    FileContent c;
    c.scenarios = reader.scenarios();
    for (const auto& s : c.scenarios) {
        for (const auto& n : reader.series_names(s)) c.series.push_back(reader.read_series(s, n));
        c.events.push_back(reader.read_events(s));
        c.kpis.push_back(reader.read_kpis(s));
    }
    return c;
}

}  // namespace

TEST_CASE("runner: results are bit-identical at 1, 2 and 8 threads", "[runner]") {
    const auto scenarios = jittery(12);
    std::vector<FileContent> contents;
    for (const unsigned threads : {1u, 2u, 8u}) {
        const auto path = scratch("threads-" + std::to_string(threads) + ".h5");
        scenario::RunnerOptions o;
        o.threads = threads;
        o.writer.sync = false;
        const auto result = scenario::run_job(scenarios, path, o);
        CHECK(result.failures.empty());
        CHECK(result.progress.runs_done == 24);
        CHECK(result.progress.fraction() == Approx(1.0));
        CHECK(result.progress.events > 24 * 40 * 100);
        contents.push_back(read_back(path));
    }
    REQUIRE(contents[0].series.size() == 4);  // value + value.changes, two scenarios
    CHECK(contents[0].series[0].shape() == std::array<std::size_t, 3>{12, 5, 2});
    // Replications differ from each other, and the two scenarios' seeds differ.
    CHECK(contents[0].series[0].at(0, 2, 0) != contents[0].series[0].at(1, 2, 0));
    CHECK(contents[0] == contents[1]);
    CHECK(contents[0] == contents[2]);
}

TEST_CASE("runner: a failing run is reported and spoils nobody else's results", "[runner]") {
    const auto path = scratch("failing.h5");
    scenario::RunnerOptions o;
    o.threads = 2;
    o.writer.sync = false;
    const auto result = scenario::run_job(jittery(4, true), path, o);
    REQUIRE(result.failures.size() == 2);  // replication 2 of both scenarios
    CHECK(result.failures[0].replication == 2);
    CHECK_THAT(result.failures[0].message, Catch::Contains("failed on purpose"));
    const auto good = scenario::run_job(jittery(4, false), scratch("good.h5"), o);
    const FileContent bad = read_back(path);
    const FileContent ok = read_back(scratch("good.h5"));
    const auto& a = bad.series[0];
    const auto& b = ok.series[0];
    for (std::size_t r = 0; r < 4; ++r)
        for (std::size_t t = 0; t < a.times.size(); ++t)
            for (std::size_t n = 0; n < a.twin_ids.size(); ++n) {
                if (r == 2)
                    CHECK(std::isnan(a.at(r, t, n)));
                else
                    CHECK(a.at(r, t, n) == b.at(r, t, n));
            }
    bool logged = false;
    for (const auto& e : bad.events[0]) logged = logged || (e.type == "run_failed" && e.replication == 2);
    CHECK(logged);
    for (const auto& k : result.kpis) CHECK(k.n == 3);
}

TEST_CASE("runner: cancelling leaves no results file", "[runner]") {
    const auto path = scratch("cancelled.h5");
    std::filesystem::remove(path);
    scenario::RunnerOptions o;
    o.threads = 2;
    o.progress_interval = 0.001;
    int calls = 0;
    o.progress = [&](const scenario::Progress&) { return ++calls < 2; };
    std::string text = scripted;
    text.replace(text.find("horizon: 1000"), 13, "horizon: 100000000");
    text.replace(text.find("script: [[100, 10], [300, 30], [600, 5]]"), 40, "jitter: 1");
    const auto scenarios = scenario::prepare_all({scenario::scenario_from_yaml(text, "c.yaml")}, base_snapshot(), registry());
    CHECK_THROWS_AS(scenario::run_job(scenarios, path, o), scenario::Cancelled);
    CHECK_FALSE(std::filesystem::exists(path));
    for (const auto& f : std::filesystem::directory_iterator(path.parent_path()))
        CHECK(f.path().filename().string().find("cancelled.h5.partial") == std::string::npos);
}

TEST_CASE("runner: summaries across replications use the t distribution", "[runner]") {
    const std::vector<double> v{1, 2, 3, 4, 5};
    const auto s = scenario::summarize(v);
    CHECK(s.n == 5);
    CHECK(s.mean == 3.0);
    CHECK(s.std == Approx(std::sqrt(2.5)).epsilon(1e-14));
    const double half = 2.776445105 * std::sqrt(2.5) / std::sqrt(5.0);
    CHECK(s.ci95_low == Approx(3 - half).epsilon(1e-9));
    CHECK(s.ci95_high == Approx(3 + half).epsilon(1e-9));
    const std::vector<double> one{4};
    CHECK(std::isnan(scenario::summarize(one).std));
    // Large n: the normal quantile's neighbourhood.
    std::vector<double> many(1000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<double>(i % 2);
    const auto m = scenario::summarize(many);
    CHECK((m.ci95_high - m.mean) / (m.std / std::sqrt(1000.0)) == Approx(1.962339).epsilon(1e-5));
}

TEST_CASE("runner: a duration's or count's confidence interval never goes below zero", "[runner]") {
    // Hours above 26 degC in five runs: mostly none, once three. The t interval
    // of the mean is about [-0.93, 1.93]; a duration cannot be negative.
    const std::vector<double> hours{0, 0, 0, 0, 3};
    const auto plain = scenario::summarize(hours);
    REQUIRE(plain.ci95_low < 0);
    for (const char* statistic : {"time_above", "time_below", "excess_above", "excess_below", "count"}) {
        INFO(statistic);
        const auto s = scenario::summarize(hours, statistic_range(statistic));
        CHECK(s.ci95_low == 0.0);
        CHECK(s.ci95_high == plain.ci95_high);  // the upper end is the t interval's
        CHECK(s.mean == plain.mean);
    }
    // A statistic that may be negative keeps the t interval.
    for (const char* statistic : {"mean", "min", "max", "final", "integral"}) {
        INFO(statistic);
        const auto s = scenario::summarize(hours, statistic_range(statistic));
        CHECK(s.ci95_low == plain.ci95_low);
    }
    // Clipping never moves an interval that is already inside the range.
    const std::vector<double> far{10, 11, 12, 13};
    CHECK(scenario::summarize(far, statistic_range("time_above")).ci95_low == scenario::summarize(far).ci95_low);
}

TEST_CASE("runner: percentiles across replications interpolate linearly between the sorted values", "[runner]") {
    // Unsorted on purpose; numpy.percentile([5, 1, 4, 2, 3], [50, 90, 95]) = [3, 4.6, 4.8].
    const std::vector<double> v{5, 1, 4, 2, 3};
    const auto s = scenario::summarize(v);
    CHECK(s.p50 == 3.0);
    CHECK(s.p90 == Approx(4.6).epsilon(1e-15));
    CHECK(s.p95 == Approx(4.8).epsilon(1e-15));
    const std::vector<double> one{7};
    const auto single = scenario::summarize(one);
    CHECK((single.p50 == 7.0 && single.p90 == 7.0 && single.p95 == 7.0));
    const std::vector<double> none;
    CHECK(std::isnan(scenario::summarize(none).p50));
    // numpy.percentile(range(10), [50, 90, 95]) = [4.5, 8.1, 8.55]
    std::vector<double> ten(10);
    for (std::size_t i = 0; i < ten.size(); ++i) ten[i] = static_cast<double>(9 - i);
    const auto t = scenario::summarize(ten);
    CHECK(t.p50 == Approx(4.5).epsilon(1e-15));
    CHECK(t.p90 == Approx(8.1).epsilon(1e-14));
    CHECK(t.p95 == Approx(8.55).epsilon(1e-14));
}

TEST_CASE("runner: the results file holds percentile rows and intervals inside the statistic's range", "[runner]") {
    std::string text = scripted;
    text.replace(text.find("replications: 2"), 15, "replications: 6");
    // s1 rises above 9 only in some replications: a duration that is 0 in most runs.
    text.replace(text.find("script: [[100, 10], [300, 30], [600, 5]]"), 40, "jitter: 200");
    text += "  - {name: rare, statistic: time_above, where: \"$dtId = 's1'\", property: value, threshold: 90}\n"
            "  - {name: only mean, statistic: max, where: \"$dtId = 's1'\", property: value, across: [mean]}\n";
    const auto scenarios = scenario::prepare_all({scenario::scenario_from_yaml(text, "p.yaml")}, base_snapshot(), registry());
    const auto path = std::filesystem::temp_directory_path() / ("twinsim-percentiles-" + std::to_string(::getpid()) + ".h5");
    std::filesystem::remove(path);
    scenario::RunnerOptions o;
    o.threads = 2;
    const auto job = scenario::run_job(scenarios, path, o);
    const io::ResultsReader reader(path);
    std::map<std::pair<std::string, std::string>, double> summary;
    std::map<std::string, std::vector<double>> runs;
    for (const io::KpiRow& row : reader.read_kpis("scripted")) {
        if (row.replication == io::all_replications) summary[{row.name, row.aggregate}] = row.value;
        else runs[row.name].push_back(row.value);
    }
    std::filesystem::remove(path);
    REQUIRE(runs["rare"].size() == 6);
    for (const char* name : {"avg", "above", "rare", "sets"}) {
        INFO(name);
        for (const char* aggregate : {"mean", "std", "ci95_low", "ci95_high", "p50", "p90", "p95", "n"})
            CHECK(summary.count({name, aggregate}) == 1);
        std::vector<double> sorted = runs[name];
        std::sort(sorted.begin(), sorted.end());
        CHECK(summary[{name, "p50"}] == Approx(percentile_of_sorted(sorted, 0.5)).epsilon(1e-15));
        CHECK(summary[{name, "p95"}] == Approx(percentile_of_sorted(sorted, 0.95)).epsilon(1e-15));
        CHECK(summary[{name, "p50"}] >= sorted.front());
        CHECK(summary[{name, "p95"}] <= sorted.back());
    }
    // Durations and counts: never below zero.
    for (const char* name : {"above", "below", "rare", "excess", "deficit", "sets"}) {
        INFO(name);
        CHECK(summary[{name, "ci95_low"}] >= 0.0);
    }
    // `across: [mean]`: only the mean and n.
    CHECK(summary.count({"only mean", "mean"}) == 1);
    CHECK(summary.count({"only mean", "p50"}) == 0);
    CHECK(summary.count({"only mean", "ci95_low"}) == 0);
    // The job's summaries are the file's.
    for (const scenario::KpiSummary& k : job.kpis)
        if (k.name == "rare") CHECK(k.p90 == summary[{"rare", "p90"}]);
}

TEST_CASE("runner: event_count with over: each gives one row per twin", "[runner]") {
    std::string text = scripted;
    text.replace(text.find("models:"), 7, R"(events:
  - {at: 400, event: set, twin: s2, data: {value: 1}}
  - {at: 500, event: set, twin: s2, data: {value: 2}}
  - {at: 450, event: set, twin: s1, data: {value: 3}}
models:)");
    text += "  - {name: sets per twin, statistic: event_count, event: set, where: \"$dtId IN ['s1', 's2', 's3']\", "
            "over: each}\n"
            "  - {name: sets busiest, statistic: event_count, event: set, where: \"$dtId IN ['s1', 's2', 's3']\", "
            "over: max}\n"
            "  - {name: sets of all twins, statistic: event_count, event: set, over: each}\n";
    const auto spec = scenario::scenario_from_yaml(text, "each.yaml");
    // event_count's default is one total: `over` left out means sum.
    REQUIRE(spec.kpis[10].name == "sets");
    CHECK(spec.kpis[10].over == scenario::KpiSpec::Over::sum);
    const auto prepared = scenario::prepare(spec, base_snapshot(), registry());
    scenario::Run run(prepared, 0);
    (void)run.run_to_end();
    const scenario::RunRecord r = run.finish();
    std::map<std::string, std::map<std::string, double>> rows;  // KPI -> selection -> value
    for (const auto& k : r.kpis) rows[k.name][k.selection] = k.value;
    // Each injected "set" is logged twice (by the runner and by the test model), on its twin.
    std::map<std::string, double> logged;
    for (const auto& e : r.events)
        if (e.type == "set") logged[e.twin] += 1.0;
    REQUIRE(logged == std::map<std::string, double>{{"s1", 2.0}, {"s2", 4.0}});
    // The fleet-wide total, as before.
    CHECK(rows["sets"] == std::map<std::string, double>{{"set", 6.0}});
    // One row per selected twin, named by its id, each with its own events.
    CHECK(rows["sets per twin"] == std::map<std::string, double>{{"s1", 2.0}, {"s2", 4.0}, {"s3", 0.0}});
    CHECK(rows["sets busiest"].size() == 1);
    CHECK(rows["sets busiest"].begin()->second == 4.0);
    CHECK(rows["sets busiest"].begin()->first.rfind("max over ", 0) == 0);
    // Without `where`: every twin of the graph.
    CHECK(rows["sets of all twins"].size() == static_cast<std::size_t>(sensors) + 1);
    CHECK(rows["sets of all twins"]["s2"] == 4.0);
    CHECK(rows["sets of all twins"]["room"] == 0.0);
    for (const auto& k : r.kpis)
        if (k.name == "sets per twin") CHECK(k.statistic == "count");
}

TEST_CASE("runner: structural edits in the import-file form apply before the run", "[runner]") {
    std::string text = scripted;
    text.replace(text.find("models:"), 7, R"(edits:
  - add_twin: {"$dtId": s99, "$metadata": {"$model": "dtmi:test:Sensor;1"}, value: 99}
  - add_relationship: {"$dtId": s99, "$relationshipId": watches, "$targetId": room, "$relationshipName": observes}
  - remove_twin: s5
models:)");
    const auto prepared = scenario::prepare(scenario::scenario_from_yaml(text, "e.yaml"), base_snapshot(), registry());
    CHECK(prepared->graph.contains("s99"));
    CHECK_FALSE(prepared->graph.contains("s5"));
    CHECK(prepared->graph.get_relationship("s99", "watches")["$targetId"] == "room");

    std::string bad = text;
    bad.replace(bad.find("$targetId\": room"), 16, "$targetId\": nobody");
    try {
        (void)scenario::prepare(scenario::scenario_from_yaml(bad, "e.yaml"), base_snapshot(), registry());
        FAIL("accepted a relationship to a missing twin");
    } catch (const scenario::ScenarioError& e) {
        CHECK(e.field() == "edits[1]");
        CHECK(e.line() == 10);
        CHECK_THAT(e.what(), Catch::Contains("nobody"));
    }
}

// --- plan, execute, reduce; shards and merge ------------------------------------------

#include "twinsim/io/errors.hpp"
#include "twinsim/io/merge.hpp"
#include "twinsim/scenario/execute.hpp"
#include "twinsim/scenario/plan.hpp"
#include "twinsim/scenario/reduce.hpp"

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Everything a results file holds besides the root attribute `created`.
void require_same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    CHECK(read_back(a) == read_back(b));
    io::ResultsReader ra(a);
    io::ResultsReader rb(b);
    const io::FileAttributes fa = ra.attributes();
    const io::FileAttributes fb = rb.attributes();
    CHECK(fa.format_version == fb.format_version);
    CHECK(fa.twinsim_version == fb.twinsim_version);
    CHECK(fa.identity.base_graph_source == fb.identity.base_graph_source);
    CHECK(fa.identity.base_graph_version == fb.identity.base_graph_version);
    CHECK(fa.identity.description == fb.identity.description);
    CHECK_FALSE(rb.shard());
    for (const std::string& s : ra.scenarios()) {
        const io::ScenarioDefinition da = ra.scenario(s);
        const io::ScenarioDefinition db = rb.scenario(s);
        CHECK(da.spec_json == db.spec_json);
        CHECK(da.parameters_json == db.parameters_json);
        CHECK(da.seed == db.seed);
        CHECK(da.replications == db.replications);
        CHECK(da.start == db.start);
        CHECK(ra.series_names(s) == rb.series_names(s));
        for (const std::string& n : ra.series_names(s)) {
            const io::SeriesData x = ra.read_series(s, n);
            const io::SeriesData y = rb.read_series(s, n);
            CHECK(x.unit == y.unit);
            CHECK(x.model == y.model);
            CHECK(x.property == y.property);
            CHECK(x.description == y.description);
        }
    }
}

}  // namespace

TEST_CASE("runner: a job plans into one task per replication that round-trips through JSON", "[runner]") {
    const auto scenarios = jittery(3);
    const scenario::JobPlan plan = scenario::plan_job(scenarios);
    REQUIRE(plan.tasks.size() == 6);
    CHECK(plan.job.size() == 32);
    for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
        const scenario::RunTask& t = plan.tasks[i];
        CHECK(t.index == i);
        CHECK(t.job == plan.job);
        CHECK(t.scenario_index == i / 3);
        CHECK(t.replication == i % 3);
        CHECK(t.scenario == scenarios[i / 3]->spec.name);
        CHECK(t.seed == scenarios[i / 3]->spec.seed);
        CHECK(t.base.id == "live");
        CHECK(t.base.digest == scenario::snapshot_digest(base_snapshot()));
        CHECK(scenario::task_from_json(json::parse(scenario::to_json(t).dump())) == t);
    }
    // A whole job's list (no id, nothing digested) is the plan's, task for task.
    const std::vector<scenario::RunTask> listed = scenario::list_tasks(scenarios);
    REQUIRE(listed.size() == plan.tasks.size());
    for (std::size_t i = 0; i < listed.size(); ++i) {
        scenario::RunTask expected = plan.tasks[i];
        expected.job.clear();
        expected.spec = nlohmann::ordered_json();
        expected.base = {};
        CHECK(listed[i] == expected);
    }
    // The same scenarios planned again (another process) make the same job; another seed another one.
    CHECK(scenario::plan_job(jittery(3)).job == plan.job);
    CHECK(scenario::plan_job(jittery(4)).job != plan.job);
    // Shards: task i in shard i mod N, every task in exactly one.
    const auto first = scenario::shard_tasks(plan, 0, 4);
    const auto last = scenario::shard_tasks(plan, 3, 4);
    REQUIRE(first.size() == 2);
    CHECK(first[1].index == 4);
    CHECK(last.size() == 1);
    CHECK_THROWS_AS(scenario::shard_tasks(plan, 4, 4), Error);

    json bad = json::parse(scenario::to_json(plan.tasks[0]).dump());
    bad["replication"] = -1;
    try {
        (void)scenario::task_from_json(bad);
        FAIL("accepted a negative replication");
    } catch (const scenario::ScenarioError& e) {
        CHECK(e.field() == "task.replication");
    }
    bad.erase("spec");
    CHECK_THROWS_WITH(scenario::task_from_json(bad), Catch::Contains("task.spec"));
}

TEST_CASE("runner: a task prepared again from its JSON runs to the same results", "[runner]") {
    const auto scenarios = jittery(3);
    const scenario::RunTask task = scenario::plan_job(scenarios).tasks[4];  // scenario "other", replication 1
    const scenario::RunTask shipped = scenario::task_from_json(json::parse(scenario::to_json(task).dump()));
    const auto again = scenario::prepare_task(shipped, base_snapshot(), registry());
    scenario::MemorySink here;
    scenario::MemorySink there;
    const scenario::TaskOutcome a = scenario::execute(scenarios[1], task, here);
    const scenario::TaskOutcome b = scenario::execute(again, shipped, there);
    REQUIRE(a.record);
    REQUIRE(b.record);
    CHECK(a.record->kpis == b.record->kpis);
    CHECK(a.record->events == b.record->events);
    CHECK(a.events == b.events);
    const auto sa = here.samples("other", 0, 1);
    const auto sb = there.samples("other", 0, 1);
    REQUIRE(sa.size() == 5 * 2);
    CHECK(std::memcmp(sa.data(), sb.data(), sa.size() * sizeof(double)) == 0);

    // Another base graph: refused, naming the digests.
    graph::TwinGraph other(test::test_options());
    auto docs = test::building_models();
    other.add_models(docs);
    other.upsert_twin("room", test::room(21.0));
    CHECK_THROWS_WITH(scenario::prepare_task(shipped, other.snapshot(), registry()), Catch::Contains("task.base.digest"));
    // A task of another scenario is refused by execute.
    CHECK_THROWS_AS(scenario::execute(scenarios[0], task, here), Error);
}

TEST_CASE("runner: execute then reduce in memory gives run_job's summaries and series", "[runner]") {
    const auto scenarios = jittery(4, true);
    const auto path = scratch("stages.h5");
    scenario::RunnerOptions o;
    o.threads = 2;
    o.writer.sync = false;
    const scenario::JobResult job = scenario::run_job(scenarios, path, o);

    scenario::MemorySink sink;
    std::vector<scenario::KpiSummary> kpis;
    std::vector<scenario::RunFailure> failures;
    const scenario::JobPlan plan = scenario::plan_job(scenarios);
    for (const auto& s : scenarios) {
        std::vector<io::RunResults> runs;
        for (const scenario::RunTask& t : plan.tasks)
            if (t.scenario == s->spec.name) runs.push_back(scenario::run_results(*s, scenario::execute(s, t, sink)));
        const scenario::ReducedScenario reduced = scenario::reduce(*s, runs);
        kpis.insert(kpis.end(), reduced.kpis.begin(), reduced.kpis.end());
        failures.insert(failures.end(), reduced.failures.begin(), reduced.failures.end());
    }
    REQUIRE(kpis.size() == job.kpis.size());
    for (std::size_t i = 0; i < kpis.size(); ++i) {
        CHECK(kpis[i].name == job.kpis[i].name);
        CHECK(kpis[i].n == 3);
        CHECK(same_bits(kpis[i].mean, job.kpis[i].mean));
        CHECK(same_bits(kpis[i].ci95_high, job.kpis[i].ci95_high));
    }
    REQUIRE(failures.size() == 2);
    CHECK(failures[0].replication == 2);
    io::ResultsReader reader(path);
    const io::SeriesData file = reader.read_series("scripted", "value");
    for (std::uint32_t r = 0; r < 4; ++r) {
        if (r == 2) continue;  // the failed run
        const auto memory = sink.samples("scripted", 0, r);
        REQUIRE(memory.size() == file.times.size() * file.twin_ids.size());
        CHECK(std::memcmp(memory.data(), file.values.data() + r * memory.size(), memory.size() * sizeof(double)) == 0);
    }
}

TEST_CASE("runner: results shards merge into the file a single process writes", "[runner]") {
    const auto scenarios = jittery(5, true);  // failures included
    scenario::RunnerOptions o;
    o.threads = 2;
    o.writer.sync = false;
    const auto whole = scratch("whole.h5");
    (void)scenario::run_job(scenarios, whole, o);

    std::vector<std::filesystem::path> shards;
    std::size_t runs = 0;
    const auto plan = std::make_shared<const scenario::JobPlan>(scenario::plan_job(scenarios));
    for (std::uint32_t k = 0; k < 3; ++k) {
        scenario::RunnerOptions s = o;
        s.threads = k + 1;
        s.shard_index = k;
        s.shard_count = 3;
        if (k == 1) s.plan = plan;  // the caller's plan: the same shard as run_job's own planning
        shards.push_back(scratch("shard-" + std::to_string(k) + ".h5"));
        const auto result = scenario::run_job(scenarios, shards.back(), s);
        CHECK(result.kpis.empty());
        runs += result.progress.runs_total;
        const auto identity = io::ResultsReader(shards.back()).shard();
        REQUIRE(identity);
        CHECK(identity->job == plan->job);
        CHECK(identity->index == k);
        CHECK(identity->count == 3);
    }
    {
        // A given plan is used as given, not planned again (no base digested): its job id
        // is the one the shard carries.
        scenario::JobPlan renamed = *plan;
        renamed.job = "given";
        scenario::RunnerOptions s = o;
        s.shard_count = 3;
        s.plan = std::make_shared<const scenario::JobPlan>(renamed);
        const auto path = scratch("shard-given.h5");
        (void)scenario::run_job(scenarios, path, s);
        CHECK(io::ResultsReader(path).shard()->job == "given");
    }
    CHECK(runs == 10);
    const auto merged = scratch("merged.h5");
    const std::vector<std::filesystem::path> shuffled{shards[2], shards[0], shards[1]};
    io::merge_results(shuffled, merged, {.overwrite = true, .sync = false});
    require_same_file(whole, merged);
    // `created` is the earliest shard's.
    std::string earliest = io::ResultsReader(shards[0]).attributes().created;
    for (const auto& s : shards) earliest = std::min(earliest, io::ResultsReader(s).attributes().created);
    CHECK(io::ResultsReader(merged).attributes().created == earliest);
    // A distributed job's own shards: merged without the forked whole-file read, the same file.
    const auto own = scratch("merged-own.h5");
    io::merge_results(shuffled, own, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
    require_same_file(whole, own);
    {
        // Rows of some replications only: those of the whole series.
        const io::ResultsReader reader = io::ResultsReader::open_own_file(whole);
        const std::string scenario = reader.scenarios().front();
        const std::string series = reader.series_names(scenario).front();
        const io::SeriesData all = reader.read_series(scenario, series);
        const io::SeriesData info = reader.series_info(scenario, series);
        CHECK(info.values.empty());
        CHECK(info.replications == all.replications);
        const std::size_t cells = all.times.size() * all.twin_ids.size();
        const std::vector<double> rows = reader.read_series_replications(scenario, series, 1, 2);
        REQUIRE(rows.size() == 2 * cells);
        CHECK(std::memcmp(rows.data(), all.values.data() + cells, rows.size() * sizeof(double)) == 0);
        CHECK_THROWS_WITH(reader.read_series_replications(scenario, series, all.replications - 1, 2),
                          Catch::Contains("past its"));
    }
    {
        // The own shards' series were copied as stored chunks: the merged file holds the
        // shards' compressed bytes, one chunk row per replication, not a recompression.
        const io::ResultsReader out = io::ResultsReader::open_own_file(own);
        const std::string scenario = out.scenarios().front();
        const std::string series = out.series_names(scenario).front();
        const io::StoredSeriesChunks stored = out.read_series_chunks(scenario, series, 0, 5);
        CHECK(stored.chunk[0] == 1);
        REQUIRE_FALSE(stored.filters.empty());  // shuffle + deflate, the writer's default
        REQUIRE_FALSE(stored.chunks.empty());
        std::size_t compared = 0;
        for (const auto& path : shards) {
            const io::ResultsReader shard = io::ResultsReader::open_own_file(path);
            const io::StoredSeriesChunks from = shard.read_series_chunks(scenario, series, 0, 5);
            CHECK(from.filters == stored.filters);
            for (const auto& chunk : from.chunks) {
                const auto same = std::find_if(stored.chunks.begin(), stored.chunks.end(),
                                               [&](const auto& c) { return c.offset == chunk.offset; });
                REQUIRE(same != stored.chunks.end());
                CHECK(same->bytes == chunk.bytes);
                ++compared;
            }
        }
        CHECK(compared == stored.chunks.size());
        CHECK_THROWS_WITH(out.read_series_chunks(scenario, series, 4, 2), Catch::Contains("past its"));
    }
    {
        // Shards of another layout (uncompressed) are decoded and written: still the same file.
        std::vector<std::filesystem::path> plain;
        for (std::uint32_t k = 0; k < 3; ++k) {
            scenario::RunnerOptions s = o;
            s.shard_index = k;
            s.shard_count = 3;
            s.writer.deflate = 0;
            plain.push_back(scratch("plain-" + std::to_string(k) + ".h5"));
            (void)scenario::run_job(scenarios, plain.back(), s);
        }
        const io::ResultsReader first = io::ResultsReader::open_own_file(plain[0]);
        const std::string scenario = first.scenarios().front();
        CHECK(first.read_series_chunks(scenario, first.series_names(scenario).front(), 0, 1).filters.empty());
        const auto out = scratch("merged-plain.h5");
        io::merge_results(plain, out, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
        require_same_file(whole, out);
    }

    SECTION("a single shard of one is the whole job") {
        scenario::RunnerOptions s = o;
        s.shard_count = 1;
        const auto one = scratch("one.h5");
        (void)scenario::run_job(scenarios, one, s);
        const auto out = scratch("one-merged.h5");
        io::merge_results(std::vector{one}, out, {.overwrite = true, .sync = false});
        require_same_file(whole, out);
    }
}

TEST_CASE("runner: a shard's runs come back from their binary form bit for bit, and damaged bytes are refused",
          "[runner]") {
    io::ShardRuns shard;
    shard.layout.scenario = "plant[buffer=3]";
    shard.layout.replications = 7;
    shard.layout.on_change.push_back({"Pool.size", "1", {"machinists", "assemblers"}, {}, "dtmi:x;1", "size", "staff"});
    shard.layout.summaries.push_back({"throughput", {"mean", "ci95_low", "ci95_high"}});
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::uint32_t r : {3U, 4U}) {
        io::RunResults run;
        run.replication = r;
        if (r == 4) run.failure = "behaviour 'x' threw: \"quoted\"\n";
        run.parameters_json = R"({"buffer":3})";
        run.events.push_back({r, 14478.586018862878, "a-rework", "failure", R"({"cause":"random"})"});
        run.events.push_back({r, -0.0, "", "rule", ""});
        run.kpis.push_back({"throughput", "plant", "final", static_cast<std::int32_t>(r), "", 8.1326992753623, "1"});
        run.kpis.push_back({"late", "plant", "final", static_cast<std::int32_t>(r), "", nan, ""});
        run.changes.push_back({{0.0, 0, 9.0}, {0.0, 1, nan}, {3600.5, 1, std::numeric_limits<double>::infinity()}});
        shard.runs.push_back(run);
    }
    const std::string bytes = io::encode_shard_runs_binary(shard);
    const io::ShardRuns back = io::decode_shard_runs_binary(bytes);
    CHECK(back.layout.scenario == shard.layout.scenario);
    CHECK(back.layout.replications == 7);
    REQUIRE(back.layout.on_change.size() == 1);
    CHECK(back.layout.on_change[0].twin_ids == shard.layout.on_change[0].twin_ids);
    CHECK(back.layout.on_change[0].description == "staff");
    CHECK(back.layout.summaries == shard.layout.summaries);
    REQUIRE(back.runs.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const io::RunResults& a = shard.runs[i];
        const io::RunResults& b = back.runs[i];
        CHECK(b.replication == a.replication);
        CHECK(b.failure == a.failure);
        CHECK(b.parameters_json == a.parameters_json);
        CHECK(b.events == a.events);
        CHECK(std::signbit(b.events[1].time));  // -0.0 kept
        REQUIRE(b.kpis.size() == 2);
        CHECK(b.kpis[0] == a.kpis[0]);
        CHECK(std::isnan(b.kpis[1].value));
        REQUIRE(b.changes.size() == 1);
        REQUIRE(b.changes[0].size() == 3);
        CHECK(b.changes[0][0] == a.changes[0][0]);
        CHECK(std::isnan(b.changes[0][1].value));
        CHECK(b.changes[0][2] == a.changes[0][2]);
    }
    // Smaller than the JSON text of the same runs.
    CHECK(bytes.size() < io::encode_shard_runs(shard).size());
    // Every cut is refused with a message, as is a byte too many or a foreign header.
    for (std::size_t cut = 0; cut < bytes.size(); cut += 7)
        CHECK_THROWS_AS(io::decode_shard_runs_binary(std::string_view(bytes).substr(0, cut)), std::invalid_argument);
    CHECK_THROWS_WITH(io::decode_shard_runs_binary(bytes + "x"), Catch::Contains("bytes left"));
    CHECK_THROWS_WITH(io::decode_shard_runs_binary("{\"runs\": []}"), Catch::Contains("header"));
    // A count far larger than the bytes behind it is refused before anything is allocated.
    std::string forged = bytes.substr(0, 6);
    const std::uint32_t huge = 0xFFFFFFF0U;
    forged.append(reinterpret_cast<const char*>(&huge), 4);
    CHECK_THROWS_WITH(io::decode_shard_runs_binary(forged), Catch::Contains("truncated"));
}

TEST_CASE("runner: a streaming merge writes each scenario once its batches are in, and the file merge_results writes",
          "[runner]") {
    const auto scenarios = jittery(5, true);  // 2 scenarios x 5 replications, a failing run
    scenario::RunnerOptions o;
    o.threads = 1;
    o.writer.sync = false;
    const auto whole = scratch("stream-whole.h5");
    (void)scenario::run_job(scenarios, whole, o);
    // Batches of 3 consecutive tasks, as a distributed job cuts them: scenario 0 is in
    // batches 1 and 2, scenario 1 in batches 2, 3 and 4.
    const scenario::JobPlan plan = scenario::plan_job(scenarios);
    REQUIRE(plan.tasks.size() == 10);
    std::vector<std::filesystem::path> batches;
    for (std::uint32_t b = 0; b < 4; ++b) {
        scenario::RunnerOptions s = o;
        s.shard_index = b;
        s.shard_count = 4;
        s.tasks = scenario::batch_task_indices(plan, b, 3);
        batches.push_back(scratch("stream-batch-" + std::to_string(b) + ".h5"));
        (void)scenario::run_job(scenarios, batches.back(), s);
    }
    const auto out = scratch("stream-merged.h5");
    std::filesystem::remove(out);
    {
        io::ShardMerger merger(out, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
        CHECK(merger.scenarios_written() == 0);
        merger.add(batches[3]);  // the last batch first: nothing complete yet
        CHECK(merger.scenarios_written() == 0);
        merger.add(batches[0]);
        CHECK(merger.scenarios_written() == 0);  // scenario 0's replications 3 and 4 are in batch 2
        merger.add(batches[1]);
        CHECK(merger.scenarios_written() == 1);  // scenario 0 written while batch 3 is still out
        CHECK_FALSE(std::filesystem::exists(out));  // the file appears only when it is complete
        merger.add(batches[2]);
        CHECK(merger.scenarios_written() == 2);
        const io::MergeReport report = merger.finish();
        REQUIRE(report.scenarios.size() == 2);
        REQUIRE(report.scenarios[0].failures.size() == 1);
        CHECK(report.scenarios[0].failures[0].first == 2);
    }
    require_same_file(whole, out);
    // merge_results of the same shards: the same file.
    const auto all_at_once = scratch("stream-all.h5");
    (void)io::merge_results(batches, all_at_once, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
    require_same_file(out, all_at_once);
    // `created`: the first shard added's (batch 4's here).
    CHECK(io::ResultsReader(out).attributes().created == io::ResultsReader(batches[3]).attributes().created);

    const auto refused = scratch("stream-refused.h5");
    std::filesystem::remove(refused);
    {
        io::ShardMerger merger(refused, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
        merger.add(batches[0]);
        merger.add(batches[1]);
        try {
            merger.add(batches[1]);
            FAIL("added twice");
        } catch (const io::ResultsError& e) {
            CHECK(e.path() == batches[1].string());
            CHECK_THAT(e.what(), Catch::Contains("the shards overlap"));
        }
        CHECK_THROWS_WITH(merger.add(batches[2]), Catch::Contains("already failed"));
    }
    CHECK_FALSE(std::filesystem::exists(refused));  // scenario 0 was written, but no file is left
    {
        io::ShardMerger merger(refused, {.overwrite = true, .sync = false}, io::ShardCheck::own_files);
        merger.add(batches[0]);
        merger.add(batches[2]);
        merger.add(batches[3]);
        try {
            (void)merger.finish();
            FAIL("finished");
        } catch (const io::ResultsError& e) {
            CHECK(e.path() == refused.string());
            CHECK_THAT(e.what(), Catch::Contains("shard 2/4 of job") && Catch::Contains("is missing"));
        }
    }
    CHECK_FALSE(std::filesystem::exists(refused));
    {
        io::ShardMerger merger(refused, {.overwrite = true, .sync = false});
        CHECK_THROWS_WITH(merger.finish(), Catch::Contains("no shards"));
    }
}

TEST_CASE("runner: merge refuses missing, overlapping and foreign shards, naming the file", "[runner]") {
    const auto scenarios = jittery(3);
    scenario::RunnerOptions o;
    o.threads = 1;
    o.writer.sync = false;
    std::vector<std::filesystem::path> shards;
    for (std::uint32_t k = 0; k < 2; ++k) {
        o.shard_index = k;
        o.shard_count = 2;
        shards.push_back(scratch("refuse-" + std::to_string(k) + ".h5"));
        (void)scenario::run_job(scenarios, shards.back(), o);
    }
    o.shard_index = 0;
    const auto foreign = scratch("foreign.h5");
    (void)scenario::run_job(jittery(4), foreign, o);
    o.shard_count = 0;
    const auto plain = scratch("plain.h5");
    (void)scenario::run_job(scenarios, plain, o);

    const auto out = scratch("refused.h5");
    std::filesystem::remove(out);
    auto refused = [&](std::vector<std::filesystem::path> inputs, const std::string& file, const std::string& why) {
        try {
            io::merge_results(inputs, out, {.overwrite = true, .sync = false});
            FAIL("merged");
        } catch (const io::ResultsError& e) {
            CHECK(e.path() == file);
            CHECK_THAT(e.what(), Catch::Contains(why));
        }
        CHECK_FALSE(std::filesystem::exists(out));
    };
    refused({shards[0]}, out.string(), "shard 2/2 of job");
    refused({shards[0], shards[1], shards[0]}, shards[0].string(), "the shards overlap");
    refused({shards[0], foreign}, foreign.string(), "shards of different jobs cannot be merged");
    refused({shards[0], plain}, plain.string(), "not a results shard");
    refused({}, out.string(), "no shards");
    io::merge_results(shards, out, {.overwrite = true, .sync = false});
    CHECK(std::filesystem::exists(out));
}

#include "twinsim/scenario/resume.hpp"

TEST_CASE("runner: a resumable job reuses its finished batches and writes the file of one run", "[runner][resume]") {
    const auto scenarios = jittery(5, true);  // 10 tasks, failures included
    scenario::RunnerOptions o;
    o.threads = 2;
    o.writer.sync = false;
    const auto whole = scratch("resume-whole.h5");
    const scenario::JobResult single = scenario::run_job(scenarios, whole, o);

    const auto out = scratch("resumed.h5");
    const auto parts = scratch("resumed-parts");
    std::filesystem::remove_all(parts);
    scenario::ResumeOptions resume;
    resume.parts = parts;
    resume.batch_size = 3;  // 4 batches: 3, 3, 3, 1 tasks
    resume.keep_parts = true;
    std::vector<std::string> notices;
    resume.notice = [&](const std::string& m) { notices.push_back(m); };
    scenario::ResumeReport report;
    const scenario::JobResult first = scenario::run_job_resumable(scenarios, out, o, resume, &report);
    CHECK(report.batches == 4);
    CHECK(report.reused == 0);
    require_same_file(whole, out);
    REQUIRE(first.kpis.size() == single.kpis.size());
    for (std::size_t i = 0; i < first.kpis.size(); ++i) {
        CHECK(first.kpis[i].scenario == single.kpis[i].scenario);
        CHECK(same_bits(first.kpis[i].mean, single.kpis[i].mean));
        CHECK(same_bits(first.kpis[i].ci95_low, single.kpis[i].ci95_low));
    }
    REQUIRE(first.failures.size() == single.failures.size());
    CHECK(first.failures[0].replication == single.failures[0].replication);
    CHECK(first.progress.runs_total == 10);

    SECTION("all batches there: nothing runs again") {
        std::size_t runs_started = 0;
        scenario::RunnerOptions again = o;
        again.threads = 1;  // another thread count finds the same batches
        again.progress = [&](const scenario::Progress& p) {
            runs_started = p.runs_done;
            return true;
        };
        const auto second = scratch("resumed-again.h5");
        (void)scenario::run_job_resumable(scenarios, second, again, resume, &report);
        CHECK(report.reused == 4);
        CHECK(report.refused == 0);
        CHECK(runs_started == 10);
        require_same_file(whole, second);
        CHECK(notices.empty());
    }
    SECTION("a batch file of another batching or damaged is refused and run again") {
        std::filesystem::copy_file(parts / "batch-2-of-4.h5", parts / "batch-2-copy.h5");
        std::filesystem::copy_file(parts / "batch-1-of-4.h5", parts / "batch-2-of-4.h5",
                                   std::filesystem::copy_options::overwrite_existing);
        std::filesystem::resize_file(parts / "batch-3-of-4.h5", 1000);
        const auto second = scratch("resumed-refused.h5");
        resume.keep_parts = false;
        (void)scenario::run_job_resumable(scenarios, second, o, resume, &report);
        CHECK(report.reused == 2);
        CHECK(report.refused == 2);
        REQUIRE(notices.size() == 2);
        CHECK(notices[0].find("batch-2-of-4.h5: not reused (it is shard 1/4, not batch 2/4)") != std::string::npos);
        CHECK(notices[1].find("batch-3-of-4.h5: not reused (not a valid twinsim results file") != std::string::npos);
        require_same_file(whole, second);
        CHECK(!std::filesystem::exists(parts / "batch-1-of-4.h5"));
        CHECK(std::filesystem::exists(parts / "batch-2-copy.h5"));  // not ours: the folder stays
    }
    SECTION("bad calls") {
        scenario::RunnerOptions shard = o;
        shard.shard_count = 2;
        CHECK_THROWS_WITH(scenario::run_job_resumable(scenarios, out, shard, resume),
                          Catch::Contains("runs the whole job"));
        CHECK_THROWS_WITH(scenario::run_job_resumable(scenarios, "", o, resume), Catch::Contains("needs an output file"));
        scenario::RunnerOptions listed = o;
        listed.shard_count = 1;
        listed.tasks = {0, 0};
        CHECK_THROWS_WITH(scenario::run_job(scenarios, scratch("x.h5"), listed), Catch::Contains("task 0 is given twice"));
        listed.tasks = {10};
        CHECK_THROWS_WITH(scenario::run_job(scenarios, scratch("x.h5"), listed),
                          Catch::Contains("task 10 is not in the job (it has 10 tasks)"));
    }
}

#include "twinsim/scenario/precision.hpp"

TEST_CASE("runner: sequential replications stop when every target half-width is met, at any thread count",
          "[runner][precision]") {
    const auto scenarios = jittery(3);  // "scripted" and "other", jittered values
    scenario::PrecisionOptions precision;
    precision.targets = {{"avg", "", 0.0, false}};
    precision.max_replications = 200;
    // a target half as wide as three replications give: about four times the replications
    scenario::RunnerOptions o;
    o.writer.sync = false;
    o.threads = 1;
    const auto first = scenario::run_job(scenarios, "", o);
    double h3 = 0;
    for (const auto& k : first.kpis)
        if (k.name == "avg" && k.scenario == "scripted") h3 = scenario::half_width(k);
    REQUIRE(std::isfinite(h3));
    REQUIRE(h3 > 0);
    precision.targets[0].half_width = h3 / 2;

    std::vector<scenario::PrecisionResult> results;
    for (const unsigned threads : {1u, 3u}) {
        o.threads = threads;
        results.push_back(scenario::run_until_precise(scenarios, scratch("precise-" + std::to_string(threads) + ".h5"),
                                                      o, precision));
    }
    const auto& r = results[0];
    CHECK(r.unmet.empty());
    CHECK(r.rounds >= 2);
    CHECK(r.replications[0] > 3);
    for (const auto& k : r.job.kpis) {
        if (k.name != "avg") continue;
        CHECK(scenario::half_width(k) <= h3 / 2);
        CHECK(k.n == r.replications[k.scenario == "scripted" ? 0 : 1]);
    }
    // the same counts, rounds and bits at 3 threads
    CHECK(results[1].replications == r.replications);
    CHECK(results[1].rounds == r.rounds);
    REQUIRE(results[1].job.kpis.size() == r.job.kpis.size());
    for (std::size_t i = 0; i < r.job.kpis.size(); ++i) CHECK(same_bits(results[1].job.kpis[i].mean, r.job.kpis[i].mean));
    require_same_file(scratch("precise-1.h5"), scratch("precise-3.h5"));
    CHECK(io::ResultsReader(scratch("precise-1.h5")).scenario("scripted").replications == r.replications[0]);

    SECTION("relative targets, and a maximum that stops short") {
        precision.targets = {{"avg", "", 1e-9, true}};
        precision.max_replications = 5;
        const auto capped = scenario::run_until_precise(scenarios, "", o, precision);
        CHECK(capped.replications == std::vector<std::uint32_t>{5, 5});
        REQUIRE(capped.unmet.size() == 2);
        CHECK(capped.unmet[0].find("scripted: avg") == 0);
        CHECK(capped.unmet[0].find("at n = 5") != std::string::npos);
    }
    SECTION("bad targets") {
        precision.targets = {{"nosuch", "", 1.0, false}};
        CHECK_THROWS_WITH(scenario::run_until_precise(scenarios, "", o, precision),
                          Catch::Contains("no scenario of the job has a KPI named 'nosuch'"));
        precision.targets = {{"avg", "", 0.0, false}};
        CHECK_THROWS_WITH(scenario::run_until_precise(scenarios, "", o, precision), Catch::Contains("must be > 0"));
        precision.targets = {};
        CHECK_THROWS_WITH(scenario::run_until_precise(scenarios, "", o, precision), Catch::Contains("no KPI target"));
        precision.targets = {{"avg", "", 1.0, false}};
        precision.max_replications = 1;
        CHECK_THROWS_WITH(scenario::run_until_precise(scenarios, "", o, precision), Catch::Contains("from 2 to"));
    }
}
