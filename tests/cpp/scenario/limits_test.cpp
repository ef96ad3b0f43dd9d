// Scenarios and jobs stay bounded: replications, design points, runs, steps,
// samples, expected events and threads are checked against
// scenario/limits.hpp before anything large is allocated; values that cannot
// be written (invalid UTF-8, NaN) and parameters that refer to parameters are
// refused with the file, line and field.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "scenario_errors.hpp"
#include "../graph/graph_fixtures.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"
#include "twinsim/scenario/sweep.hpp"

using namespace twinsim;
using namespace twinsim::scenario;

namespace {

const std::string minimal = "name: m\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 3600\n";

ScenarioError yaml_error(const std::string& extra) {
    return test::scenario_error_of([&] { (void)scenario_from_yaml(minimal + extra, "bad.yaml"); });
}

/// Arrivals at `rate` per hour on every bound twin (a unit 1/h, like the queue model's).
class ArrivalsModel final : public BehaviourModel {
public:
    std::string_view name() const override { return "arrivals"; }
    std::string_view description() const override { return "Poisson arrivals (limits test)"; }
    std::span<const ModelParameter> parameters() const override { return params_; }
    void check(const Binding& b) const override {
        ParameterReader r(b.parameters, params_);
        (void)r.number("rate", 0.0);
        r.finish();
    }
    std::unique_ptr<Behaviour> instantiate(const Binding&, Run&) const override { return nullptr; }

private:
    std::vector<ModelParameter> params_{{"rate", "1/h", "arrivals per hour", 1.0}};
};

const ModelRegistry& registry() {
    static const ModelRegistry r = [] {
        ModelRegistry x;
        x.add(std::make_shared<ArrivalsModel>());
        return x;
    }();
    return r;
}

graph::Snapshot base_snapshot() {
    graph::TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    for (int i = 0; i < 10; ++i) g.upsert_twin(test::numbered("s", i), test::sensor(static_cast<double>(i)));
    return g.snapshot();
}

}  // namespace

TEST_CASE("a sweep grid beyond the design-point limit is refused before it is expanded", "[scenario_limits]") {
    // Two lists of 1,000 values: a million points, ten times the limit; the
    // file is small, the expansion would not be.
    std::string a = "0";
    for (int i = 1; i < 1000; ++i) a.append(", ").append(std::to_string(i));
    const std::string b = a;
    const auto e = yaml_error("sweep:\n  grid:\n    a: [" + a + "]\n    b: [" + b + "]\n");
    CHECK(e.file() == "bad.yaml");
    CHECK(e.line() == 8);
    CHECK(e.field() == "sweep.grid.b");
    CHECK_THAT(e.reason(), Catch::Contains("100000") && Catch::Contains("the limit on design points"));
    // A grid within the limit is fine.
    CHECK_NOTHROW(scenario_from_yaml(minimal + "sweep:\n  grid:\n    a: [" + a + "]\n    b: [1, 2]\n", "ok.yaml"));
}

TEST_CASE("Latin hypercube samples and list points share the design-point limit", "[scenario_limits]") {
    const auto e = yaml_error("sweep:\n  latin_hypercube: {samples: 100001, ranges: {a: [0, 1]}}\n");
    CHECK(e.field() == "sweep.latin_hypercube.samples");
    CHECK_THAT(e.reason(), Catch::Contains("the limit on design points"));
}

TEST_CASE("replications beyond the limit are refused naming the field, in a file and after an override", "[scenario_limits]") {
    const auto e = yaml_error("replications: 1000000000\n");
    CHECK(e.line() == 5);
    CHECK(e.field() == "replications");
    CHECK_THAT(e.reason(), Catch::Contains("between 1 and 1000000") && Catch::Contains("the limit on replications"));
    // Set in code after reading (what --replications does): expand() and prepare() check it.
    auto s = scenario_from_yaml(minimal, "m.yaml");
    s.replications = 2'000'000;
    CHECK(test::scenario_error_of([&] { (void)expand(s); }).field() == "replications");
    CHECK(test::scenario_error_of([&] { (void)prepare(s, base_snapshot(), registry()); }).field() == "replications");
}

