// Scenario specs: reading YAML and JSON, validation errors with file, line and
// field, sweep expansion, the JSON round trip and the committed examples.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "scenario_errors.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/scenario/scenario_spec.hpp"
#include "twinsim/scenario/sweep.hpp"

using namespace twinsim;
using namespace twinsim::scenario;

namespace {

const std::filesystem::path examples = std::filesystem::path(TWINSIM_SOURCE_DIR) / "scenarios" / "building";

// Every field, in YAML.
const char* full_yaml = R"yaml(name: full
description: every field
base: building.ndjson
start: "2026-07-01T12:00:00+02:00"
horizon: P1DT12H
step: PT30S
replications: 8
seed: 99
parameters:
  cap: 250
  mode: eco
  delay: {distribution: exponential, mean: 60}
  load: {distribution: normal, mean: 1.0, sd: 0.1}
  life: {distribution: weibull, shape: 1.5, scale: 1000}
  pick: {distribution: empirical, values: [1, 2, 3], weights: [1, 0, 2]}
overrides:
  - set: {coolingCapacity: "${cap}", operatingState: running}
    where: "IS_OF_MODEL('dtmi:twinsim:building:Chiller;1') AND $dtId = 'chiller-1'"
  - set: {temperatureSetpoint: 24.5}
edits:
  - add_twin: {"$dtId": chiller-3, "$metadata": {"$model": "dtmi:twinsim:building:Chiller;1"}, coolingCapacity: 200.0}
  - add_relationship: {"$dtId": room-plant, "$relationshipId": loc-3, "$targetId": chiller-3, "$relationshipName": isLocationOf}
  - remove_relationship: {source: room-plant, id: isLocationOf-1}
  - remove_twin: chiller-2
events:
  - {at: PT14H, event: fail, twin: chiller-1, data: {severity: "${load}"}}
  - {at: 3600, event: repair, twin: chiller-1}
  - {at: "2026-07-01T13:00:00+02:00", event: alarm, twin: room-plant}
sweep:
  grid:
    cap: [100, 200]
    mode: [eco, boost]
recording:
  series:
    - where: "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
      properties: [temperature, occupancy]
      interval: PT5M
      on_change: true
    - properties: [operatingState]
      on_change: true
  events: false
kpis:
  - {name: hot, statistic: time_above, where: "temperature > 0", property: temperature, threshold: 26, over: max, across: [mean, ci95]}
  - {name: fails, statistic: event_count, event: fail}
  - {name: energy, statistic: integral, property: power, over: sum}
)yaml";

