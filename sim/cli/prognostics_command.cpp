// `twinsim prognostics`: run live prognostics (models/equipment/live_prognostics.hpp)
// on a durable store — every DegradingEquipment twin's recorded sensor history
// (its property updates and telemetry) goes through the model of a parameters
// file, and the twins' prognostic properties (healthIndicator, rulMean,
// rulQuantiles, failureProbability, ...) are written back to the store in one
// journaled batch. A thin shell over LivePrognostics::seed.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/equipment/live_prognostics.hpp"
#include "scenario_commands.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::cli {
namespace {

struct PrognosticsCommandOptions {
    std::string store;
    std::string parameters;
    double horizon = 30.0;
    std::size_t top = 20;
    bool json = false;
};

int run_prognostics(const PrognosticsCommandOptions& options) {
    std::shared_ptr<const models::PrognosticsModel> model;
    try {
        model = std::make_shared<const models::PrognosticsModel>(models::PrognosticsModel::load(options.parameters));
    } catch (const IoError& e) {
        std::cerr << "twinsim prognostics: error: " << e.what() << '\n';
        return exit_usage;
    }
    LoadedGraph loaded;
    try {
        loaded = open_existing_store(options.store, false);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    live::Store& store = *loaded.store;
    models::LivePrognosticsOptions o;
    o.horizon = options.horizon;
    models::LivePrognostics engine(store.graph(), model, o);
    const models::HealthIndicator& hi = model->health_indicator();
    const models::HistorySet histories =
        models::histories_from_store(store, hi.setting_names(), hi.sensor_names(), false);
    const std::size_t skipped = engine.seed(histories);
    engine.drain();
    const models::LivePrognosticsStatistics stats = engine.statistics();
    if (stats.failures > 0) {
        std::cerr << "twinsim prognostics: error: the store refused the prognostic properties: " << stats.last_error
                  << '\n';
        return exit_invalid;
    }
    std::vector<models::RulDistribution> rows;
    for (const models::UnitHistory& u : histories.units)
        if (auto d = engine.distribution(u.id)) rows.push_back(std::move(*d));
    std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
        const double pa = a.probability_within(options.horizon), pb = b.probability_within(options.horizon);
        return pa != pb ? pa > pb : a.unit < b.unit;
    });
    if (options.json) {
        for (const models::RulDistribution& d : rows)
            std::cout << nlohmann::json{{"twin", d.unit},
                                        {"cycle", d.cycle},
                                        {"health", d.health},
                                        {"rul_mean", d.mean()},
                                        {"rul_p05", d.quantile(0.05)},
                                        {"rul_p50", d.quantile(0.5)},
                                        {"rul_p95", d.quantile(0.95)},
                                        {"p_fail", d.probability_within(options.horizon)},
                                        {"horizon", options.horizon}}
                             .dump()
                      << '\n';
        return exit_valid;
    }
    std::cout << "predicted " << rows.size() << " twins from " << stats.readings << " recorded readings";
    if (skipped > 0) std::cout << " (" << skipped << " twins with history are not DegradingEquipment)";
    std::cout << "; properties written to " << options.store << "\n\n"
              << std::left << std::setw(16) << "twin" << std::right << std::setw(8) << "cycle" << std::setw(8) << "health"
              << std::setw(10) << "RUL mean" << std::setw(14) << "RUL 90%" << std::setw(12)
              << ("P(fail<=" + std::to_string(static_cast<int>(options.horizon)) + ")") << '\n';
    for (std::size_t i = 0; i < rows.size() && i < options.top; ++i) {
        const models::RulDistribution& d = rows[i];
        const std::string interval =
            "[" + std::to_string(static_cast<long>(d.quantile(0.05))) + ", " + std::to_string(static_cast<long>(d.quantile(0.95))) + "]";
        std::cout << std::left << std::setw(16) << d.unit << std::right << std::fixed << std::setprecision(0)
                  << std::setw(8) << d.cycle << std::setprecision(2) << std::setw(8) << d.health << std::setprecision(1)
                  << std::setw(10) << d.mean() << std::setw(14) << interval << std::setprecision(3) << std::setw(12)
                  << d.probability_within(options.horizon) << '\n';
    }
    if (rows.size() > options.top) std::cout << "... " << rows.size() - options.top << " more (--top, --json)\n";
    return exit_valid;
}

}  // namespace

Command add_prognostics_command(CLI::App& app) {
    auto options = std::make_shared<PrognosticsCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "prognostics",
        "Predict the remaining useful life of every degrading twin of a store from its recorded sensor history, and "
        "write the prognostic properties (healthIndicator, rulMean, rulQuantiles, failureProbability, ...) back");
    command->add_option("--store", options->store, "The durable store's directory")->required();
    command->add_option("-p,--parameters", options->parameters, "The parameters file (twinsim calibrate)")->required();
    command->add_option("--horizon", options->horizon, "Cycles of failureProbability")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--top", options->top, "Rows printed (most likely to fail first)")->capture_default_str();
    command->add_flag("--json", options->json, "One JSON line per twin instead of the table");
    command->footer(
        "The twins followed are those of dtmi:twinsim:equipment:DegradingEquipment;1 (or an interface extending "
        "it); their readings are the property updates and telemetry of the parameters' settings and sensors, the "
        "k-th distinct time being cycle k. While a program keeps the store open, twinsim.LivePrognostics keeps the "
        "same properties current as readings arrive (models/equipment/prognostics.md).\n\n"
        "Exit status: 0 written; 1 the store refused the properties (its models lack them); 2 usage error "
        "(missing or locked store, unreadable parameters file); 3 internal error.");
    return {command, [options] { return run_prognostics(*options); }};
}

}  // namespace twinsim::cli