TEST_CASE("design points times replications beyond the run limit are refused", "[scenario_limits]") {
    const auto e = yaml_error("replications: 1000\nsweep:\n  latin_hypercube: {samples: 100000, ranges: {a: [0, 1]}}\n");
    CHECK(e.field() == "replications");
    CHECK_THAT(e.reason(), Catch::Contains("100000000 runs") && Catch::Contains("the limit on runs per scenario"));
}

TEST_CASE("a run with more steps than the limit is refused at read time, naming step", "[scenario_limits]") {
    const auto tiny = test::scenario_error_of([] {
        (void)scenario_from_yaml("name: m\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 3600\nstep: 1e-300\n", "s.yaml");
    });
    CHECK(tiny.line() == 5);
    CHECK(tiny.field() == "step");
    CHECK_THAT(tiny.reason(), Catch::Contains("steps per run") && Catch::Contains("the limit on steps per run"));
    const auto huge = test::scenario_error_of([] {
        (void)scenario_from_yaml("name: m\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 1e300\n", "s.yaml");
    });
    CHECK(huge.field() == "step");
    CHECK_THAT(huge.reason(), Catch::Contains("e+298 steps"));
}

TEST_CASE("an interval series with more samples than the limit is refused, naming its interval", "[scenario_limits]") {
    const auto e = yaml_error("recording:\n  series:\n    - {properties: [value], interval: 1e-9}\n");
    CHECK(e.line() == 7);
    CHECK(e.field() == "recording.series[0].interval");
    CHECK_THAT(e.reason(), Catch::Contains("the limit on samples of a series"));
}

TEST_CASE("a rate that makes a run expect more events than the limit is refused at prepare time", "[scenario_limits]") {
    const std::string text = minimal + "behaviours:\n  - model: arrivals\n    parameters: {rate: 9e18}\n";
    const auto s = scenario_from_yaml(text, "rate.yaml");
    const auto e = test::scenario_error_of([&] { (void)prepare(s, base_snapshot(), registry()); });
    CHECK(e.file() == "rate.yaml");
    CHECK(e.line() == 7);
    CHECK(e.field() == "behaviours[0].parameters.rate");
    CHECK_THAT(e.reason(), Catch::Contains("the limit on expected events per run"));
    // An ordinary rate prepares.
    CHECK_NOTHROW(prepare(scenario_from_yaml(minimal + "behaviours:\n  - model: arrivals\n    parameters: {rate: 100}\n",
                                             "ok.yaml"),
                          base_snapshot(), registry()));
}

