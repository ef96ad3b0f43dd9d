// `twinsim calibrate`: fit the degradation prognostics model
// (models/equipment/prognostics.md) on run-to-failure histories — a C-MAPSS
// text file, a CSV file, an HDF5 history file or a durable store's history —
// and write its parameters file (JSON), which scenarios and live prognostics
// load. A thin shell over models::read_histories and PrognosticsModel::fit.

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/equipment/prognostics.hpp"
#include "scenario_commands.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::cli {
namespace {

struct CalibrateOptions {
    std::string file;
    std::string store;
    std::string format = "auto";
    std::vector<std::string> settings, sensors, units;
    std::string output;
    double rul_cap = 125.0;
    bool json = false;
};

int run_calibrate(const CalibrateOptions& options) {
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
    CLI::App* command = app.add_subcommand(
        "calibrate",
        "Fit the degradation prognostics model (health indicator, fleet degradation curve, random effects, lifetime "
        "prior) on run-to-failure histories and write its parameters file (JSON)");
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
    command->add_option("-o,--output", options->output, "The parameters file to write")->required();
    command->add_flag("--json", options->json, "Print the summary as JSON");
    command->footer(
        "Every unit's history is taken to end at its failure. The parameters file is what "
        "twinsim.predict_rul, live prognostics and the predicted_failures behaviour load "
        "(models/equipment/prognostics.md).\n\n"
        "Exit status: 0 written; 1 histories that cannot be used (the message names the file, line and column); "
        "2 usage error (missing or unreadable file, missing or locked store, unwritable output); 3 internal error.");
    return {command, [options] { return run_calibrate(*options); }};
}

}  // namespace twinsim::cli