void check_full(const ScenarioSpec& s) {
    CHECK(s.name == "full");
    CHECK(s.description == "every field");
    CHECK(s.base == "building.ndjson");
    CHECK(s.start == *parse_timestamp("2026-07-01T10:00:00Z"));
    CHECK(s.horizon == 36 * 3600.0);
    CHECK(s.step == 30.0);
    CHECK(s.replications == 8);
    CHECK(s.seed == 99);
    REQUIRE(s.parameters.size() == 6);
    CHECK(s.parameters[0].name == "cap");
    CHECK(*s.parameters[0].value == 250);
    CHECK(*s.parameters[1].value == "eco");
    CHECK(s.parameters[2].distribution->kind == DistributionSpec::Kind::exponential);
    CHECK(s.parameters[3].distribution->params == std::vector<double>{1.0, 0.1});
    CHECK(s.parameters[4].distribution->kind == DistributionSpec::Kind::weibull);
    CHECK(s.parameters[5].distribution->values == std::vector<double>{1, 2, 3});
    CHECK(s.parameters[5].distribution->weights == std::vector<double>{1, 0, 2});
    REQUIRE(s.overrides.size() == 2);
    CHECK(s.overrides[0].set == nlohmann::json{{"coolingCapacity", "${cap}"}, {"operatingState", "running"}});
    CHECK(s.overrides[0].where.starts_with("IS_OF_MODEL("));
    CHECK(s.overrides[1].where.empty());
    REQUIRE(s.edits.size() == 4);
    CHECK(s.edits[0].kind == StructuralEdit::Kind::add_twin);
    CHECK(s.edits[0].body["$dtId"] == "chiller-3");
    CHECK(s.edits[0].body["coolingCapacity"] == 200.0);
    CHECK(s.edits[1].kind == StructuralEdit::Kind::add_relationship);
    CHECK(s.edits[2].kind == StructuralEdit::Kind::remove_relationship);
    CHECK(s.edits[2].twin_id == "room-plant");
    CHECK(s.edits[2].relationship_id == "isLocationOf-1");
    CHECK(s.edits[3].kind == StructuralEdit::Kind::remove_twin);
    CHECK(s.edits[3].twin_id == "chiller-2");
    REQUIRE(s.events.size() == 3);
    CHECK(s.events[0].at == 14 * 3600.0);
    CHECK(s.events[0].event == "fail");
    CHECK(s.events[0].twin == "chiller-1");
    CHECK(s.events[0].data == nlohmann::json{{"severity", "${load}"}});
    CHECK(s.events[1].at == 3600.0);
    CHECK(s.events[1].data == nlohmann::json::object());
    CHECK(s.events[2].at == 3600.0);  // absolute instant, one hour after the start
    REQUIRE(s.sweep);
    CHECK(s.sweep->kind == SweepSpec::Kind::grid);
    REQUIRE(s.sweep->grid.size() == 2);
    CHECK(s.sweep->grid[0].first == "cap");
    CHECK(s.sweep->grid[1].second == std::vector<nlohmann::json>{"eco", "boost"});
    REQUIRE(s.recording.series.size() == 2);
    CHECK(s.recording.series[0].properties == std::vector<std::string>{"temperature", "occupancy"});
    CHECK(*s.recording.series[0].interval == 300.0);
    CHECK(s.recording.series[0].on_change);
    CHECK_FALSE(s.recording.series[1].interval);
    CHECK(s.recording.series[1].where.empty());
    CHECK_FALSE(s.recording.events);
    REQUIRE(s.kpis.size() == 3);
    CHECK(s.kpis[0].statistic == KpiSpec::Statistic::time_above);
    CHECK(*s.kpis[0].threshold == 26.0);
    CHECK(s.kpis[0].over == KpiSpec::Over::max);
    CHECK(s.kpis[0].across == std::vector<KpiSpec::Across>{KpiSpec::Across::mean, KpiSpec::Across::ci95});
    CHECK(s.kpis[1].statistic == KpiSpec::Statistic::event_count);
    CHECK(s.kpis[1].event == "fail");
    CHECK(s.kpis[1].across.size() == 4);  // mean, std, ci95, percentiles
    CHECK(s.kpis[1].across.back() == KpiSpec::Across::percentiles);
    CHECK(s.kpis[1].over == KpiSpec::Over::sum);  // event_count's default: one total
    CHECK(s.kpis[2].over == KpiSpec::Over::sum);
}

const char* minimal = "name: m\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: 3600\n";

ScenarioError yaml_error(const std::string& extra) {
    return test::scenario_error_of([&] { (void)scenario_from_yaml(minimal + extra, "bad.yaml"); });
}

}  // namespace

TEST_CASE("every field is read from YAML", "[scenario]") { check_full(scenario_from_yaml(full_yaml, "full.yaml")); }

TEST_CASE("every field is read from JSON, and the JSON round trip is exact", "[scenario]") {
    const auto s = scenario_from_yaml(full_yaml, "full.yaml");
    const auto text = to_json(s).dump(2);
    const auto back = scenario_from_json_text(text, "full.json");
    check_full(back);
    CHECK(back == s);
    CHECK(from_json(to_json(s)) == s);
    CHECK(to_json(back) == to_json(s));
}

