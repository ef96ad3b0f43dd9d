#pragma once
// The live layer's benchmarks (`ingest`, `recovery`, `crash`), registered on
// twinsim-bench's command line by one object so bench/main.cpp only gains
// two lines.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace twinsim::bench {

struct IngestBenchOptions {
    std::size_t twins = 10000;       ///< twins the updates spread over
    std::size_t batch = 1000;        ///< updates per call (in memory and group commit)
    std::size_t batches = 200;       ///< in-memory batches per path and round
    unsigned writers = 4;            ///< group commit: writer threads
    std::size_t durable_batches = 50;///< group commit: batches per writer and round
    std::size_t latency_samples = 200;  ///< single acknowledged writes per round (per_batch) and SQLite rows
    int rounds = 5;                  ///< interleaved rounds; medians are reported
    std::uint64_t seed = 20261207;
    std::string directory;           ///< where the stores go (a temporary folder when empty)
};
/// `twinsim-bench ingest`: property updates/s into the in-memory graph
/// (write_properties, update_twins, the Ingestor's long rows), into a store
/// with group commit beside a bare SQLite table, and acknowledged latency of
/// single writes with fsync beside SQLite's single-row insert.
[[nodiscard]] int run_ingest(const IngestBenchOptions& options);

struct RecoveryBenchOptions {
    std::size_t twins = 1000000;
    std::uint64_t changes = 10000000;  ///< journaled property changes after the twins exist
    std::size_t batch = 1000;          ///< changes per journaled batch
    std::uint64_t checkpoint_every = 0;///< StoreOptions::checkpoint_every while writing (0: the store's default)
    int reopens = 3;                   ///< timed reopenings (median reported)
    std::uint64_t seed = 20261207;
    std::string directory;
    bool keep = false;                 ///< leave the store in place (reuse it with the same --dir)
};
/// `twinsim-bench recovery`: builds a store of N twins and M journaled
/// changes, then times reopening it (target < 10 s for 1 M twins, 10 M changes).
[[nodiscard]] int run_recovery(const RecoveryBenchOptions& options);

struct CrashBenchOptions {
    int kills = 200;
    int min_delay_ms = 30;
    int max_delay_ms = 450;
    std::string directory;
};
/// `twinsim-bench crash`: the [store_crash] test's kill loop, N kills
/// (tests/tools/crash_harness.hpp has the shared logic).
[[nodiscard]] int run_crash(const CrashBenchOptions& options);

/// Registers `ingest`, `recovery`, `crash` (and the hidden `crash-child`) on `app`.
class LiveBenchCommands {
public:
    explicit LiveBenchCommands(CLI::App& app);
    /// After parsing: the exit status of the live command that was chosen, nullopt when none was.
    [[nodiscard]] std::optional<int> run();

private:
    IngestBenchOptions ingest_;
    RecoveryBenchOptions recovery_;
    CrashBenchOptions crash_;
    bool ingest_smoke_ = false;
    bool recovery_smoke_ = false;
    bool crash_smoke_ = false;
    std::string child_dir_;
    std::string child_mode_ = "per_batch";
    CLI::App* ingest_command_ = nullptr;
    CLI::App* recovery_command_ = nullptr;
    CLI::App* crash_command_ = nullptr;
    CLI::App* child_command_ = nullptr;
};

}  // namespace twinsim::bench
