#pragma once
// `twinsim-bench production` (production_benchmark.cpp): the sample plant on one
// core beside the same line in SimPy 4 and salabim (bench/production_*.py).

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace twinsim::bench {

struct ProductionBenchOptions {
    int rounds = 5;                 ///< interleaved rounds: twinsim line, twinsim scenario, SimPy, salabim
    int replications = 20;          ///< twinsim line replications per round
    int scenario_replications = 5;  ///< whole-scenario replications per round
    int peer_replications = 1;      ///< SimPy and salabim replications per round
    double days = 0.0;              ///< simulated days; 0: the demand's last release + 30 days
    std::string scenario;           ///< "" = scenarios/production/plant-q4.yaml
    std::uint64_t seed = 1;
    std::string python;             ///< the interpreter for the peers; "" = no peers
    std::string simpy_script;
    std::string salabim_script;
};

/// Registers the `production` subcommand; run() returns its exit status when it was chosen.
class ProductionBenchCommand {
public:
    explicit ProductionBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    ProductionBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
