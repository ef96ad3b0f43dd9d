#pragma once
// `twinsim-bench time-travel` (time_travel_benchmark.cpp).

#include <cstddef>
#include <cstdint>
#include <string>

namespace twinsim::bench {

struct TimeTravelBenchOptions {
    std::size_t twins = 100000;          ///< sensor twins, one numeric property each
    std::uint64_t changes = 10000000;    ///< journaled property updates (history rows)
    std::size_t batch = 1000;            ///< updates per write_properties batch
    std::uint64_t checkpoint_every = 50; ///< batches between checkpoints taken while building
    std::size_t keep_checkpoints = 256;  ///< StoreOptions::keep_checkpoints
    int rounds = 7;                      ///< interleaved rounds (one random instant each)
    std::uint64_t seed = 20260714;
    std::string directory;               ///< where the store and the peer go (a temporary folder when empty)
    bool reuse = false;                  ///< with `directory`: time the store a previous run built there (same sizes)
};

/// Builds a store of `twins` twins and `changes` journaled updates beside the
/// same rows in an indexed SQLite table, then times Store::snapshot_at and the
/// peer's reconstruction of the state at the same random instants, in
/// interleaved rounds; checks that both give the same values; prints JSON.
[[nodiscard]] int run_time_travel(const TimeTravelBenchOptions& options);

}  // namespace twinsim::bench
