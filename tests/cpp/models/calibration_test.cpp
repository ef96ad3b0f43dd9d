// Calibration of thermal_zones (models/building/calibration.md): a history
// recorded by twinsim itself from a hidden building is fitted back.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <tbb/global_control.h>
#include <string>
#include <vector>

#include "models/building/calibration.hpp"
#include "models/building/thermal.hpp"
#include "models/builtin.hpp"
#include "models_fixtures.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

const scenario::BehaviourModel& thermal() { return *models::builtin_registry().find("thermal_zones"); }

constexpr double step = 300.0;
constexpr double day = 86400.0;
constexpr double start_seconds = 1'782'864'000.0;  // test::run_options(): 2026-07-01T00:00:00Z

/// The hidden building: level-1 rooms with their own envelope and binding-wide values
/// that differ from the defaults the calibration starts from.
json hidden_parameters() {
    json rooms = json::object();
    const double ua[] = {2.1, 1.2, 1.8, 2.6, 0.9, 1.6, 2.3, 1.1, 1.9, 2.4};
    for (int k = 0; k < 10; ++k) {
        char id[16];
        std::snprintf(id, sizeof id, "room-01-%02d", k + 1);
        rooms[id] = {{"ua_per_area", ua[k]}};
    }
    return {{"step", step},
            {"outdoor_mean", 27.0},
            {"outdoor_amplitude", 7.0},
            {"solar_peak", 25.0},
            {"mass_capacity", 140000.0},
            {"air_mass_conductance", 15.0},
            {"adjacent_conductance", 20.0},
            {"zone_cooling_property", "coolingPower"},
            {"zone_parameters", rooms}};
}

/// The rooms the tests calibrate: levels 1 and 2 of the sample building (two groups of ten).
const std::vector<graph::TwinIndex>& rooms() {
    static const std::vector<graph::TwinIndex> out = [] {
        const graph::Snapshot& g = test::sample_building();
        std::vector<graph::TwinIndex> r;
        for (const graph::TwinIndex t : test::twins_of(g, test::room_model)) {
            const std::string id = g.twin_id(t);
            if (id.starts_with("room-01-") || id.starts_with("room-02-")) r.push_back(t);
        }
        return r;
    }();
    return out;
}

/// The history a building management system would have recorded from a run of
/// thermal_zones with `parameters` on rooms(): every room's temperature (with
/// Gaussian sensor noise of `noise` K) and delivered cooling every step for `days` days.
io::HistoryTables record(const json& parameters, double days, double noise) {
    const graph::Snapshot& g = test::sample_building();
    const scenario::Binding binding = test::bind(g, "thermal_zones", parameters, rooms());
    thermal().check(binding);
    scenario::Run run(g, test::run_options());
    const auto zones = thermal().instantiate(binding, run);
    run.start_behaviour(*zones);
    io::HistoryTables h;
    h.source = "a thermal_zones run";
    auto& p = h.property_updates;
    std::mt19937_64 rng(42);
    std::normal_distribution<double> sensor(0.0, noise);
    auto row = [&](double t, const std::string& id, const char* key, double value) {
        p.time_ns.push_back(static_cast<std::int64_t>(std::llround((start_seconds + t) * 1e9)));
        p.source_time_ns.push_back(io::no_time);
        p.id.push_back(id);
        p.model_id.push_back(test::room_model);
        p.key.push_back(key);
        p.value.push_back(json(value).dump());
        p.unit.push_back("");
        p.relationship_id.push_back("");
        p.relationship_target.push_back("");
        p.action.push_back("Update");
        p.sequence.push_back(p.sequence.size());
    };
    auto sample = [&](double t) {
        for (const graph::TwinIndex r : rooms()) {
            const std::string id = g.twin_id(r);
            row(t, id, "temperature", *run.value(r, test::column_of(g, r, "temperature")) + (noise > 0 ? sensor(rng) : 0.0));
            if (t > 0) row(t, id, "coolingPower", *run.value(r, test::column_of(g, r, "coolingPower")));
        }
    };
    sample(0.0);
    const auto n = static_cast<int>(std::lround(days * day / step));
    for (int k = 1; k <= n; ++k) {
        run.advance_to(step * k);
        sample(step * k);
    }
    return h;
}

