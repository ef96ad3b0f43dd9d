#include "graph_input.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "model_input.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::cli {

namespace {

// The --models batch, then the import file, into `g` as one atomic batch: on
// any problem nothing is loaded (also into a store: nothing is journaled).
void load_into(graph::TwinGraph& g, const GraphInputOptions& options, LoadedGraph& out) {
    std::vector<dtdl::Document> documents;
    if (!options.model_paths.empty()) {
        const std::vector<std::filesystem::path> paths(options.model_paths.begin(), options.model_paths.end());
        documents = dtdl::read_documents(paths);  // IoError: exit 2
        if (documents.empty()) std::cerr << "twinsim: warning: no *.json documents found in the --models paths\n";
    }
    try {
        g.atomically([&](graph::TwinGraph& a) {
            if (!options.model_paths.empty()) a.add_models(documents);
            if (options.file.empty()) return;
            // An unreadable file is a usage error (exit 2), before any parsing starts.
            if (FILE* probe = std::fopen(options.file.c_str(), "rb"); probe != nullptr) {
                std::fclose(probe);
            } else {
                throw IoError("cannot read " + options.file + ": " + std::strerror(errno));
            }
            graph::import_ndjson(a, std::filesystem::path(options.file));
        });
        out.loaded = true;
    } catch (const dtdl::ModelError& e) {
        for (const dtdl::Diagnostic& d : e.errors()) out.problems.push_back({std::nullopt, "--models", d.to_string()});
        for (const std::string& id : e.unresolved()) out.problems.push_back({std::nullopt, "--models", "unresolved: " + id});
    } catch (const graph::ImportError& e) {
        for (const graph::ImportProblem& p : e.problems()) out.problems.push_back({p.line, p.section, p.message});
    }
}

}  // namespace

LoadedGraph load_graph(const GraphInputOptions& options) {
    LoadedGraph out;
    graph::TwinGraphOptions graph_options;
    graph_options.allow_undefined_extensions = options.allow_undefined_extensions;
    out.graph = std::make_unique<graph::TwinGraph>(graph_options);
    load_into(*out.graph, options, out);
    return out;
}

LoadedGraph load_into_store(const GraphInputOptions& options, const std::string& directory) {
    LoadedGraph out;
    live::StoreOptions store_options;
    store_options.allow_undefined_extensions = options.allow_undefined_extensions;
    out.store = live::open_store(directory, store_options);
    start_saved_routes(out);  // the import's events go along the store's routes
    if (options.model_paths.empty() && options.file.empty()) {
        out.loaded = true;
        return out;
    }
    load_into(out.store->graph(), options, out);
    return out;
}

LoadedGraph open_existing_store(const std::string& directory, bool allow_undefined_extensions) {
    LoadedGraph out;
    live::StoreOptions store_options;
    store_options.create = false;
    store_options.allow_undefined_extensions = allow_undefined_extensions;
    out.store = live::open_store(directory, store_options);
    out.loaded = true;
    return out;
}

std::optional<int> load_command_graph(const GraphInputOptions& options, const std::string& store, LoadedGraph& out) {
    try {
        out = store.empty() ? load_graph(options) : open_existing_store(store, options.allow_undefined_extensions);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    if (!out.loaded) {
        print_problems(std::cerr, options.file, out.problems);
        return exit_invalid;
    }
    return std::nullopt;
}

void start_saved_routes(LoadedGraph& loaded) {
    if (!loaded.store || loaded.events) return;
    std::error_code ec;
    if (!std::filesystem::exists(live::saved_routes_file(loaded.store->directory()), ec)) return;
    loaded.events = std::make_unique<live::StoreEvents>(loaded.store->graph(), loaded.store->directory());
}

int report_store_error(const live::StoreError& e) {
    std::cerr << "twinsim: error: " << e.what() << '\n';
    return dynamic_cast<const live::StoreCorruptError*>(&e) != nullptr ? 1 : 2;
}

void print_problems(std::ostream& out, const std::string& file, const std::vector<LoadProblem>& problems) {
    for (const LoadProblem& p : problems) {
        if (p.line) {
            out << file << ':' << *p.line << ": ";
            if (!p.section.empty()) out << p.section << ": ";
        } else {
            out << p.section << ": ";
        }
        out << p.message << '\n';
    }
    out << "invalid: " << dtdl::counted(problems.size(), "error", "errors") << "; nothing was loaded\n";
}

void add_graph_input_options(CLI::App& command, GraphInputOptions& input, const std::string& file_name, bool required) {
    command.add_option("--models", input.model_paths, "DTDL files or folders to add first, as one model batch (repeatable)")
        ->allow_extra_args(false);
    command.add_flag("--allow-undefined-extensions", input.allow_undefined_extensions,
                     "Accept extension contexts, types and members that no known extension defines");
    CLI::Option* file = command.add_option(file_name, input.file, "The .ndjson import file");
    if (required) file->required();
}

void resolve_scenario_inputs(scenario::ScenarioSpec& spec, const std::filesystem::path& scenario_file,
                             const scenario::ModelRegistry& behaviours, const scenario::InputPathOptions& paths,
                             GraphInputOptions& input) {
    const std::filesystem::path folder = scenario_file.parent_path();
    scenario::InputPathOptions folders = paths;
    folders.allow_folder = true;
    for (std::size_t i = 0; i < spec.base_models.size(); ++i)
        input.model_paths.push_back(scenario::resolve_input_path(spec, folder, spec.base_models[i],
                                                                 "/base_models/" + std::to_string(i),
                                                                 "base_models[" + std::to_string(i) + "]", folders)
                                        .string());
    scenario::InputPathOptions files = paths;
    files.allow_folder = false;
    input.file = scenario::resolve_input_path(spec, folder, spec.base, "/base", "base", files).string();
    scenario::resolve_parameter_paths(spec, folder, behaviours, files);
}

}  // namespace twinsim::cli
