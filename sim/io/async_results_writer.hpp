#pragma once
// AsyncResultsWriter: one writer thread owning a ResultsWriter, fed by a
// bounded queue, so many run threads can record results while HDF5 (which is
// not thread-safe) is only ever driven from one place.
//
// Determinism: series blocks are addressed by (replication, time index), so
// their order of arrival does not change the data. Events and KPI rows are
// held back until close() and then written sorted by replication (stable, so
// rows of one replication keep the order its producer gave them; summary rows
// with replication all_replications come last): the file's content does not
// depend on which producer got to the queue first.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "twinsim/io/results_writer.hpp"

namespace twinsim::io {

class AsyncResultsWriter {
public:
    /// Creates the file (as ResultsWriter does, throwing the same errors) and
    /// starts the writer thread. `queue_capacity` (>= 1) bounds the number of
    /// pending blocks: producers wait when it is full.
    AsyncResultsWriter(std::filesystem::path path, const FileIdentity& identity, WriterOptions options = {},
                       std::size_t queue_capacity = 64);
    /// Without a successful close(): stops the thread and removes the temporary file.
    ~AsyncResultsWriter();
    AsyncResultsWriter(const AsyncResultsWriter&) = delete;
    AsyncResultsWriter& operator=(const AsyncResultsWriter&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept;

    /// Synchronous: returns when the scenario exists in the file; throws its error.
    void define_scenario(const ScenarioDefinition& scenario);
    /// Synchronous: returns when the series exists in the file; throws its error.
    void define_series(const std::string& scenario, const SeriesDefinition& series);

    /// Thread-safe; queues the block (waits while the queue is full). Throws
    /// ResultsError if the writer thread has already failed (the first error).
    void write_series_block(const std::string& scenario, const std::string& series, std::uint32_t replication,
                            std::uint64_t first_time, std::vector<double> values, std::vector<double> times = {});
    /// Thread-safe; rows are written at close(), sorted by replication.
    void append_events(const std::string& scenario, std::vector<EventRecord> events);
    /// Thread-safe; rows are written at close(), sorted by replication.
    void write_kpis(const std::string& scenario, std::vector<KpiRow> kpis);

    /// Synchronous: ResultsWriter::mark_shard on the writer thread; throws its error.
    void mark_shard(const ShardIdentity& shard);
    /// Synchronous: ResultsWriter::write_shard_runs on the writer thread; throws its error.
    void write_shard_runs(const std::string& scenario, const ShardRuns& runs);

    /// Drains the queue, writes events and KPIs, closes and renames the file.
    /// Throws the writer thread's first error (the temporary file is then gone).
    void close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::io
