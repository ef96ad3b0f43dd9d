#pragma once
// The records a results file holds (docs/results-format.md describes the
// layout on disk). Shared by ResultsWriter, AsyncResultsWriter and ResultsReader.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace twinsim::io {

/// Version of the on-disk layout written by this library (file attribute format_version).
inline constexpr const char* results_format_version = "1.0";
/// Value of the file attribute `format`.
inline constexpr const char* results_format_name = "twinsim-results";

/// Reading limits (docs/results-format.md, "Reading damaged files"): one
/// dataset is read into memory only when its declared size is at most
/// max_results_read_base + max_results_expansion x the file's size in bytes
/// (deflate expands data at most 1,032-fold), so a damaged header cannot make
/// a reader allocate without bound.
inline constexpr std::uint64_t max_results_read_base = std::uint64_t{64} << 20;  // 64 MiB
inline constexpr std::uint64_t max_results_expansion = 1100;
/// CPU-seconds ResultsReader's constructor gives the child process that reads
/// the whole file before the caller's process trusts it (docs/results-format.md):
/// max_results_check_seconds plus one second per max_results_check_bytes_per_second
/// bytes of file.
inline constexpr unsigned max_results_check_seconds = 20;  // a Debug AddressSanitizer build needed more than 5 for a small shard
inline constexpr std::uint64_t max_results_check_bytes_per_second = std::uint64_t{16} << 20;  // 16 MiB

/// What the file's root attributes say about where the results came from.
struct FileIdentity {
    std::string base_graph_source;   ///< e.g. the NDJSON path the base graph was loaded from, or "live"
    std::string base_graph_version;  ///< a content hash or version of the base graph, chosen by the caller
    std::string description;         ///< free text
};

/// What makes a file a results shard (twinsim run --shard): the results of
/// the tasks index, index + count, index + 2 count, ... of one job, to be merged
/// with the other shards (io::merge_results). Root attributes shard_job,
/// shard_index and shard_count.
struct ShardIdentity {
    std::string job;          ///< the job id (scenario::plan_job): shards of one job have the same
    std::uint32_t index = 0;  ///< 0-based, < count
    std::uint32_t count = 0;  ///< shards of the job, >= 1
    friend bool operator==(const ShardIdentity&, const ShardIdentity&) = default;
};

/// The root attributes as read back.
struct FileAttributes {
    std::string format;
    std::string format_version;
    std::string twinsim_version;
    std::string created;  ///< ISO-8601 UTC instant the file was created
    FileIdentity identity;
};

/// One scenario: a group at the root of the file. Everything needed to reproduce it.
struct ScenarioDefinition {
    std::string name;             ///< group name: non-empty, no '/', not "." or ".."
    std::string description;
    std::string spec_json;        ///< the scenario spec as JSON text (must parse as JSON)
    std::string parameters_json;  ///< resolved parameters as JSON text ("{}" when none)
    std::uint64_t seed = 0;
    std::uint32_t replications = 1;  ///< > 0; the size of every series' replication axis
    std::string start;            ///< start instant, RFC 3339 (e.g. "2024-07-01T00:00:00Z")
};

/// One recorded quantity of one scenario: a (replication x time x twin) dataset.
struct SeriesDefinition {
    std::string name;      ///< e.g. "Room.temperature": non-empty, no '/', not "." or ".."
    std::string unit;      ///< units attribute (UDUNITS/CF spelling, e.g. "degC", "W", "1")
    std::vector<std::string> twin_ids;  ///< the twin axis, in order; non-empty, unique
    /// Seconds since the scenario's start. Non-empty: a fixed time axis of this
    /// length. Empty: an extendable axis that grows with the blocks written.
    std::vector<double> times;
    std::string model;        ///< DTMI of the model the property belongs to (optional)
    std::string property;     ///< property name within the model (optional)
    std::string description;  ///< long_name attribute (optional)
};

/// A series' stored chunks as they lie in the file, after its filters (shuffle,
/// deflate): what ResultsReader::read_series_chunks returns and
/// ResultsWriter::write_series_chunks stores without decoding them again, so
/// that io::merge_results copies a shard's series instead of recompressing it.
struct StoredSeriesChunks {
    std::array<std::uint64_t, 3> dims{};   ///< the dataset's (replication, time, twin) extent
    std::array<std::uint64_t, 3> chunk{};  ///< its chunk shape; all 0 when not chunked
    /// The filter pipeline in order: filter id, flags and its parameters (cd_values).
    struct Filter {
        int id = 0;
        unsigned flags = 0;
        std::vector<unsigned> parameters;
        friend bool operator==(const Filter&, const Filter&) = default;
    };
    std::vector<Filter> filters;
    struct Chunk {
        std::array<std::uint64_t, 3> offset{};  ///< the chunk's first cell
        std::uint32_t filter_mask = 0;          ///< filters skipped for this chunk (HDF5's mask)
        std::vector<unsigned char> bytes;       ///< as stored
    };
    std::vector<Chunk> chunks;  ///< the chunks written, in (replication, time, twin) order; unwritten ones absent
};

/// One row of a scenario's event table.
struct EventRecord {
    std::uint32_t replication = 0;
    double time = 0.0;        ///< seconds since the scenario's start
    std::string twin;         ///< twin id, or "" for a scenario-wide event
    std::string type;         ///< e.g. "failure", "repair", "rule", "alarm"
    std::string detail_json;  ///< JSON text ("" or "{}" when nothing more)
    friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

/// Marks a KPI row that summarises all replications rather than one.
inline constexpr std::int32_t all_replications = -1;

/// One row of a scenario's KPI table.
struct KpiRow {
    std::string name;        ///< e.g. "hot_hours"
    std::string selection;   ///< the twin id or the query/selection the KPI is over
    std::string statistic;   ///< per-run statistic: mean, min, max, final, integral, time_above, count...
    std::int32_t replication = 0;  ///< >= 0 for one run, all_replications for a summary row
    std::string aggregate;   ///< "" for a run's value; "mean", "std", "ci95_low", "ci95_high", "p50", "p90", "p95", "n" for summary rows
    double value = 0.0;
    std::string unit;
    friend bool operator==(const KpiRow&, const KpiRow&) = default;
};

/// A series read back: values in row-major (replication, time, twin) order.
struct SeriesData {
    std::string name;
    std::string unit;
    std::string model;
    std::string property;
    std::string description;
    std::vector<std::string> twin_ids;
    std::vector<double> times;   ///< seconds since the scenario's start
    std::uint32_t replications = 0;
    std::vector<double> values;  ///< replications * times.size() * twin_ids.size(); NaN where never written
    /// {replications, times, twins}
    [[nodiscard]] std::array<std::size_t, 3> shape() const {
        return {replications, times.size(), twin_ids.size()};
    }
    /// The value at (replication r, time index t, twin index n). Precondition: in range.
    [[nodiscard]] double at(std::size_t r, std::size_t t, std::size_t n) const {
        return values[(r * times.size() + t) * twin_ids.size() + n];
    }
};

}  // namespace twinsim::io
