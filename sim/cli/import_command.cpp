// `twinsim import`: load an ADT import file (NDJSON) into a twin graph, atomically,
// and print what it holds, or every bad line.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::cli {
namespace {

struct ImportOptions {
    GraphInputOptions input;
    std::string store;  ///< --store DIR: import into the durable store
    bool json = false;
};

struct Outcome {
    bool loaded = false;
    std::size_t models = 0;
    std::size_t twins = 0;
    std::size_t relationships = 0;
    std::map<std::string, std::size_t> twins_by_model;
    std::map<std::string, std::size_t> relationships_by_name;
    std::vector<LoadProblem> problems;
    double seconds = 0.0;
};

// Counts by interface and by interned name first (a vector index and a
// pointer per item), then turns the counts into the named maps: a million
// twins and two million relationships cost no string comparison each.
void count(const graph::Snapshot& snapshot, Outcome& outcome) {
    outcome.models = snapshot.list_models().size();
    outcome.twins = snapshot.twin_count();
    outcome.relationships = snapshot.relationship_count();
    const dtdl::ModelSet* models = snapshot.models().get();
    std::vector<std::size_t> by_interface;
    for (graph::TwinIndex t : snapshot.twins()) {
        const dtdl::InterfaceIndex i = snapshot.twin_model(t);
        if (i >= by_interface.size()) by_interface.resize(std::size_t{i} + 1);
        ++by_interface[i];
    }
    for (std::size_t i = 0; i < by_interface.size(); ++i) {
        if (by_interface[i] != 0) outcome.twins_by_model[models->at(static_cast<dtdl::InterfaceIndex>(i)).definition->id] += by_interface[i];
    }
    // relationship_name returns the graph's one interned copy of each name.
    std::unordered_map<const std::string*, std::size_t> by_name;
    const std::string* last = nullptr;
    std::size_t* last_count = nullptr;
    for (graph::RelationshipIndex r = 0; r < snapshot.relationship_capacity(); ++r) {
        if (!snapshot.relationship_alive(r)) continue;
        const std::string* name = &snapshot.relationship_name(r);
        if (name != last) {
            last = name;
            last_count = &by_name[name];
        }
        ++*last_count;
    }
    for (const auto& [name, n] : by_name) outcome.relationships_by_name[*name] += n;
}

Outcome load(const ImportOptions& options, LoadedGraph& loaded) {
    const auto start = std::chrono::steady_clock::now();
    Outcome outcome;
    loaded = options.store.empty() ? load_graph(options.input) : load_into_store(options.input, options.store);
    outcome.loaded = loaded.loaded;
    outcome.problems = std::move(loaded.problems);
    if (outcome.loaded) count(loaded.target().snapshot(), outcome);
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return outcome;
}

std::string format_seconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f s", seconds);
    return text;
}

void print_counts(std::ostream& out, const char* title, const std::map<std::string, std::size_t>& counts) {
    out << title << '\n';
    std::size_t width = 0;
    for (const auto& [name, n] : counts) width = std::max(width, name.size());
    for (const auto& [name, n] : counts) {
        out << "  " << name << std::string(width - name.size() + 2, ' ') << n << '\n';
    }
}

void print_text(std::ostream& out, const ImportOptions& options, const Outcome& outcome) {
    if (!outcome.loaded) {
        print_problems(out, options.input.file, outcome.problems);
        return;
    }
    out << "loaded " << options.input.file;
    if (!options.store.empty()) out << " into the store " << options.store;
    out << " in " << format_seconds(outcome.seconds) << '\n';
    print_counts(out, "twins by model:", outcome.twins_by_model);
    print_counts(out, "relationships by name:", outcome.relationships_by_name);
    out << "total: " << dtdl::counted(outcome.twins, "twin", "twins") << ", "
        << dtdl::counted(outcome.relationships, "relationship", "relationships") << ", "
        << dtdl::counted(outcome.models, "model", "models") << '\n';
}

nlohmann::ordered_json report_json(const Outcome& outcome) {
    nlohmann::ordered_json out;
    out["loaded"] = outcome.loaded;
    out["twins"] = outcome.twins;
    out["relationships"] = outcome.relationships;
    out["models"] = outcome.models;
    out["twins_by_model"] = outcome.twins_by_model;
    out["relationships_by_name"] = outcome.relationships_by_name;
    out["seconds"] = outcome.seconds;
    nlohmann::ordered_json& errors = out["errors"] = nlohmann::ordered_json::array();
    for (const LoadProblem& p : outcome.problems) {
        nlohmann::ordered_json e;
        e["line"] = p.line ? nlohmann::ordered_json(*p.line) : nlohmann::ordered_json(nullptr);
        e["section"] = p.section;
        e["message"] = p.message;
        errors.push_back(std::move(e));
    }
    return out;
}

int run_import(const ImportOptions& options) {
    Outcome outcome;
    LoadedGraph loaded;
    try {
        outcome = load(options, loaded);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    if (options.json) {
        print_json(std::cout, report_json(outcome));
    } else {
        print_text(std::cout, options, outcome);
    }
    const int status = outcome.loaded ? exit_valid : exit_invalid;
    if (loaded.store == nullptr) {
        // An in-memory import ends here: what it produced is the report, now
        // written. Tearing down the graph (a million twins: millions of
        // strings, chunks and adjacency lists) would only return memory to an
        // exiting process, so the process ends without it. A store is closed
        // the ordinary way below (its journal and routes shut down in order).
        std::cout.flush();
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}

}  // namespace

Command add_import_command(CLI::App& app) {
    auto options = std::make_shared<ImportOptions>();
    CLI::App* command = app.add_subcommand(
        "import",
        "Load an Azure Digital Twins import file (NDJSON: Header, Models, Twins, Relationships sections) into a "
        "twin graph, all or nothing, and print its statistics or every bad line");
    add_graph_input_options(*command, options->input, "FILE");
    command->add_option("--store", options->store,
                        "Import into the durable store in directory DIR (created when missing; docs/store.md): the "
                        "models and the file are one journaled batch, and the statistics are the whole stored graph's");
    command->add_flag("--json", options->json,
                      "Print one JSON object: loaded, twins, relationships, models, twins_by_model, "
                      "relationships_by_name, seconds, errors [{line, section, message}]");
    command->footer(
        "Exit status: 0 loaded, 1 invalid (nothing loaded) or damaged store, 2 usage error, unreadable input, or a "
        "store that cannot be opened (open in another process, unusable directory).");
    return {command, [options] { return run_import(*options); }};
}

}  // namespace twinsim::cli
