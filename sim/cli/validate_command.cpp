// `twinsim validate`: check DTDL files and folders as one model set.

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "model_input.hpp"

namespace twinsim::cli {
namespace {

int run_validate(const ModelInputOptions& options) {
    const LoadedModel loaded = load_model(options);
    if (options.json) {
        nlohmann::ordered_json report = report_json(loaded);
        report["interfaces"] = loaded.interfaces;
        print_json(std::cout, report);
    } else {
        print_report(std::cout, loaded);
    }
    return loaded.valid() ? exit_valid : exit_invalid;
}

}  // namespace

Command add_validate_command(CLI::App& app) {
    auto options = std::make_shared<ModelInputOptions>();
    CLI::App* command = app.add_subcommand(
        "validate",
        "Check DTDL files and folders as one model set: every rule of the DTDL v2/v3 specification, "
        "and that every referenced identifier is defined");
    add_model_input_options(*command, *options);
    command->footer("Exit status: 0 valid, 1 invalid or incomplete, 2 usage error or unreadable input.");
    return {command, [options] { return run_validate(*options); }};
}

}  // namespace twinsim::cli
