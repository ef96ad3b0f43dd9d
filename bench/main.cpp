// twinsim-bench: benchmarks printing one JSON object each, with the target they
// aim for and a baseline measured in the same run.

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "bench_support.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::bench {
namespace {

int run(int argc, char** argv) {
    CLI::App app("twinsim-bench - twinsim benchmarks; each prints one JSON object", "twinsim-bench");
    app.require_subcommand(1);
    bool smoke = false;

    DtdlOptions dtdl;
    CLI::App* dtdl_command = app.add_subcommand(
        "dtdl", "Time ModelSet::compile (parse, resolve, validate, flatten) on the RealEstateCore ontology in memory");
    dtdl_command->add_option("--ontology", dtdl.ontology, "Folder or file of DTDL documents")
        ->default_str(default_ontology().string());
    dtdl_command->add_option("--repeat", dtdl.repeat, "Number of timed compilations")->check(CLI::Range(1, 1000000));
    dtdl_command->add_option("--synthetic", dtdl.synthetic,
                             "Instead of the ontology, N generated interfaces and N/10 of them (a scaling check)")
        ->check(CLI::Range(100, 10000000));
    dtdl_command->add_flag("--smoke", smoke, "One repetition (for CI)");

    ProcessOptions process;
    CLI::App* process_command = app.add_subcommand(
        "validate-process", "Time the whole `twinsim validate <ontology>` process (target 0.5 s)");
    process_command->add_option("--cli", process.cli, "The twinsim program")
#ifdef TWINSIM_DEFAULT_CLI
        ->default_val(std::string(TWINSIM_DEFAULT_CLI))
#endif
        ;
    process_command->add_option("--ontology", process.ontology, "Folder or file of DTDL documents")
        ->default_str(default_ontology().string());
    process_command->add_option("--repeat", process.repeat, "Number of timed runs")->check(CLI::Range(1, 1000000));
    process_command->add_flag("--smoke", smoke, "One repetition (for CI)");

    GraphOptions graph;
    bool graph_smoke = false;
    CLI::App* graph_command = app.add_subcommand(
        "graph", "Generate a building-like graph (N twins, 2N relationships) and time NDJSON import, snapshots, "
                 "property writes and lookups; report memory");
    graph_command->add_option("--twins", graph.twins, "Number of twins N (relationships: 2N)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
    graph_command->add_option("--seed", graph.seed, "Seed of the generated graph")->capture_default_str();
    graph_command->add_option("--keep", graph.keep, "Write the generated NDJSON file here and keep it");
    graph_command->add_flag("--smoke", graph_smoke, "N = 10,000 (for CI)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }
    if (dtdl_command->parsed()) {
        if (smoke) dtdl.repeat = 1;
        return run_dtdl(dtdl);
    }
    if (graph_command->parsed()) {
        if (graph_smoke) graph.twins = 10000;
        return run_graph(graph);
    }
    if (smoke) process.repeat = 1;
    return run_validate_process(process);
}

}  // namespace
}  // namespace twinsim::bench

int main(int argc, char** argv) {
    try {
        return twinsim::bench::run(argc, argv);
    } catch (const twinsim::IoError& e) {
        std::cerr << "twinsim-bench: " << e.what() << '\n';
        return twinsim::bench::exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "twinsim-bench: " << e.what() << '\n';
        return twinsim::bench::exit_failed;
    }
}