TEST_CASE("defaults", "[scenario]") {
    const auto s = scenario_from_yaml(minimal, "m.yaml");
    CHECK(s.description.empty());
    CHECK(s.base == "live");
    CHECK(s.step == 60.0);
    CHECK(s.replications == 1);
    CHECK(s.seed == 0);
    CHECK(s.parameters.empty());
    CHECK_FALSE(s.sweep);
    CHECK(s.recording.events);
    CHECK(s.recording.series.empty());
    CHECK(from_json(to_json(s)) == s);
    validate(s);
}

TEST_CASE("a start with nanoseconds survives the round trip", "[scenario]") {
    auto s = scenario_from_yaml(minimal, "m.yaml");
    s.start.ns += 123456789;
    CHECK(from_json(to_json(s)) == s);
    s.start = Timestamp{-1};  // just before 1970
    CHECK(from_json(to_json(s)) == s);
}

TEST_CASE("behaviours: binds behaviours; models: is its older name", "[scenario]") {
    const std::string bindings = "  - model: relaxation\n    where: \"$dtId = 'a'\"\n    parameters: {target: 20}\n";
    const auto current = scenario_from_yaml(minimal + std::string("behaviours:\n") + bindings, "new.yaml");
    const auto older = scenario_from_yaml(minimal + std::string("models:\n") + bindings, "old.yaml");
    REQUIRE(current.models.size() == 1);
    CHECK(current.models[0].model == "relaxation");
    CHECK(current.models[0].where == "$dtId = 'a'");
    CHECK(current.models[0].parameters == nlohmann::json{{"target", 20}});
    CHECK(older == current);
    CHECK(current.source.behaviours_section == "behaviours");
    CHECK(older.source.behaviours_section == "models");
    // Written back under the current name, and read again alike.
    CHECK(to_json(older).contains("behaviours"));
    CHECK_FALSE(to_json(older).contains("models"));
    CHECK(from_json(to_json(older)) == current);

    // Errors name the section as the file wrote it, at the right line.
    const auto in_new = test::scenario_error_of([&] {
        (void)scenario_from_yaml(minimal + std::string("behaviours:\n  - where: x\n"), "new.yaml");
    });
    CHECK(in_new.line() == 6);
    CHECK(in_new.field() == "behaviours[0]");
    const auto in_old = test::scenario_error_of([&] { (void)scenario_from_yaml(minimal + std::string("models:\n  - where: x\n"), "old.yaml"); });
    CHECK(in_old.line() == 6);
    CHECK(in_old.field() == "models[0]");
}

TEST_CASE("behaviours: and models: together are refused, naming the file and both lines", "[scenario]") {
    const auto e = yaml_error("behaviours:\n  - model: relaxation\nmodels:\n  - model: queue\n");
    CHECK(e.file() == "bad.yaml");
    CHECK(e.line() == 7);
    CHECK(e.field() == "models");
    CHECK_THAT(e.what(), Catch::StartsWith("bad.yaml:7: models: 'models' is the older name of 'behaviours'") &&
                             Catch::Contains("(line 5)"));
    const auto j = test::scenario_error_of([] {
        (void)scenario_from_json_text(R"({"name": "m", "base": "live", "start": "2026-01-01T00:00:00Z", "horizon": 60,
"models": [], "behaviours": []})", "bad.json");
    });
    CHECK(j.line() == 2);
    CHECK(j.field() == "models");
}

