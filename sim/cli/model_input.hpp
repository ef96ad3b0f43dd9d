#pragma once
// What `validate` and `describe` share: their common options, reading the
// documents into one model set, and reporting what is wrong with it.
// (CLI11 stays out of headers: CLI::App is only declared here.)

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/dtdl/model_set.hpp"

namespace CLI {
class App;
}

namespace twinsim::cli {

/// Exit statuses of every subcommand.
inline constexpr int exit_valid = 0;
inline constexpr int exit_invalid = 1;
inline constexpr int exit_usage = 2;  ///< bad arguments or unreadable input

/// A subcommand added to the program, and what runs it once it was parsed.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;  ///< returns the exit status
};

/// Options of a subcommand that reads a model set.
struct ModelInputOptions {
    std::vector<std::string> paths;  ///< files and folders, one model set
    bool allow_undefined_extensions = false;
    bool json = false;
};

/// Adds PATH... (required), --allow-undefined-extensions and --json to `command`.
void add_model_input_options(CLI::App& command, ModelInputOptions& options);

/// The outcome of reading and compiling a model set.
struct LoadedModel {
    std::shared_ptr<const dtdl::ModelSet> model;  ///< null when invalid or incomplete
    std::vector<dtdl::Diagnostic> errors;
    std::vector<dtdl::Diagnostic> warnings;
    std::vector<std::string> unresolved;
    std::size_t documents = 0;
    std::size_t interfaces = 0;  ///< compiled (valid) or parsed (invalid) interfaces

    [[nodiscard]] bool valid() const noexcept { return model != nullptr; }
};

/// Reads the documents (read_documents), parses and validates them together and,
/// when valid and complete, compiles the ModelSet.
/// Throws twinsim::IoError naming a path that is missing or unreadable.
[[nodiscard]] LoadedModel load_model(const ModelInputOptions& options);

/// Text report: each error on its own line, then unresolved identifiers
/// ("unresolved: <id>"), then warnings ("warning: ..."), then the summary line.
void print_report(std::ostream& out, const LoadedModel& loaded);

/// "valid: 767 interfaces" / "invalid: 3 errors, 1 unresolved identifier".
[[nodiscard]] std::string summary_line(const LoadedModel& loaded);

/// {"valid", "errors": [...], "unresolved": [...], "warnings": [...]}.
[[nodiscard]] nlohmann::ordered_json report_json(const LoadedModel& loaded);

/// Prints `report` indented, invalid UTF-8 (e.g. in a file name) replaced by U+FFFD.
void print_json(std::ostream& out, const nlohmann::ordered_json& report);

/// The subcommands (validate_command.cpp, describe_command.cpp, import_command.cpp, query_command.cpp).
[[nodiscard]] Command add_validate_command(CLI::App& app);
[[nodiscard]] Command add_describe_command(CLI::App& app);
[[nodiscard]] Command add_import_command(CLI::App& app);
[[nodiscard]] Command add_query_command(CLI::App& app);
[[nodiscard]] Command add_ingest_command(CLI::App& app);  // ingest_command.cpp
[[nodiscard]] Command add_routes_command(CLI::App& app);  // routes_command.cpp
[[nodiscard]] Command add_history_command(CLI::App& app);  // history_command.cpp
[[nodiscard]] Command add_rules_command(CLI::App& app);   // rules_command.cpp

}  // namespace twinsim::cli
