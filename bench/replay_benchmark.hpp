#pragma once
// `twinsim-bench replay` (replay_benchmark.cpp): a month of recorded history
// replayed through thermal_zones on the 10,000-zone building, beside the same
// month simulated without replay (the models computing the inputs), in
// interleaved rounds.

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace twinsim::bench {

struct ReplayBenchOptions {
    std::size_t zones = 10000;  ///< rooms of the scaled building (copies of the bundled one)
    double days = 30.0;         ///< the window
    int rounds = 3;             ///< interleaved rounds (simulate, then replay); medians reported
    std::string keep;           ///< a folder to keep the generated building and history in ("": a temporary one)
};

/// `twinsim-bench replay`; prints one JSON object. Exit 0, or 1 when a run failed.
[[nodiscard]] int run_replay(const ReplayBenchOptions& options);

/// Registers the `replay` subcommand; run() returns its exit status when it was chosen.
class ReplayBenchCommand {
public:
    explicit ReplayBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    ReplayBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