TEST_CASE("errors name the file, the line and the field", "[scenario]") {
    SECTION("unknown key at top level") {
        const auto e = yaml_error("horizonn: 5\n");
        CHECK(e.file() == "bad.yaml");
        CHECK(e.line() == 5);
        CHECK(e.field() == "horizonn");
        CHECK_THAT(e.what(), Catch::Contains("bad.yaml:5: horizonn: unknown key"));
    }
    SECTION("unknown key deep inside") {
        const auto e = yaml_error("recording:\n  series:\n    - properties: [t]\n      intervall: 60\n");
        CHECK(e.line() == 8);
        CHECK(e.field() == "recording.series[0].intervall");
    }
    SECTION("wrong type") {
        const auto e = yaml_error("replications: many\n");
        CHECK(e.line() == 5);
        CHECK(e.field() == "replications");
        CHECK_THAT(e.reason(), Catch::Contains("expected a whole number but found a string"));
    }
    SECTION("bad expression, with its position") {
        const auto e = yaml_error("overrides:\n  - set: {x: 1}\n    where: \"temperature > AND\"\n");
        CHECK(e.line() == 7);
        CHECK(e.field() == "overrides[0].where");
        CHECK_THAT(e.reason(), Catch::Contains("invalid expression") && Catch::Contains("column 15"));
    }
    SECTION("bad distribution parameters") {
        const auto e = yaml_error("parameters:\n  load:\n    distribution: normal\n    mean: 1\n    sd: 0\n");
        CHECK(e.line() == 9);
        CHECK(e.field() == "parameters.load.sd");
        CHECK_THAT(e.reason(), Catch::Contains("sd must be a finite number > 0"));
        CHECK(yaml_error("parameters:\n  x: {distribution: triangular, low: 0, mode: 5, high: 2}\n").field() == "parameters.x.mode");
        CHECK(yaml_error("parameters:\n  x: {distribution: gamma, shape: 1}\n").reason() == "a gamma distribution needs 'scale'");
        CHECK(yaml_error("parameters:\n  x: {distribution: normal, mean: 1, sd: 1, rate: 2}\n").field() == "parameters.x.rate");
        CHECK(yaml_error("parameters:\n  x: {distribution: poisson, mean: 1}\n").field() == "parameters.x.distribution");
        CHECK(yaml_error("parameters:\n  x: {distribution: empirical, values: [1, 2], weights: [1]}\n").field() ==
              "parameters.x.weights");
    }
    SECTION("negative horizon") {
        const auto e = test::scenario_error_of([] {
            (void)scenario_from_yaml("name: m\nbase: live\nstart: 2026-01-01T00:00:00Z\nhorizon: -5\n", "neg.yaml");
        });
        CHECK(e.line() == 4);
        CHECK(e.field() == "horizon");
        CHECK(e.reason() == "must be a positive duration");
    }
    SECTION("malformed duration and start") {
        CHECK(yaml_error("step: PT5X\n").field() == "step");
        const auto e = test::scenario_error_of([] { (void)scenario_from_yaml("name: m\nbase: live\nstart: tomorrow\nhorizon: 1\n", "s.yaml"); });
        CHECK(e.line() == 3);
        CHECK(e.field() == "start");
    }
    SECTION("missing required key") {
        const auto e = test::scenario_error_of([] { (void)scenario_from_yaml("name: m\nbase: live\nhorizon: 1\n", "s.yaml"); });
        CHECK(e.reason() == "missing required key 'start'");
    }
    SECTION("event outside the horizon, unknown parameter reference") {
        CHECK(yaml_error("events:\n  - {at: PT2H, event: fail, twin: c}\n").field() == "events[0].at");
        const auto e = yaml_error("overrides:\n  - set: {x: \"${nope}\"}\n");
        CHECK(e.field() == "overrides[0].set.x");
        CHECK(e.line() == 6);
    }
    SECTION("KPI consistency") {
        CHECK(yaml_error("kpis:\n  - {name: a, statistic: time_above, property: t}\n").reason() ==
              "the statistic time_above needs a 'threshold'");
        CHECK(yaml_error("kpis:\n  - {name: a, statistic: median, property: t}\n").field() == "kpis[0].statistic");
        CHECK(yaml_error("kpis:\n  - {name: a, statistic: max, property: t}\n  - {name: a, statistic: min, property: t}\n")
                  .field() == "kpis[1].name");
    }
    SECTION("sweep errors") {
        CHECK(yaml_error("sweep:\n  grid: {a: []}\n").field() == "sweep.grid.a");
        CHECK(yaml_error("sweep:\n  latin_hypercube: {samples: 4, ranges: {a: [2, 1]}}\n").field() ==
              "sweep.latin_hypercube.ranges.a");
        CHECK(yaml_error("sweep:\n  grid: {a: [1]}\n  list: [{a: 1}]\n").field() == "sweep");
    }
    SECTION("YAML syntax error") {
        const auto e = test::scenario_error_of([] { (void)scenario_from_yaml("name: m\nbase: [live\n", "syn.yaml"); });
        CHECK(e.file() == "syn.yaml");
        CHECK(e.line() >= 2);
    }
    SECTION("YAML syntax errors are in our words, with file:line:column and a short escaped excerpt") {
        struct Case {
            const char* text;
            std::uint32_t line;
            const char* reason;  // a part of our wording
        };
        const Case cases[] = {
            {"name: m\nbase: [live, other\nhorizon: 1\n", 3, "a list is not closed"},
            {"name: m\nbase: live\n  horizon: 1\n", 3, "where none may stand"},
            {"name: m\n\tbase: live\n", 2, "a tab in the indentation"},
            {"name: m\nbase: *nothing\n", 2, "refers to no anchor"},
            {"name: {a: 1\nbase: live\n", 2, "a mapping is not closed"},
        };
        // yaml-cpp's own texts for these errors: none may reach a user.
        const char* library_texts[] = {"end of sequence flow not found", "illegal map value", "end of map not found",
                                       "illegal tab when looking for indentation", "the referenced anchor is not defined",
                                       "illegal EOF in scalar", "unknown token", "illegal flow end", "yaml-cpp"};
        for (const Case& c : cases) {
            const auto e = test::scenario_error_of([&] { (void)scenario_from_yaml(c.text, "syn.yaml"); });
            const std::string what = e.what();
            INFO(what);
            CHECK(e.file() == "syn.yaml");
            CHECK(e.line() == c.line);
            CHECK(e.column() >= 1);
            CHECK(what.rfind("syn.yaml:" + std::to_string(c.line) + ":" + std::to_string(e.column()) + ": YAML", 0) == 0);
            CHECK(what.find(" near \"") != std::string::npos);
            for (const char* library : library_texts) CHECK(what.find(library) == std::string::npos);
        }
        SECTION("unclosed sequence: our reason") {
            const auto e = test::scenario_error_of([&] { (void)scenario_from_yaml(cases[0].text, "syn.yaml"); });
            CHECK(std::string(e.what()).find(cases[0].reason) != std::string::npos);
        }
        SECTION("every case names its reason") {
            for (const Case& c : cases) {
                const auto e = test::scenario_error_of([&] { (void)scenario_from_yaml(c.text, "syn.yaml"); });
                INFO(e.what());
                CHECK(std::string(e.what()).find(c.reason) != std::string::npos);
            }
        }
        SECTION("the excerpt is short and escaped: a long line with a control character") {
            const std::string secret = "name: m\nbase: live\n  key: \x01" + std::string(500, 's') + "\n";
            const auto e = test::scenario_error_of([&] { (void)scenario_from_yaml(secret, "syn.yaml"); });
            const std::string what = e.what();
            INFO(what);
            CHECK(what.find(std::string(60, 's')) == std::string::npos);
            CHECK(what.find('\x01') == std::string::npos);
            CHECK(what.size() < 200);
        }
    }
    SECTION("JSON errors have lines too") {
        const auto e = test::scenario_error_of([] {
            (void)scenario_from_json_text(
                "{\n  \"name\": \"m\",\n  \"base\": \"live\",\n  \"start\": \"2026-01-01T00:00:00Z\",\n"
                "  \"horizon\": 60,\n  \"overrides\": [\n    {\"set\": {\"x\": 1},\n     \"wher\": \"x > 1\"}\n  ]\n}\n",
                "bad.json");
        });
        CHECK(e.file() == "bad.json");
        CHECK(e.line() == 8);
        CHECK(e.field() == "overrides[0].wher");
        const auto syntax = test::scenario_error_of([] { (void)scenario_from_json_text("{\n  \"name\": \"m\",\n  oops\n}", "s.json"); });
        CHECK(syntax.line() == 3);
    }
    SECTION("validate() checks a spec built in code") {
        auto s = scenario_from_yaml(minimal, "m.yaml");
        s.parameters.push_back({"x", {}, DistributionSpec{DistributionSpec::Kind::normal, {0.0, -1.0}, {}, {}}});
        CHECK(test::scenario_error_of([&] { validate(s); }).field() == "parameters.x.sd");
    }
}

