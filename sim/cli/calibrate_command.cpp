// `twinsim calibrate`, two forms:
// - HISTORIES (or --store with --sensors): fit the degradation prognostics
//   model (models/equipment/prognostics.md) on run-to-failure histories — a
//   C-MAPSS text file, a CSV file, an HDF5 history file or a durable store's
//   history — and write its parameters file (JSON), which scenarios and live
//   prognostics load. A thin shell over models::read_histories and
//   PrognosticsModel::fit.
// - --scenario S --fit ... (with --history FILE or --store DIR): fit the
//   building model's parameters (thermal_zones, models/building/calibration.md)
//   to a recorded window and write the calibration file a scenario loads. A
//   thin shell over models::thermal_setup and models::calibrate_thermal.

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <filesystem>
#include <iomanip>
#include <sstream>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/building/calibration.hpp"
#include "models/building/cop_calibration.hpp"
#include "models/builtin.hpp"
#include "models/equipment/prognostics.hpp"
#include "scenario_commands.hpp"
#include "twinsim/common/guideline14.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/live/history.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/scenario_reading.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::cli {
namespace {

namespace fs = std::filesystem;

struct CalibrateOptions {
    std::string file;
    std::string store;
    std::string format = "auto";
    std::vector<std::string> settings, sensors, units;
    std::string output;
    double rul_cap = 125.0;
    bool json = false;
};

// ---- building-model calibration (models/building/calibration.md) ----------

struct BuildingOptions {
    std::string scenario;
    std::string history;  // an HDF5 history file (or --store)
    std::vector<std::string> fit;
    std::string from, to;
    std::string cooling_property = "coolingPower";
    std::string temperature_property = "temperature";
    double max_gap = 3600.0;
    std::string warmup = "PT0S";
    std::size_t binding = 0;
    int max_iterations = 100;
    bool allow_outside_paths = false;
};

/// The scenario file prepared against its base graph (no sweep).
std::shared_ptr<const scenario::PreparedScenario> prepare_one(const std::string& file, bool allow_outside,
                                                               LoadedGraph& loaded) {
    const fs::path scenario_file(file);
    scenario::ScenarioReadOptions reading;
    reading.allow_outside_paths = allow_outside;
    scenario::ScenarioSpec spec = scenario::read_scenario_file(scenario_file, reading);
    if (spec.sweep) throw scenario::spec_error(spec, "/sweep", "sweep", "twinsim calibrate takes a scenario without a sweep");
    if (spec.base == "live")
        throw scenario::spec_error(spec, "/base", "base", "\"live\" is the graph handed over from Python; twinsim calibrate needs a file");
    GraphInputOptions input;
    scenario::InputPathOptions paths;
    paths.allow_outside = allow_outside;
    paths.trusted_folders = {models::builtin_dtdl_folder()};
    resolve_scenario_inputs(spec, scenario_file, models::builtin_registry(), paths, input);
    // A replay scenario's recorded history, relative to the scenario file as `twinsim run` reads it
    // (an HDF5 history file here: a store's folder is for `twinsim run --store`).
    (void)scenario::resolve_replay_source(spec, scenario_file.parent_path(), paths);
    loaded = load_graph(input);
    if (!loaded.loaded) {
        std::ostringstream why;
        print_problems(why, input.file, loaded.problems);
        throw Error(file + ": the base graph cannot be loaded:\n" + why.str());
    }
    return scenario::prepare(spec, loaded.graph->snapshot(), models::builtin_registry());
}

double window_time(const std::string& text, const scenario::ScenarioSpec& spec, const char* option) {
    std::string why;
    const std::optional<Timestamp> t = parse_timestamp(text, &why);
    if (!t) throw models::CalibrationError(std::string(option) + " \"" + text + "\" is not an RFC 3339 date-time: " + why);
    return static_cast<double>(t->ns - spec.start.ns) * 1e-9;
}

int run_building(const CalibrateOptions& common, const BuildingOptions& options) {
    if (options.history.empty() == common.store.empty()) {
        std::cerr << "twinsim calibrate: error: --scenario needs one of --history FILE or --store DIR (the recorded window)\n";
        return exit_usage;
    }
    if (options.fit.empty()) {
        std::cerr << "twinsim calibrate: error: --scenario needs --fit (e.g. --fit ua_per_area@room-01-*)\n";
        return exit_usage;
    }
    LoadedGraph base;
    std::shared_ptr<const scenario::PreparedScenario> prepared;
    try {
        prepared = prepare_one(options.scenario, options.allow_outside_paths, base);
    } catch (const scenario::ScenarioError& e) {
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_usage;
    } catch (const Error& e) {  // IoError (an unreadable file), a base graph that cannot be loaded
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_usage;
    }
    const scenario::ScenarioSpec& spec = prepared->spec;
    models::CalibrationResult result;
    std::vector<models::CopResult> cops;  // --fit cop[@CHILLERS] (cop_calibration.hpp)
    std::vector<std::string> fit_texts = options.fit;
    const std::vector<std::string> cop_choices = models::take_cop_choices(fit_texts);
    std::string source;
    try {
        models::CalibrationOptions o;
        o.window_start = options.from.empty() ? 0.0 : window_time(options.from, spec, "--from");
        o.window_end = options.to.empty() ? spec.horizon : window_time(options.to, spec, "--to");
        o.cooling_property = options.cooling_property == "none" ? "" : options.cooling_property;
        o.temperature_property = options.temperature_property;
        o.max_gap = options.max_gap;
        std::string why;
        const std::optional<double> warmup = duration_seconds(options.warmup, &why);
        if (!warmup) throw models::CalibrationError("--warmup \"" + options.warmup + "\" is not a duration: " + why);
        o.warmup = *warmup;
        o.max_iterations = options.max_iterations;
        std::vector<models::ParameterChoice> fit;
        for (const std::string& f : fit_texts) fit.push_back(models::parse_parameter_choice(f));
        const models::ThermalSetup setup = models::thermal_setup(*prepared, options.binding);
        scenario::RecordedHistory recorded;
        if (!common.store.empty()) {
            LoadedGraph store;
            try {
                store = open_existing_store(common.store, false);
            } catch (const live::StoreError& e) {
                return report_store_error(e);
            }
            live::HistoryQuery q;
            if (cop_choices.empty()) q.twins = setup.zones;  // a COP fit reads the chillers' rows too
            q.properties = {o.temperature_property, "occupancy", "lightingPower", "equipmentHeatGain"};
            if (!o.cooling_property.empty()) q.properties.push_back(o.cooling_property);
            if (!cop_choices.empty()) q.properties.clear();
            recorded = scenario::RecordedHistory(live::history_tables(*store.store, q));
            source = common.store;
        } else {
            recorded = scenario::RecordedHistory::read_file(options.history);
            source = options.history;
        }
        if (!fit.empty()) result = models::calibrate_thermal(setup, recorded, fit, o);
        for (const std::string& chillers : cop_choices) {
            models::CopOptions co;
            co.binding = options.binding;
            co.chillers = chillers;
            co.window_start = o.window_start;
            co.window_end = o.window_end;
            co.max_gap = o.max_gap;
            cops.push_back(models::calibrate_cop(prepared->spec, prepared->base, recorded, co));
        }
    } catch (const models::CalibrationError& e) {
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_invalid;
    } catch (const scenario::RecordedInputError& e) {
        std::cerr << "twinsim calibrate: error: " << source << ": " << e.what() << '\n';
        return exit_invalid;
    } catch (const live::HistoryError& e) {
        std::cerr << "twinsim calibrate: error: " << common.store << ": " << e.what() << '\n';
        return exit_usage;
    } catch (const scenario::ModelParameterError& e) {
        std::cerr << "twinsim calibrate: error: " << options.scenario << ": thermal_zones parameter " << e.what() << '\n';
        return exit_invalid;
    } catch (const IoError& e) {
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_usage;
    }
    nlohmann::json file = fit_texts.empty() ? nlohmann::json() : result.to_file_json();
    for (const models::CopResult& c : cops) models::merge_cop(file, c);
    try {
        models::save_calibration_json(file, common.output);
    } catch (const IoError& e) {
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_usage;
    }
    if (common.json) {
        nlohmann::json summary = fit_texts.empty() ? nlohmann::json::object() : result.report();
        if (!cops.empty()) summary["cop"] = file["fit"]["cop"];
        summary["history"] = source;
        summary["calibration"] = common.output;
        std::cout << summary.dump() << '\n';
        return exit_valid;
    }
    auto num = [](double x) {
        std::ostringstream s;
        s << std::setprecision(5) << x;
        return s.str();
    };
    if (!cops.empty()) {
        std::cout << "chiller COP fitted to the recorded " << cops.front().power_property << " of " << source << ":\n";
        TextTable table({"chiller", "initial", "fitted", "std. error", "steps", "rmse kW"}, {false, true, true, true, true, true});
        for (const models::CopResult& c : cops)
            for (const models::FittedCop& f : c.chillers)
                table.add({f.chiller, num(f.initial), num(f.value), num(f.standard_error), std::to_string(f.samples),
                           num(f.rmse_kw)});
        table.print(std::cout, "  ");
    }
    if (fit_texts.empty()) {
        std::cout << "calibration: " << common.output << '\n';
        return exit_valid;
    }
    std::cout << "calibrated " << result.parameters.size() << " parameters of " << options.scenario << " on " << source
              << " (" << result.residuals << " temperatures) in " << result.seconds << " s, " << result.iterations
              << " iterations, " << (result.converged ? "converged" : "not converged") << "\n";
    TextTable table({"parameter", "room", "initial", "fitted", "std. error"}, {false, false, true, true, true});
    for (const models::FittedParameter& p : result.parameters)
        table.add({p.name, p.zone.empty() ? "(all)" : p.zone, num(p.initial), num(p.value),
                   p.at_bound ? "at bound" : num(p.standard_error)});
    table.print(std::cout, "  ");
    const Guideline14& g14 = result.guideline14.overall;
    std::cout << "residual sd " << num(result.residual_sd) << " K; Guideline 14 (hourly, " << g14.hours
              << " room-hours): NMBE " << num(g14.nmbe) << " %, CV(RMSE) " << num(g14.cv_rmse) << " % -> "
              << (g14.meets() ? "meets" : "does NOT meet") << " the criteria\n";
    for (const std::string& w : result.warnings) std::cout << "warning: " << w << '\n';
    std::cout << "calibration: " << common.output << '\n';
    return exit_valid;
}

int run_calibrate(const CalibrateOptions& options, const BuildingOptions& building) {
    if (!building.scenario.empty()) {
        if (!options.file.empty()) {
            std::cerr << "twinsim calibrate: error: --scenario takes the recorded window from --history FILE or --store "
                         "DIR, not from HISTORIES\n";
            return exit_usage;
        }
        return run_building(options, building);
    }
    if (!building.fit.empty() || !building.history.empty()) {
        std::cerr << "twinsim calibrate: error: --fit and --history calibrate a building model: give its --scenario\n";
        return exit_usage;
    }
    if (options.file.empty() == options.store.empty()) {
        std::cerr << "twinsim calibrate: error: give one of HISTORIES or --store\n";
        return exit_usage;
    }
    models::HistorySet training;
    std::string source = options.file;
    try {
        if (!options.store.empty()) {
            if (options.sensors.empty()) {
                std::cerr << "twinsim calibrate: error: --store needs --sensors (the keys to read)\n";
                return exit_usage;
            }
            LoadedGraph loaded;
            try {
                loaded = open_existing_store(options.store, false);
            } catch (const live::StoreError& e) {
                return report_store_error(e);
            }
            training = models::histories_from_store(*loaded.store, options.settings, options.sensors, true, options.units);
            source = options.store;
        } else {
            models::HistorySource s;
            s.file = options.file;
            s.format = options.format;
            s.settings = options.settings;
            s.sensors = options.sensors;
            s.units = options.units;
            training = models::read_histories(s);
        }
    } catch (const IoError& e) {  // io::ResultsError is one
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_usage;
    } catch (const models::HistoryInputError& e) {
        std::cerr << "twinsim calibrate: error: " << e.what() << '\n';
        return exit_invalid;
    }
    models::PrognosticsOptions fit_options;
    fit_options.health.rul_cap = options.rul_cap;
    const models::PrognosticsModel model = [&] {
        try {
            return models::PrognosticsModel::fit(training, fit_options);
        } catch (const models::HistoryInputError& e) {
            throw Error(std::string("cannot calibrate on ") + source + ": " + e.what());
        }
    }();
    model.save(options.output);
    const nlohmann::json summary = {{"histories", source},
                                    {"parameters", options.output},
                                    {"training", model.training()},
                                    {"conditions", model.health_indicator().condition_count()},
                                    {"informative_sensors", model.health_indicator().informative_sensors()},
                                    {"autocorrelation", model.degradation().autocorrelation},
                                    {"end_offset_sd", model.degradation().end_offset_sd}};
    if (options.json) {
        std::cout << summary.dump() << '\n';
    } else {
        std::cout << "calibrated on " << training.units.size() << " units (" << training.rows() << " rows) of "
                  << source << " in " << model.training()["seconds"].get<double>() << " s\n"
                  << "conditions: " << model.health_indicator().condition_count() << "\ninformative sensors:";
        for (const std::string& s : model.health_indicator().informative_sensors()) std::cout << ' ' << s;
        std::cout << "\nparameters: " << options.output << '\n';
    }
    return exit_valid;
}

}  // namespace

