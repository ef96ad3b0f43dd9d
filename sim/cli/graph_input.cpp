#include "graph_input.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/ndjson.hpp"

namespace twinsim::cli {

LoadedGraph load_graph(const GraphInputOptions& options) {
    LoadedGraph out;
    graph::TwinGraphOptions graph_options;
    graph_options.allow_undefined_extensions = options.allow_undefined_extensions;
    out.graph = std::make_unique<graph::TwinGraph>(graph_options);

    if (!options.model_paths.empty()) {
        const std::vector<std::filesystem::path> paths(options.model_paths.begin(), options.model_paths.end());
        const std::vector<dtdl::Document> documents = dtdl::read_documents(paths);  // IoError: exit 2
        if (documents.empty()) std::cerr << "twinsim: warning: no *.json documents found in the --models paths\n";
        try {
            out.graph->add_models(documents);
        } catch (const dtdl::ModelError& e) {
            for (const dtdl::Diagnostic& d : e.errors()) out.problems.push_back({std::nullopt, "--models", d.to_string()});
            for (const std::string& id : e.unresolved()) {
                out.problems.push_back({std::nullopt, "--models", "unresolved: " + id});
            }
            return out;
        }
    }
    // An unreadable file is a usage error (exit 2), before any parsing starts.
    if (FILE* probe = std::fopen(options.file.c_str(), "rb"); probe != nullptr) {
        std::fclose(probe);
    } else {
        throw IoError("cannot read " + options.file + ": " + std::strerror(errno));
    }
    try {
        graph::import_ndjson(*out.graph, std::filesystem::path(options.file));
        out.loaded = true;
    } catch (const graph::ImportError& e) {
        for (const graph::ImportProblem& p : e.problems()) out.problems.push_back({p.line, p.section, p.message});
    }
    return out;
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

void add_graph_input_options(CLI::App& command, GraphInputOptions& input, const std::string& file_name) {
    command.add_option("--models", input.model_paths, "DTDL files or folders to add first, as one model batch (repeatable)")
        ->allow_extra_args(false);
    command.add_flag("--allow-undefined-extensions", input.allow_undefined_extensions,
                     "Accept extension contexts, types and members that no known extension defines");
    command.add_option(file_name, input.file, "The .ndjson import file")->required();
}

}  // namespace twinsim::cli
