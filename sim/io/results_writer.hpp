#pragma once
// ResultsWriter: writes one results file (docs/results-format.md) from one
// thread. The file is built under a temporary name beside the final one and
// renamed into place by close(); if close() is never reached (an exception, a
// destructor, a failed write) the temporary file is removed, so a file with
// the final name is always complete. Use AsyncResultsWriter to feed it from
// many threads.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_format.hpp"
#include "twinsim/io/run_results.hpp"

namespace twinsim::io {

struct WriterOptions {
    bool overwrite = true;  ///< replace an existing file at the final path on close(); false: refuse up front
    bool sync = true;       ///< fsync the file (and its directory) before/after the rename
    /// Compression of series values and table columns: 1..9 adds HDF5's
    /// shuffle filter and gzip (deflate) at that level, which h5py, xarray
    /// and every HDF5 build read without plugins; 0 stores them uncompressed.
    /// Throws ResultsError (at construction) outside 0..9.
    int deflate = 1;
    /// The root attribute `created` (RFC 3339); "": the instant the file is
    /// created. Set by io::merge_results to the shards' earliest.
    std::string created = {};
};

class ResultsWriter {
public:
    /// Creates "<path>.partial-<pid>-<n>" in path's directory and writes the root
    /// attributes. First removes the "<path>.partial-<pid>-<n>" files left by
    /// processes that no longer exist (on this machine: the pid is checked
    /// with kill(pid, 0)), so a killed run's leftovers go on the next run to
    /// the same path. Throws ResultsError when the directory is missing or
    /// unwritable, or when !options.overwrite and `path` exists.
    ResultsWriter(std::filesystem::path path, const FileIdentity& identity, WriterOptions options = {});
    /// Without a successful close(): closes and removes the temporary file.
    ~ResultsWriter();
    ResultsWriter(ResultsWriter&&) noexcept;
    ResultsWriter& operator=(ResultsWriter&&) noexcept;
    ResultsWriter(const ResultsWriter&) = delete;
    ResultsWriter& operator=(const ResultsWriter&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept;
    [[nodiscard]] const std::filesystem::path& temporary_path() const noexcept;
    /// True until close() succeeded or the writer failed/was discarded.
    [[nodiscard]] bool is_open() const noexcept;

    /// Adds a scenario group with its attributes and empty event and KPI tables.
    /// Throws ResultsError for a bad or duplicate name, replications == 0, a start
    /// that is not RFC 3339, or spec/parameters that are not JSON.
    void define_scenario(const ScenarioDefinition& scenario);

    /// Adds the series group <scenario>/series/<name> (data NaN until written).
    /// Throws ResultsError for an unknown scenario, a bad or duplicate name, no
    /// twins or duplicate twin ids.
    void define_series(std::string_view scenario, const SeriesDefinition& series);

    /// Writes values[k * twins + n] at (replication, first_time + k, twin n) for
    /// k < values.size() / twins. On an extendable time axis `times` gives the k
    /// instants (seconds) and the dataset grows as needed; on a fixed axis
    /// `times` must be empty and the block must fit. Blocks may arrive in any
    /// order; a cell written twice keeps the last value.
    void write_series_block(std::string_view scenario, std::string_view series, std::uint32_t replication,
                            std::uint64_t first_time, std::span<const double> values,
                            std::span<const double> times = {});

    /// Stores chunks read by ResultsReader::read_series_chunks as they are,
    /// when this series has the same fixed extent, chunk shape and filters:
    /// the values then equal what write_series_block of the decoded values
    /// stores. Returns false, writing nothing, when the layout differs (write
    /// the values instead). Throws ResultsError for a chunk outside the
    /// dataset or not on a chunk boundary, and when the write fails.
    [[nodiscard]] bool write_series_chunks(std::string_view scenario, std::string_view series,
                                           const StoredSeriesChunks& stored);
    /// Appends rows to the scenario's event table (in the order given).
    void append_events(std::string_view scenario, std::span<const EventRecord> events);
    /// Appends rows to the scenario's KPI table (in the order given).
    void write_kpis(std::string_view scenario, std::span<const KpiRow> kpis);

    /// Makes the file a results shard: writes the root attributes shard_job,
    /// shard_index and shard_count. Throws ResultsError when count == 0, index
    /// >= count or the job id is empty, or when the file is already a shard.
    void mark_shard(const ShardIdentity& shard);
    /// Stores, in a shard, a scenario's finished runs unreduced (the dataset
    /// <scenario>/shard_runs, JSON text) for io::merge_results. Throws
    /// ResultsError for an unknown scenario, a second call for it, or a file
    /// that is not marked as a shard.
    void write_shard_runs(std::string_view scenario, const ShardRuns& runs);

    /// Flushes, closes and renames the temporary file to path(). Throws
    /// ResultsError (and removes the temporary file) on any failure.
    void close();
    /// Abandons the file: closes it and removes the temporary file. Never throws.
    void discard() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::io