Command add_calibrate_command(CLI::App& app) {
    auto options = std::make_shared<CalibrateOptions>();
    auto building = std::make_shared<BuildingOptions>();
    CLI::App* command = app.add_subcommand(
        "calibrate",
        "Fit the degradation prognostics model on run-to-failure histories (HISTORIES) and write its parameters file; "
        "or, with --scenario, fit the building model's parameters (thermal_zones) to a recorded window and write the "
        "calibration file a scenario loads");
    command->add_option("HISTORIES", options->file,
                        "Run-to-failure histories: C-MAPSS text (train_FD00x.txt, gzip or not), CSV (unit, cycle, "
                        "setting*, sensors) or an HDF5 history file");
    command->add_option("--store", options->store, "Read the histories from this durable store's recorded history instead");
    command->add_option("--format", options->format, "auto, cmapss, csv or history")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "cmapss", "csv", "history"}));
    command->add_option("--settings", options->settings, "History file or store: the operating-setting keys")->delimiter(',');
    command->add_option("--sensors", options->sensors, "History file or store: the sensor keys (required there)")->delimiter(',');
    command->add_option("--units", options->units, "History file or store: only these twins")->delimiter(',');
    command->add_option("--rul-cap", options->rul_cap, "Cycles beyond which a unit counts as healthy (> 0)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("-o,--output", options->output, "The parameters file (prognostics) or calibration file (--scenario) to write")->required();
    // The building model (models/building/calibration.md).
    command->add_option("--scenario", building->scenario,
                        "Building model: the scenario whose thermal_zones binding to calibrate (its base graph, "
                        "parameters, weather; its start and horizon are the default window)");
    command->add_option("--history", building->history, "Building model: the recorded window, an HDF5 history file");
    command->add_option("--fit", building->fit,
                        "Building model: a parameter to fit, NAME[@ROOMS][=LOW:HIGH]: ua_per_area, air_heat_capacity, "
                        "mass_capacity, air_mass_conductance (per room with @ROOM or @PREFIX*), adjacent_conductance, "
                        "gain_per_person, radiant_fraction, solar_peak (repeatable); cop or cop@CHILLERS: the chillers' "
                        "COP from their recorded power (thermal_zones' chiller_power_property), written as chiller_cop");
    command->add_option("--from", building->from, "Building model: window start, RFC 3339 (default: the scenario's start)");
    command->add_option("--to", building->to, "Building model: window end, RFC 3339 (default: start + horizon)");
    command->add_option("--cooling-property", building->cooling_property,
                        "Building model: the recorded cooling per room (W); none = free-floating rooms")
        ->capture_default_str();
    command->add_option("--temperature-property", building->temperature_property, "Building model: the recorded room temperature")
        ->capture_default_str();
    command->add_option("--max-gap", building->max_gap, "Building model: s between samples bridged; a longer gap is refused")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--warmup", building->warmup, "Building model: ISO 8601 duration at the window's start not fitted")
        ->capture_default_str();
    command->add_option("--binding", building->binding, "Building model: which thermal_zones binding (0 = the first)")
        ->capture_default_str();
    command->add_option("--max-iterations", building->max_iterations, "Building model: Levenberg-Marquardt iterations")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    command->add_flag("--allow-outside-paths", building->allow_outside_paths,
                      "Building model: let the scenario name files outside its folder tree");
    command->add_flag("--json", options->json, "Print the summary as JSON");
    command->footer(
        "Prognostics: every unit's history is taken to end at its failure. The parameters file is what "
        "twinsim.predict_rul, live prognostics and the predicted_failures behaviour load "
        "(models/equipment/prognostics.md).\n"
        "Building model: twinsim calibrate --scenario week1.yaml --history history.h5 --fit ua_per_area@room-01-* "
        "--fit mass_capacity -o fitted.json; a scenario loads fitted.json with `calibration: fitted.json` "
        "(models/building/calibration.md).\n\n"
        "Exit status: 0 written; 1 histories that cannot be used (the message names the file, line and column), or a "
        "building calibration the recorded window cannot support (unknown parameter or room, empty window, a series "
        "missing or with a gap: named); "
        "2 usage error (missing or unreadable file, missing or locked store, unwritable output); 3 internal error.");
    return {command, [options, building] { return run_calibrate(*options, *building); }};
}

}  // namespace twinsim::cli
