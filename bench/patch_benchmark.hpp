#pragma once
// `twinsim-bench patch` (patch_benchmark.cpp): what a twin JSON-Patch update
// costs below the REST layer. N threads each parse a one-property PATCH,
// apply it with TwinGraph::update_twin on a durable store with group commit
// and read the new etag (what `twinsim serve` does per PATCH, without HTTP),
// beside the same calls on an in-memory graph without a store (the peer: the
// graph's own cost, so the difference is what durability adds). Interleaved
// rounds; medians of PATCH/s, p50/p99 latency and CPU per PATCH.

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace twinsim::bench {

struct PatchBenchOptions {
    unsigned threads = 16;     ///< caller threads
    std::size_t twins = 1000;  ///< twins the PATCHes spread over
    double seconds = 3.0;      ///< per round and side
    int rounds = 3;            ///< interleaved rounds (store, then in-memory); medians reported
    bool history = true;       ///< the store's history recorder (on by default, as `twinsim serve` runs it)
    bool peer = true;          ///< also run the in-memory rounds (off: the store alone, e.g. under a profiler)
};

/// Prints one JSON object; exit 0.
[[nodiscard]] int run_patch(const PatchBenchOptions& options);

class PatchBenchCommand {
public:
    explicit PatchBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    PatchBenchOptions options_;
    bool smoke_ = false;
    bool no_history_ = false;
    bool no_peer_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
