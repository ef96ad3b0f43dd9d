#pragma once
// `twinsim-bench serve` (serve_benchmark.cpp): the REST service on loopback
// under keep-alive clients doing twin PATCH (durable, group commit) and GET,
// beside the same PATCHes and GETs made directly on the library from as many
// threads (the service's peer: what the HTTP layer costs), in interleaved
// rounds.

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace twinsim::bench {

struct ServeBenchOptions {
    unsigned clients = 16;        ///< keep-alive connections (one thread each)
    std::size_t twins = 1000;     ///< twins the requests spread over
    double seconds = 5.0;         ///< per round and side
    int rounds = 3;               ///< interleaved rounds (service, then direct); medians reported
    unsigned server_threads = 32; ///< the server's worker threads
    int fsync_probes = 200;       ///< fdatasync probes per round (the disk's sync latency)
    double soak = 0;              ///< > 0: a soak of this many seconds instead of the rounds
    double sample_seconds = 5.0;  ///< soak: seconds between RSS samples
};

/// Prints one JSON object. Exit 0, or 1 when a request failed.
[[nodiscard]] int run_serve(const ServeBenchOptions& options);

/// The soak (`--soak SECONDS`): the clients PATCH, GET and query the service
/// for the whole duration while the process's RSS is sampled; prints one JSON
/// object with the counts, the RSS series and the flatness verdict. Exit 0, or
/// 1 when a request failed or (for a soak of a minute or more) the RSS was
/// not flat.
[[nodiscard]] int run_serve_soak(const ServeBenchOptions& options);

class ServeBenchCommand {
public:
    explicit ServeBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    ServeBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
