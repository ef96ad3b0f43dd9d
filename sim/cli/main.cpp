// The `twinsim` program: parses the command line, runs one subcommand, and turns
// every exception into a message and an exit status (it never crashes on bad input).

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <vector>

#include "model_input.hpp"
#include "models/builtin.hpp"
#include "scenario_commands.hpp"
#include "serve_commands.hpp"
#include "twinsim/live/mqtt_endpoint.hpp"
#include "twinsim/service/webhook.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::cli {
namespace {

int run(int argc, char** argv) {
    CLI::App app("twinsim " TWINSIM_VERSION " - a digital-twin engine: check and explore DTDL models, load and query twin graphs, run what-if scenarios and compare their results",
                 "twinsim");
    app.set_version_flag("--version", "twinsim " TWINSIM_VERSION, "Print the version and exit");
    app.require_subcommand(0, 1);
    app.footer("Run 'twinsim <command> --help' for a command's options.");
    // The behaviours scenarios can bind: the program's one link to models/.
    const scenario::ModelRegistry& behaviours = models::builtin_registry();
    const std::vector<Command> commands{add_validate_command(app),          add_describe_command(app),
                                       add_import_command(app),            add_query_command(app),
                                       add_ingest_command(app),            add_routes_command(app),
                                       add_history_command(app),           add_rules_command(app),
                                       add_run_command(app, behaviours),   add_merge_command(app),
                                       add_compare_command(app),           add_behaviours_command(app, behaviours),
                                       add_calibrate_command(app),         add_prognostics_command(app),
                                       add_serve_command(app),                add_token_command(app)};

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);  // prints help, the version, or the error
        return status == 0 ? 0 : exit_usage;
    }
    for (const Command& command : commands) {
        if (command.app->parsed()) return command.run();
    }
    std::cerr << app.help();
    return exit_usage;
}

}  // namespace
}  // namespace twinsim::cli

int main(int argc, char** argv) {
    // Saved routes may name MQTT endpoints (docs/events.md): this program can deliver to them.
    twinsim::live::register_mqtt_endpoint_kind();
    // ... and webhooks (saved by `twinsim serve --webhook` or PUT /endpoints/{name}).
    twinsim::service::register_webhook_endpoint_kind();
    try {
        return twinsim::cli::run(argc, argv);
    } catch (const twinsim::IoError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return twinsim::cli::exit_usage;
    } catch (const twinsim::Error& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return twinsim::cli::exit_invalid;
    } catch (const std::bad_alloc&) {
        std::cerr << "twinsim: error: out of memory\n";
        return 3;
    } catch (const std::exception& e) {
        std::cerr << "twinsim: internal error: " << e.what() << '\n';
        return 3;
    }
}