TEST_CASE("grid and list sweeps expand into named scenarios", "[scenario]") {
    const auto s = scenario_from_yaml(full_yaml, "full.yaml");
    const auto runs = expand(s);
    REQUIRE(runs.size() == 4);
    CHECK(runs[0].name == "full[cap=100,mode=eco]");
    CHECK(runs[1].name == "full[cap=100,mode=boost]");
    CHECK(runs[3].name == "full[cap=200,mode=boost]");
    for (const auto& r : runs) CHECK_FALSE(r.sweep);
    CHECK(runs[3].overrides[0].set["coolingCapacity"] == 200);
    CHECK(*runs[3].parameters[0].value == 200);
    CHECK(*runs[3].parameters[1].value == "boost");
    CHECK(runs[3].events[0].data["severity"] == "${load}");  // drawn per replication: left for the runner
    for (const auto& r : runs) validate(r);

    const auto list = scenario_from_yaml(std::string(minimal) +
                                             "sweep:\n  list:\n    - {a: 1, b: 0.5}\n    - {a: 2}\n"
                                             "overrides:\n  - set: {p: \"${a}\", q: \"${b}\"}\n",
                                         "l.yaml");
    const auto lr = expand(list);
    REQUIRE(lr.size() == 2);
    CHECK(lr[0].name == "m[a=1,b=0.5]");
    CHECK(lr[1].name == "m[a=2]");
    CHECK(lr[0].overrides[0].set == nlohmann::json{{"p", 1}, {"q", 0.5}});
    CHECK(lr[1].overrides[0].set == nlohmann::json{{"p", 2}, {"q", "${b}"}});
    CHECK(expand(scenario_from_yaml(minimal, "m.yaml")).size() == 1);
}

