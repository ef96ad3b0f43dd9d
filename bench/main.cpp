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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }
    if (dtdl_command->parsed()) {
        if (smoke) dtdl.repeat = 1;
        return run_dtdl(dtdl);
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
