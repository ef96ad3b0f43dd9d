#include "model_input.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::cli {

using namespace twinsim::dtdl;  // model summaries and the DTDL types they describe
void add_model_input_options(CLI::App& command, ModelInputOptions& options) {
    command.add_option("PATH", options.paths,
                       "DTDL files and folders (folders are searched recursively for *.json); "
                       "together they form one model set")
        ->required();
    command.add_flag("--allow-undefined-extensions", options.allow_undefined_extensions,
                     "Accept extension contexts, types and members that no known extension defines");
    command.add_flag("--json", options.json, "Print one JSON object instead of text");
}

LoadedModel load_model(const ModelInputOptions& options) {
    const std::vector<std::filesystem::path> paths(options.paths.begin(), options.paths.end());
    const std::vector<dtdl::Document> documents = dtdl::read_documents(paths);

    dtdl::ParseOptions parse_options;
    parse_options.allow_undefined_extensions = options.allow_undefined_extensions;
    dtdl::ParseResult result = dtdl::parse(documents, parse_options);

    LoadedModel loaded;
    loaded.documents = documents.size();
    loaded.interfaces = result.interface_ids.size();
    loaded.unresolved = std::move(result.unresolved);
    for (dtdl::Diagnostic& d : result.diagnostics) {
        (d.severity == dtdl::Severity::error ? loaded.errors : loaded.warnings).push_back(std::move(d));
    }
    if (loaded.errors.empty() && loaded.unresolved.empty()) {
        loaded.model = dtdl::ModelSet::from_interfaces(std::move(result.interfaces), loaded.warnings);
        loaded.interfaces = loaded.model->size();
    }
    if (documents.empty()) std::cerr << "twinsim: warning: no *.json documents found in the given paths\n";
    return loaded;
}

void print_report(std::ostream& out, const LoadedModel& loaded) {
    for (const dtdl::Diagnostic& d : loaded.errors) out << d.to_string() << '\n';
    for (const std::string& id : loaded.unresolved) out << "unresolved: " << id << '\n';
    for (const dtdl::Diagnostic& d : loaded.warnings) out << "warning: " << d.to_string() << '\n';
    out << summary_line(loaded) << '\n';
}

std::string summary_line(const LoadedModel& loaded) {
    std::string warnings;
    if (!loaded.warnings.empty()) warnings = " (" + counted(loaded.warnings.size(), "warning", "warnings") + ")";
    if (loaded.valid()) return "valid: " + counted(loaded.interfaces, "interface", "interfaces") + warnings;
    return "invalid: " + problem_counts(loaded.errors.size(), loaded.unresolved.size()) + warnings;
}

nlohmann::ordered_json report_json(const LoadedModel& loaded) {
    nlohmann::ordered_json out;
    out["valid"] = loaded.valid();
    nlohmann::ordered_json& errors = out["errors"] = nlohmann::ordered_json::array();
    for (const dtdl::Diagnostic& d : loaded.errors) errors.push_back(diagnostic_json(d));
    out["unresolved"] = loaded.unresolved;
    nlohmann::ordered_json& warnings = out["warnings"] = nlohmann::ordered_json::array();
    for (const dtdl::Diagnostic& d : loaded.warnings) warnings.push_back(diagnostic_json(d));
    return out;
}

void print_json(std::ostream& out, const nlohmann::ordered_json& report) {
    out << report.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

}  // namespace twinsim::cli