TEST_CASE("Latin hypercube: one value per stratum, deterministic from the seed", "[scenario]") {
    auto make = [](std::uint64_t seed) {
        return scenario_from_yaml(std::string(minimal) + "seed: " + std::to_string(seed) +
                                      "\nsweep:\n  latin_hypercube:\n    samples: 50\n"
                                      "    ranges: {capacity: [200, 500], load: [0.0, 1.0]}\n",
                                  "lhs.yaml");
    };
    const auto s = make(11);
    const auto points = s.sweep->points(s.seed);
    REQUIRE(points.size() == 50);
    for (std::size_t j = 0; j < 2; ++j) {
        const double low = j == 0 ? 200 : 0, high = j == 0 ? 500 : 1;
        std::set<long> strata;
        for (const auto& p : points) {
            const double v = p[j].second.get<double>();
            REQUIRE(v >= low);
            REQUIRE(v < high);
            strata.insert(static_cast<long>((v - low) / (high - low) * 50));
        }
        CHECK(strata.size() == 50);
    }
    CHECK(make(11).sweep->points(11) == points);
    CHECK(make(12).sweep->points(12) != points);
    const auto runs = expand(s);
    REQUIRE(runs.size() == 50);
    CHECK(runs[0].name.starts_with("m[capacity="));
    CHECK(runs[0].name.find(",load=") != std::string::npos);
    // An explicit sweep seed wins over the scenario's.
    auto t = s;
    t.sweep->seed = 11;
    t.seed = 999;
    CHECK(t.sweep->points(t.seed) == points);
}

TEST_CASE("distributions sample through the kernel", "[scenario]") {
    kernel::RandomStream r(kernel::StreamId{1, 0, 0}, 0);
    const DistributionSpec u{DistributionSpec::Kind::uniform, {2.0, 3.0}, {}, {}};
    REQUIRE_FALSE(u.problem());
    for (int i = 0; i < 100; ++i) {
        const double v = u.sample(r);
        CHECK((v >= 2.0 && v < 3.0));
    }
    const DistributionSpec e{DistributionSpec::Kind::empirical, {}, {5, 7}, {0, 1}};
    REQUIRE_FALSE(e.problem());
    for (int i = 0; i < 20; ++i) CHECK(e.sample(r) == 7.0);
}

