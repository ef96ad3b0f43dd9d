#pragma once
// `twinsim-bench fleet` (fleet_benchmark.cpp): condition-based maintenance of a
// fleet, many replications, beside a vectorised NumPy peer (bench/fleet_numpy.py).

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace twinsim::bench {

struct FleetBenchOptions {
    std::size_t units = 10000;
    std::size_t replications = 1000;
    double horizon_hours = 8760.0;  ///< one year
    int rounds = 3;                 ///< interleaved rounds: twinsim on 1 thread, on `threads`, the peer
    unsigned threads = 2;
    std::uint64_t seed = 1;
    std::string python;             ///< the interpreter for the peer; "" = no peer
    std::string peer_script;        ///< bench/fleet_numpy.py
};

/// Registers the `fleet` subcommand; run() returns its exit status when it was chosen.
class FleetBenchCommand {
public:
    explicit FleetBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    FleetBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
