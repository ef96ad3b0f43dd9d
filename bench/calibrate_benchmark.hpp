#pragma once
// `twinsim-bench calibrate` (calibrate_benchmark.cpp): calibration of 50
// per-room conductances of the sample building over a two-week window of
// 5-minute data (target: under 60 s on two cores), beside
// scipy.optimize.least_squares on the same network and data
// (bench/calibrate_scipy.py), in interleaved rounds.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace twinsim::bench {

struct CalibrateBenchOptions {
    double days = 14.0;       ///< the window
    int rounds = 3;           ///< interleaved rounds (twinsim, then the peer); medians reported
    std::string python;       ///< the interpreter for the peer; "" = no peer
    std::string peer_script;  ///< bench/calibrate_scipy.py
};

/// `twinsim-bench calibrate`; prints one JSON object. Exit 0, or 1 when a fit or the peer failed.
[[nodiscard]] int run_calibrate(const CalibrateBenchOptions& options);

/// Registers the `calibrate` subcommand; run() returns its exit status when it was chosen.
class CalibrateBenchCommand {
public:
    explicit CalibrateBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    CalibrateBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
