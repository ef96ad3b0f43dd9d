#pragma once
// What `import` and `query` share: loading --models and an ADT import file
// (NDJSON) into a new twin graph, atomically, collecting every problem.

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/store.hpp"

namespace CLI {
class App;
}

namespace twinsim::scenario {
struct ScenarioSpec;
struct InputPathOptions;
class ModelRegistry;
}  // namespace twinsim::scenario

namespace twinsim::cli {

struct GraphInputOptions {
    std::vector<std::string> model_paths;  ///< DTDL files and folders loaded first, as one batch
    std::string file;                      ///< the .ndjson import file
    bool allow_undefined_extensions = false;
};

/// One problem, from the --models batch (no line) or the import file.
struct LoadProblem {
    std::optional<std::size_t> line;
    std::string section;
    std::string message;
};

struct LoadedGraph {
    std::unique_ptr<live::Store> store;       ///< set by load_into_store (the graph is the store's)
    std::unique_ptr<graph::TwinGraph> graph;  ///< set by load_graph; holds everything only when `loaded`
    /// The store's router with its saved routes (start_saved_routes); closed,
    /// delivering what it queued, before the store.
    std::unique_ptr<live::StoreEvents> events;
    bool loaded = false;
    std::vector<LoadProblem> problems;        ///< every problem when not loaded
    /// The loaded graph: the store's, or the in-memory one.
    [[nodiscard]] graph::TwinGraph& target() { return store ? store->graph() : *graph; }
};

/// Registers what every graph-loading command takes: --models (repeatable),
/// --allow-undefined-extensions and the import file as the positional `file_name`
/// (required unless `required` is false).
void add_graph_input_options(CLI::App& command, GraphInputOptions& input, const std::string& file_name,
                             bool required = true);

/// Adds the --models batch, then imports the file. Invalid models or lines are
/// reported in `problems` (nothing is loaded). Throws twinsim::IoError for a
/// missing or unreadable models path or import file (a usage error, exit 2).
[[nodiscard]] LoadedGraph load_graph(const GraphInputOptions& options);

/// Opens the durable store in `directory` (creating it) and loads the
/// --models batch and the import file (when `options.file` is not empty)
/// into its graph as one journaled batch, all or nothing, as load_graph
/// does. Throws live::StoreError when the store cannot be opened (a
/// StoreCorruptError when it is damaged), twinsim::IoError as load_graph.
[[nodiscard]] LoadedGraph load_into_store(const GraphInputOptions& options, const std::string& directory);

/// Opens the existing durable store in `directory` (never creating one) for
/// a command that works on the graph it holds. Throws live::StoreError as
/// load_into_store.
[[nodiscard]] LoadedGraph open_existing_store(const std::string& directory, bool allow_undefined_extensions);

/// The graph a command works on: the existing store in `store` when it is not
/// empty, else load_graph(options). Returns nullopt when `out` holds it, else
/// the exit status, after printing why (a store that cannot be opened, as
/// report_store_error; an invalid graph, as print_problems). Throws
/// twinsim::IoError as load_graph.
[[nodiscard]] std::optional<int> load_command_graph(const GraphInputOptions& options, const std::string& store,
                                                    LoadedGraph& out);

/// When `loaded` holds a store that keeps routes (DIR/routes.json), starts
/// its events (live::StoreEvents) so the command's changes are delivered
/// along them; nothing otherwise. Throws what StoreEvents throws
/// (live::SavedRoutesError for a damaged routes file, IoError).
void start_saved_routes(LoadedGraph& loaded);

/// The exit status for a store that cannot be opened: 1 when it is damaged,
/// 2 otherwise (locked, missing, unusable directory); prints the error.
[[nodiscard]] int report_store_error(const live::StoreError& e);

/// One line per problem ("FILE:LINE: Section: message" or "--models: message"),
/// then "invalid: N errors; nothing was loaded".
void print_problems(std::ostream& out, const std::string& file, const std::vector<LoadProblem>& problems);

/// What a scenario file names, resolved against its folder and confined by
/// `paths` (scenario/input_paths.hpp): its base_models appended to
/// input.model_paths, its base as input.file, and the files its behaviours'
/// parameters name (thermal_zones' weather_file) rewritten in `spec`.
/// `twinsim run` and `twinsim calibrate` read a scenario's graph alike.
/// Throws scenario::ScenarioError naming the field of a path that leaves the
/// folder or is not a regular file.
void resolve_scenario_inputs(scenario::ScenarioSpec& spec, const std::filesystem::path& scenario_file,
                             const scenario::ModelRegistry& behaviours, const scenario::InputPathOptions& paths,
                             GraphInputOptions& input);

}  // namespace twinsim::cli
