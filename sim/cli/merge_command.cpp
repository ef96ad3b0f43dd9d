// `twinsim merge`: combines the results shards of one job (written by
// `twinsim run --shard K/N`) into one results file (io::merge_results).

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "model_input.hpp"
#include "scenario_commands.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/merge.hpp"

namespace twinsim::cli {
namespace {

struct MergeOptions {
    std::vector<std::string> shards;
    std::string out;
};

int run_merge(const MergeOptions& options) {
    const std::vector<std::filesystem::path> shards(options.shards.begin(), options.shards.end());
    try {
        io::merge_results(shards, options.out);
    } catch (const io::ResultsError& e) {
        std::cerr << "twinsim: error: " << e.what() << "\ntwinsim: no results written\n";
        return exit_usage;
    }
    std::cout << "merged " << shards.size() << (shards.size() == 1 ? " shard" : " shards") << "\nresults: " << options.out
              << '\n';
    return exit_valid;
}

}  // namespace

Command add_merge_command(CLI::App& app) {
    auto options = std::make_shared<MergeOptions>();
    CLI::App* command = app.add_subcommand(
        "merge",
        "Combine the results shards of one job (twinsim run --shard K/N, one per process or machine) into the "
        "results file a single 'twinsim run' of the whole job writes");
    command->add_option("-o,--output", options->out,
                        "The results file to write; written to a temporary name and renamed once complete")
        ->required();
    command->add_option("SHARD", options->shards, "The shard files, all N of them, in any order")->required();
    command->footer(
        "The merged file holds every dataset, dimension scale and attribute a single process would have written "
        "(series, events, KPIs per run and across replications), except the root attribute 'created', which is the "
        "earliest of the shards'.\n\n"
        "Exit status: 0 merged; 2 bad usage, a file that is missing or not a results shard, shards of different "
        "jobs, two files holding the same shard or replication, a missing shard, or an output that cannot be "
        "written (the message names the file and why; no file is left).");
    return {command, [options] { return run_merge(*options); }};
}

}  // namespace twinsim::cli