TEST_CASE("the committed example scenarios validate", "[scenario]") {
    const auto failure = read_scenario_file(examples / "chiller-failure.yaml");
    CHECK(failure.name == "chiller-failure");
    CHECK(std::filesystem::exists(examples / failure.base));
    CHECK(failure.events.at(0).twin == "chiller-1");
    CHECK(failure.events.at(0).at == 14 * 3600.0);
    CHECK(expand(failure).size() == 1);
    CHECK(from_json(to_json(failure)) == failure);

    const auto grid = read_scenario_file(examples / "capacity-sweep.yaml");
    const auto grid_runs = expand(grid);
    CHECK(grid_runs.size() == 6);
    CHECK(grid_runs[0].name == "capacity-sweep[capacity=200,supply_setpoint=14.0]");
    CHECK(from_json(to_json(grid)) == grid);

    const auto lhs = read_scenario_file(examples / "capacity-lhs.yaml");
    CHECK(expand(lhs).size() == 16);
    CHECK(from_json(to_json(lhs)) == lhs);

    CHECK_THROWS_AS(read_scenario_file(examples / "no-such-file.yaml"), IoError);
}

TEST_CASE("a YAML alias bomb is refused at the node budget, before it expands", "[scenario]") {
    // Nine levels of nine aliases each: 9^9 (387 million) values from under 1 KB.
    std::string bomb = "parameters:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (int k = 1; k <= 9; ++k) {
        const std::string prev = "*a" + std::to_string(k - 1);
        bomb += "  a" + std::to_string(k) + ": &a" + std::to_string(k) + " [";
        for (int j = 0; j < 9; ++j) bomb += (j ? ", " : "") + prev;
        bomb += "]\n";
    }
    REQUIRE(bomb.size() < 1024);
    const ScenarioError e = yaml_error(bomb);
    CHECK(e.file() == "bad.yaml");
    CHECK(e.line() >= 5);
    CHECK(e.reason().find("more than the limit of 1000000 values (max_yaml_nodes") != std::string::npos);

    // Aliases within the budget are expanded as before.
    const auto s = scenario_from_yaml(std::string(minimal) + "parameters:\n  a: &v 3\n  b: *v\n", "ok.yaml");
    CHECK(s.parameters.size() == 2);
}

TEST_CASE("YAML and JSON scenario documents nested beyond the depth limit are refused with file and line", "[scenario]") {
    // Block mappings, one level per line.
    std::string yaml = std::string(minimal) + "parameters:\n";
    for (int k = 0; k < 200; ++k) yaml += std::string(static_cast<std::size_t>(2 * k + 2), ' ') + "k:\n";
    ScenarioError e = test::scenario_error_of([&] { (void)scenario_from_yaml(yaml, "deep.yaml"); });
    CHECK(e.reason() == "the document nests arrays and objects deeper than the limit of 128 levels");
    // The mapping at depth d (the root is 0) starts on line 5 + d; depth 128 opens level 129.
    CHECK(e.line() == 5 + 128);

    // Flow sequences deep enough to trip yaml-cpp's own guard give the same reason.
    const std::string flow = std::string(minimal) + "parameters:\n  x: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
    e = test::scenario_error_of([&] { (void)scenario_from_yaml(flow, "flow.yaml"); });
    CHECK(e.reason() == "the document nests arrays and objects deeper than the limit of 128 levels");
    CHECK(e.line() == 6);

    const std::string json = "{\n\"name\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    e = test::scenario_error_of([&] { (void)scenario_from_json_text(json, "deep.json"); });
    CHECK(e.reason() == "the document nests arrays and objects deeper than the limit of 128 levels");
    CHECK(e.line() == 2);
}