/// The tables without the rows of (twin, key) for which `drop` says so.
template <class F>
io::HistoryTables without(const io::HistoryTables& h, F&& drop) {
    io::HistoryTables out;
    out.source = h.source;
    const auto& p = h.property_updates;
    auto& q = out.property_updates;
    for (std::size_t k = 0; k < p.time_ns.size(); ++k) {
        if (drop(p.id[k], p.key[k], p.time_ns[k])) continue;
        q.time_ns.push_back(p.time_ns[k]);
        q.source_time_ns.push_back(p.source_time_ns[k]);
        q.id.push_back(p.id[k]);
        q.model_id.push_back(p.model_id[k]);
        q.key.push_back(p.key[k]);
        q.value.push_back(p.value[k]);
        q.unit.push_back(p.unit[k]);
        q.relationship_id.push_back(p.relationship_id[k]);
        q.relationship_target.push_back(p.relationship_target[k]);
        q.action.push_back(p.action[k]);
        q.sequence.push_back(p.sequence[k]);
    }
    return out;
}

/// The setup a calibration starts from: the sample building with the model's defaults.
models::ThermalSetup default_setup(const json& extra = json::object()) {
    const graph::Snapshot& g = test::sample_building();
    json p = {{"step", step}, {"outdoor_mean", 27.0}, {"outdoor_amplitude", 7.0}, {"solar_peak", 25.0}};
    for (const auto& [k, v] : extra.items()) p[k] = v;
    return models::thermal_setup(test::bind(g, "thermal_zones", p, rooms()), Timestamp{static_cast<std::int64_t>(start_seconds) * 1'000'000'000},
                                 step);
}

/// A fresh folder under the system's temporary one, removed at the end.
struct TempDir {
    explicit TempDir(const std::string& name)
        : path_(std::filesystem::temp_directory_path() / ("twinsim-" + name + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::string error_of(const models::ThermalSetup& setup, const io::HistoryTables& h,
                     const std::vector<models::ParameterChoice>& fit, const models::CalibrationOptions& o) {
    try {
        (void)models::calibrate_thermal(setup, scenario::RecordedHistory(h), fit, o);
    } catch (const models::CalibrationError& e) {
        return e.what();
    } catch (const scenario::RecordedInputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("calibration: the open-loop network reproduces a thermal_zones run exactly", "[models][calibration]") {
    // Driven by the recorded cooling, the calibration's simulation of the hidden building
    // reproduces the run's temperatures: the forward model is thermal_zones' own network.
    const scenario::RecordedHistory w(record(hidden_parameters(), 1.0, 0.0));
    json p = hidden_parameters();
    const models::ThermalSetup setup = default_setup(p);
    models::CalibrationOptions o;
    o.window_end = day;
    const models::ModelFit fit = models::evaluate_thermal(setup, w, o);
    CHECK(fit.rmse < 1e-9);
    CHECK(fit.guideline14.overall.meets());
    CHECK(std::abs(fit.guideline14.overall.nmbe) < 1e-9);
    CHECK(fit.guideline14.overall.hours == 20 * 25);  // 20 rooms; step ends 00:05 .. 24:00, 25 clock hours
}

TEST_CASE("calibration: hidden parameters are recovered within 5 % from a noisy history", "[models][calibration]") {
    // Two weeks recorded from the hidden building with 0.1 K sensor noise; week 1 fitted from the
    // defaults (ua_per_area 1.5 everywhere, mass_capacity 100000, air_mass_conductance 22.75).
    const scenario::RecordedHistory w(record(hidden_parameters(), 14.0, 0.1));
    const models::ThermalSetup setup = default_setup();
    std::vector<models::ParameterChoice> fit{models::parse_parameter_choice("ua_per_area@room-01-*=0.1:10"),
                                             models::parse_parameter_choice("mass_capacity"),
                                             models::parse_parameter_choice("air_mass_conductance")};
    models::CalibrationOptions o;
    o.window_end = 7.0 * day;
    const models::CalibrationResult r = models::calibrate_thermal(setup, w, fit, o);
    INFO(r.report().dump(1));
    REQUIRE(r.parameters.size() == 12);
    CHECK(r.converged);
    const json hidden = hidden_parameters();
    for (const models::FittedParameter& p : r.parameters) {
        const double truth = p.zone.empty() ? hidden[p.name].get<double>()
                                            : hidden["zone_parameters"][p.zone][p.name].get<double>();
        INFO(p.name << "@" << p.zone << " = " << p.value << " +- " << p.standard_error << ", hidden " << truth);
        CHECK(std::abs(p.value - truth) <= 0.05 * truth);
        CHECK(p.standard_error > 0.0);
        CHECK(std::abs(p.value - truth) <= 5.0 * p.standard_error + 0.01 * truth);  // the reported uncertainty is honest
    }
    CHECK(r.residual_sd == Approx(0.1).epsilon(0.1));  // the sensor noise, nothing left unexplained
    CHECK(r.guideline14.overall.meets());

    // Validation on week 2, never seen by the fit: Guideline 14's hourly criteria.
    models::CalibrationOptions week2 = o;
    week2.window_start = 7.0 * day;
    week2.window_end = 14.0 * day;
    week2.warmup = 6 * 3600.0;  // the mass nodes start at the air temperature, as in a run
    const models::ModelFit validated = models::evaluate_thermal(models::apply_calibration(setup, r), w, week2);
    const Guideline14Report& g14 = validated.guideline14;
    CHECK(g14.overall.meets());
    CHECK(std::abs(g14.overall.nmbe) <= 10.0);
    CHECK(g14.overall.cv_rmse <= 30.0);
    CHECK(g14.overall.hours == 20 * (7 * 24 - 6 + 1));  // after the warm-up, the window's end in its own hour
    for (std::size_t k = 0; k < g14.twins.size(); ++k) {
        INFO(g14.twins[k]);
        CHECK(g14.per_twin[k].meets());
    }
    const models::ModelFit before = models::evaluate_thermal(setup, w, week2);
    CHECK(validated.rmse < 0.5 * before.rmse);  // the calibration is what made the difference

    // The calibration file: the fitted values as thermal_zones parameters.
    const json file = r.to_file_json();
    CHECK(file["format"] == "twinsim-calibration");
    const json& params = file["behaviours"][0]["parameters"];
    CHECK(params["mass_capacity"].get<double>() == r.parameters[10].value);
    CHECK(params["zone_parameters"]["room-01-03"]["ua_per_area"].get<double>() == r.parameters[2].value);
}

TEST_CASE("calibration: the same fit at any thread count", "[models][calibration]") {
    const scenario::RecordedHistory w(record(hidden_parameters(), 2.0, 0.1));
    const models::ThermalSetup setup = default_setup();
    const std::vector<models::ParameterChoice> fit{models::parse_parameter_choice("ua_per_area@room-0*"),
                                                   models::parse_parameter_choice("gain_per_person")};
    models::CalibrationOptions o;
    o.window_end = 2.0 * day;
    o.max_iterations = 5;
    const models::CalibrationResult a = models::calibrate_thermal(setup, w, fit, o);
    models::CalibrationResult b;
    {
        tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        b = models::calibrate_thermal(setup, w, fit, o);
    }
    REQUIRE(a.parameters.size() == b.parameters.size());
    for (std::size_t k = 0; k < a.parameters.size(); ++k) CHECK(a.parameters[k].value == b.parameters[k].value);
    CHECK(a.rss == b.rss);
}

TEST_CASE("calibration: bad input gets a clear error", "[models][calibration]") {
    const io::HistoryTables w = record(hidden_parameters(), 0.25, 0.0);
    const models::ThermalSetup setup = default_setup();
    models::CalibrationOptions o;
    o.window_end = 0.25 * day;
    using models::parse_parameter_choice;
    auto fit = [](const char* text) { return std::vector<models::ParameterChoice>{parse_parameter_choice(text)}; };

    CHECK_THAT(error_of(setup, w, fit("u_value"), o), Catch::Contains("unknown parameter \"u_value\""));
    CHECK_THAT(error_of(setup, w, fit("ua_per_area@room-99-01"), o), Catch::Contains("no room of the binding's 20 is \"room-99-01\""));
    CHECK_THAT(error_of(setup, w, fit("adjacent_conductance@room-01-01"), o), Catch::Contains("binding-wide"));
    CHECK_THAT(error_of(setup, w, fit("ua_per_area=2:3"), o), Catch::Contains("do not hold the initial value 1.5"));
    CHECK_THAT(error_of(setup, w, {parse_parameter_choice("ua_per_area"), parse_parameter_choice("ua_per_area@room-01-01")}, o),
               Catch::Contains("both binding-wide and for room-01-01"));
    CHECK_THAT(error_of(setup, w, {}, o), Catch::Contains("no parameter to fit"));
    CHECK_THROWS_WITH(parse_parameter_choice("ua_per_area=x:2"), Catch::Contains("\"x\" is not a finite number"));

    models::CalibrationOptions empty = o;
    empty.window_end = empty.window_start;
    CHECK_THAT(error_of(setup, w, fit("ua_per_area"), empty), Catch::Contains("is empty"));
    models::CalibrationOptions beyond = o;
    beyond.window_end = 2.0 * day;  // the history holds a quarter of a day
    CHECK_THAT(error_of(setup, w, fit("ua_per_area"), beyond), Catch::Contains("no recorded value"));
    CHECK_THAT(error_of(setup, w, fit("ua_per_area"), beyond), Catch::Contains("max_gap"));

    // A value that is not a number, a room without its cooling, a gap of two hours.
    io::HistoryTables bad = w;
    for (std::size_t k = 0; k < bad.property_updates.id.size(); ++k)
        if (bad.property_updates.id[k] == "room-01-04" && bad.property_updates.key[k] == "temperature" &&
            bad.property_updates.time_ns[k] == static_cast<std::int64_t>(start_seconds + 3000) * 1'000'000'000)
            bad.property_updates.value[k] = "\"n/a\"";
    CHECK_THAT(error_of(setup, bad, fit("ua_per_area"), o), Catch::Contains("room-01-04.temperature at 2026-07-01T00:50:00"));
    CHECK_THAT(error_of(setup, bad, fit("ua_per_area"), o), Catch::Contains("is not a number"));
    const io::HistoryTables no_cooling =
        without(w, [](const std::string& id, const std::string& key, std::int64_t) { return id == "room-02-02" && key == "coolingPower"; });
    CHECK_THAT(error_of(setup, no_cooling, fit("ua_per_area"), o), Catch::Contains("room-02-02.coolingPower"));
    CHECK_THAT(error_of(setup, no_cooling, fit("ua_per_area"), o), Catch::Contains("holds no recorded value"));
    const std::int64_t from = static_cast<std::int64_t>(start_seconds + 3600) * 1'000'000'000;
    const io::HistoryTables gap = without(w, [&](const std::string& id, const std::string& key, std::int64_t t) {
        return id == "room-02-03" && key == "coolingPower" && t > from && t < from + 7'200'000'000'000;
    });
    CHECK_THAT(error_of(setup, gap, fit("ua_per_area"), o), Catch::Contains("room-02-03.coolingPower"));
    models::CalibrationOptions free_floating = o;
    free_floating.cooling_property = "";
    const io::HistoryTables nothing =
        without(w, [](const std::string&, const std::string& key, std::int64_t) { return key == "temperature"; });
    CHECK_THAT(error_of(setup, nothing, fit("ua_per_area"), free_floating),
               Catch::Contains("no recorded temperature of any of the 20 rooms"));
}

TEST_CASE("calibration: zone_parameters of thermal_zones are checked", "[models][calibration]") {
    const graph::Snapshot& g = test::sample_building();
    const std::vector<graph::TwinIndex> rooms = test::twins_of(g, test::room_model);
    auto refused = [&](const json& zp) {
        try {
            thermal().check(test::bind(g, "thermal_zones", {{"zone_parameters", zp}}, rooms));
        } catch (const scenario::ModelParameterError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(refused({{"room-99", {{"ua_per_area", 1.0}}}}), Catch::Contains("\"room-99\" is not one of the binding's 61 rooms"));
    CHECK_THAT(refused({{"room-01-01", {{"u", 1.0}}}}), Catch::Contains("\"room-01-01\".u: unknown"));
    CHECK_THAT(refused({{"room-01-01", {{"mass_capacity", 0.0}}}}), Catch::Contains("must be > 0"));
    CHECK_THAT(refused({{"room-01-01", {{"ua_per_area", "1"}}}}), Catch::Contains("expected a finite number"));
    CHECK_THAT(refused(json::array()), Catch::Contains("expected an object"));
    CHECK(refused({{"room-01-01", {{"ua_per_area", 2.0}, {"air_heat_capacity", 1300.0}}}}).empty());
}

TEST_CASE("calibration: a scenario loads the calibration file and thermal_zones sees the fitted values", "[models][calibration]") {
    const scenario::RecordedHistory w(record(hidden_parameters(), 2.0, 0.05));
    const models::ThermalSetup setup = default_setup();
    const std::vector<models::ParameterChoice> fit{models::parse_parameter_choice("ua_per_area@room-01-0*"),
                                                   models::parse_parameter_choice("mass_capacity")};
    models::CalibrationOptions o;
    o.window_end = 2.0 * day;
    const models::CalibrationResult r = models::calibrate_thermal(setup, w, fit, o);
    const TempDir dir("calibration-file");
    r.save((dir.path() / "fitted.json").string());
    {
        std::ofstream s(dir.path() / "week2.yaml");
        s << "name: week2\nbase: building.ndjson\nstart: 2026-07-08T00:00:00Z\nhorizon: P7D\nstep: PT5M\n"
             "calibration: fitted.json\n"
             "behaviours:\n  - model: thermal_zones\n"
             "    where: \"IS_OF_MODEL('dtmi:twinsim:building:Room;1') AND (STARTSWITH($dtId, 'room-01-') OR "
             "STARTSWITH($dtId, 'room-02-'))\"\n"
             "    parameters: {mass_capacity: 1000, outdoor_mean: 27, zone_parameters: {room-01-01: {air_heat_capacity: 1300}}}\n";
    }
    const scenario::ScenarioSpec spec = scenario::read_scenario_file(dir.path() / "week2.yaml");
    const json& p = spec.models.at(0).parameters;
    CHECK(p["mass_capacity"].get<double>() == r.parameters.back().value);  // the file's value replaces the binding's
    CHECK(p["outdoor_mean"] == 27);                                          // the rest stays
    CHECK(p["zone_parameters"]["room-01-01"]["air_heat_capacity"] == 1300);  // rooms merge name by name
    CHECK(p["zone_parameters"]["room-01-01"]["ua_per_area"].get<double>() == r.parameters[0].value);
    CHECK(scenario::from_json(scenario::to_json(spec)) == spec);

    // Prepared against the building, thermal_zones gets the fitted values per room.
    const auto prepared = scenario::prepare(spec, test::sample_building(), models::builtin_registry());
    const models::ThermalSetup loaded = models::thermal_setup(*prepared);
    for (const models::FittedParameter& f : r.parameters) {
        if (f.zone.empty()) continue;
        const auto k = static_cast<std::size_t>(std::find(loaded.zones.begin(), loaded.zones.end(), f.zone) - loaded.zones.begin());
        REQUIRE(k < loaded.zones.size());
        CHECK(loaded.ua_per_area[k] == f.value);
    }

    // Bad calibration files are refused naming the file and the field.
    auto refused = [&](const std::string& text) {
        std::ofstream(dir.path() / "bad.json") << text;
        std::ofstream(dir.path() / "bad.yaml") << "name: x\nbase: building.ndjson\nstart: 2026-07-08T00:00:00Z\n"
                                                  "horizon: PT1H\ncalibration: [bad.json]\n"
                                                  "behaviours: [{model: thermal_zones}]\n";
        try {
            (void)scenario::read_scenario_file(dir.path() / "bad.yaml");
        } catch (const scenario::ScenarioError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(refused("{}"), Catch::Contains("format must be \"twinsim-calibration\""));
    CHECK_THAT(refused("not json"), Catch::Contains("not JSON"));
    CHECK_THAT(refused(R"({"format": "twinsim-calibration", "version": 2, "behaviours": []})"), Catch::Contains("reads version 1"));
    CHECK_THAT(refused(R"({"format": "twinsim-calibration", "version": 1, "behaviours": [], "extra": 1})"), Catch::Contains("extra: unknown key"));
    CHECK_THAT(refused(R"({"format": "twinsim-calibration", "version": 1, "behaviours": [{"model": "queue", "parameters": {}}]})"),
               Catch::Contains("binds no queue behaviour"));
    CHECK_THAT(refused(R"({"format": "twinsim-calibration", "version": 1, "behaviours": [{"model": "thermal_zones", "parameters": {"ua_per_area": "${u}"}}]})"),
               Catch::Contains("reference"));
    CHECK_THAT(refused(std::string(200, '[') + std::string(200, ']')), Catch::Contains("nests arrays and objects deeper"));
    CHECK_THAT(refused("{\"format\": \"twinsim-calibration\", \"version\": 1, \"behaviours\": [{\"model\": \"thermal_zones\"}]}"),
               Catch::Contains("behaviours[0].parameters"));
    // A path out of the scenario's folder is refused as base's is.
    std::ofstream(dir.path() / "out.yaml") << "name: x\nbase: building.ndjson\nstart: 2026-07-08T00:00:00Z\nhorizon: PT1H\n"
                                              "calibration: ../elsewhere.json\nbehaviours: [{model: thermal_zones}]\n";
    CHECK_THROWS_AS(scenario::read_scenario_file(dir.path() / "out.yaml"), scenario::ScenarioError);
}

TEST_CASE("calibration: from an HDF5 history file", "[models][calibration]") {
    // The history as a file (io/history_file.hpp), read back by replay's reader: the same fit.
    const io::HistoryTables tables = record(hidden_parameters(), 1.0, 0.05);
    const TempDir dir("calibration-history");
    (void)io::write_history_file(dir.path() / "history.h5", tables);
    const scenario::RecordedHistory from_file = scenario::RecordedHistory::read_file(dir.path() / "history.h5");
    const scenario::RecordedHistory in_memory(tables);
    const std::vector<models::ParameterChoice> fit{models::parse_parameter_choice("ua_per_area")};
    models::CalibrationOptions o;
    o.window_end = day;
    const models::CalibrationResult a = models::calibrate_thermal(default_setup(), from_file, fit, o);
    const models::CalibrationResult b = models::calibrate_thermal(default_setup(), in_memory, fit, o);
    CHECK(a.parameters.at(0).value == b.parameters.at(0).value);
    CHECK(a.rss == b.rss);
}