TEST_CASE("a thread count beyond the limit is refused before any file is created", "[scenario_limits]") {
    const auto dir = std::filesystem::temp_directory_path() / ("twinsim-limits-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto scenarios = prepare_all({scenario_from_yaml(minimal, "m.yaml")}, base_snapshot(), registry());
    RunnerOptions options;
    options.threads = 100000;
    const auto e = test::scenario_error_of([&] { (void)run_job(scenarios, dir / "out.h5", options); });
    CHECK(e.field() == "threads");
    CHECK_THAT(e.reason(), Catch::Contains("256") && Catch::Contains("the limit on threads"));
    CHECK(std::filesystem::is_empty(dir));  // no results file, no temporary file
    std::filesystem::remove_all(dir);
}

TEST_CASE("invalid UTF-8 in a name is refused naming the field, not a JSON library's type error", "[scenario_limits]") {
    const auto e = test::scenario_error_of([] {
        (void)scenario_from_yaml("name: \"ok\"\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 60\nkpis:\n"
                                 "  - {name: \"bad\xC3\x28name\", statistic: event_count}\n",
                                 "utf.yaml");
    });
    CHECK(e.line() == 6);
    CHECK(e.field() == "kpis[0].name");
    CHECK_THAT(e.reason(), Catch::Contains("not valid UTF-8") && Catch::Contains("\\xC3("));
    CHECK_THAT(e.what(), !Catch::Contains("type_error"));
    CHECK(test::scenario_error_of([] { (void)scenario_from_yaml("name: \"\xFF\"\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 60\n",
                                                 "n.yaml"); })
              .field() == "name");
}

TEST_CASE("NaN and infinity are reported as such, not as null", "[scenario_limits]") {
    CHECK(yaml_error("step: .nan\n").reason() == "must be a finite number, not NaN");
    CHECK(yaml_error("parameters:\n  x: .inf\n").reason() == "must be a finite number, not infinity");
    CHECK(yaml_error("overrides:\n  - set: {v: -.inf}\n").field() == "overrides[0].set.v");
    nlohmann::ordered_json doc = {{"name", "m"}, {"base", "live"}, {"start", "2026-01-01T00:00:00Z"}, {"horizon", 60},
                                  {"parameters", {{"x", std::nan("")}}}};
    const auto e = test::scenario_error_of([&] { (void)from_json(doc); });
    CHECK(e.field() == "parameters.x");
    CHECK(e.reason() == "must be a finite number, not NaN");
}

TEST_CASE("a parameter that refers to itself, or to another parameter, is refused before any run", "[scenario_limits]") {
    const auto self = yaml_error("parameters:\n  x: \"${x}\"\n");
    CHECK(self.line() == 6);
    CHECK(self.field() == "parameters.x");
    CHECK_THAT(self.reason(), Catch::Contains("refers to itself"));
    const auto cycle = yaml_error("parameters:\n  x: \"${y}\"\n  y: \"${x}\"\n");
    CHECK(cycle.field() == "parameters.x");
    CHECK_THAT(cycle.reason(), Catch::Contains("cannot refer to another parameter"));
    CHECK(yaml_error("parameters:\n  x: [1, \"${x}\"]\n").field() == "parameters.x[1]");
    CHECK(yaml_error("sweep:\n  grid: {a: [\"${a}\"]}\n").field() == "sweep.grid.a[0]");
}

TEST_CASE("a JSON syntax error is told in our words with a short excerpt", "[scenario_limits]") {
    const std::string secret(500, 'S');
    const auto e = test::scenario_error_of([&] { (void)scenario_from_json_text("{\n  \"name\": " + secret + "\n}", "s.json"); });
    CHECK(e.line() == 2);
    CHECK_THAT(e.reason(), Catch::StartsWith("JSON syntax error at column 1"));
    CHECK_THAT(e.what(), !Catch::Contains("parse_error") && !Catch::Contains("last read"));
    CHECK(std::string(e.what()).find(std::string(60, 'S')) == std::string::npos);
}

TEST_CASE("a scenario document above 16 MiB is refused from its size, as a file and as text", "[scenario_limits]") {
    const auto dir = std::filesystem::temp_directory_path() / ("twinsim-limits-size-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = dir / "huge.yaml";
    {
        std::ofstream out(file, std::ios::binary);
        out << "horizon: PT1H\n";
    }
    std::filesystem::resize_file(file, limits::max_document_bytes + 1);  // sparse: nothing is written
    try {
        (void)read_scenario_file(file);
        FAIL("a 16 MiB + 1 file was read");
    } catch (const ScenarioError& e) {
        CHECK_THAT(e.what(), Catch::Contains("huge.yaml") && Catch::Contains("16 MiB"));
    }
    std::filesystem::remove_all(dir);
    const std::string text(limits::max_document_bytes + 1, ' ');
    CHECK_THROWS_WITH(scenario_from_yaml(text, "big.yaml"), Catch::Contains("big.yaml") && Catch::Contains("16 MiB"));
    CHECK_THROWS_WITH(scenario_from_json_text(text, "big.json"), Catch::Contains("16 MiB"));
}
