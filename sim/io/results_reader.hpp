#pragma once
// ResultsReader: reads a results file written by ResultsWriter (see
// docs/results-format.md). Opens the file read-only; safe to use while other
// readers have it open.
//
// Every method throws ResultsError. For a file that is not what
// docs/results-format.md describes (not HDF5, damaged, truncated, a dataset
// or attribute of the wrong type, rank, shape or count, a size past the
// reading limits of results_format.hpp) its message is
// "not a valid twinsim results file: <path>: <why>"; the structure is checked
// before any offset or size from the file is trusted, so a damaged file never
// makes the process allocate without bound. HDF5 1.10 itself can crash or
// loop on damaged metadata that no check outside it can see, so the
// constructor first reads the whole file in a forked child process, under a
// time limit (max_results_check_seconds): a crash or a hang there is refused
// as "not a valid twinsim results file" and never reaches the caller's process. An unknown
// scenario or series name is the caller's error: "<path>: no scenario named 'x'".

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_format.hpp"
#include "twinsim/io/run_results.hpp"

namespace twinsim::io {

class ResultsReader {
public:
    /// Throws ResultsError "<path>: no such file" when `path` is not a regular
    /// file, and "not a valid twinsim results file: <path>: why" when it is not
    /// HDF5 or lacks format = "twinsim-results".
    explicit ResultsReader(std::filesystem::path path);
    ~ResultsReader();
    ResultsReader(ResultsReader&&) noexcept;
    ResultsReader& operator=(ResultsReader&&) noexcept;
    /// Opens a results file that this library wrote and that reached this
    /// process intact (a results shard a worker of the same job returned over
    /// a checked channel): without the forked whole-file read of the public
    /// constructor, the structure checked in this process (validate()). Never
    /// for a file from outside: damaged HDF5 metadata can crash the library in
    /// this process. Throws what the constructor and validate() throw.
    [[nodiscard]] static ResultsReader open_own_file(std::filesystem::path path);
    ResultsReader(const ResultsReader&) = delete;
    ResultsReader& operator=(const ResultsReader&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept;
    [[nodiscard]] FileAttributes attributes() const;
    /// Scenario names in the order they were defined.
    [[nodiscard]] std::vector<std::string> scenarios() const;
    /// The scenario's attributes (spec_json and parameters_json as written).
    [[nodiscard]] ScenarioDefinition scenario(std::string_view name) const;
    /// Series names of a scenario in the order they were defined.
    [[nodiscard]] std::vector<std::string> series_names(std::string_view scenario) const;
    /// Checks the whole file against docs/results-format.md: every attribute,
    /// every series' axes, type and shape (not its values) and the event and
    /// KPI tables. Throws the "not a valid twinsim results file" ResultsError
    /// for the first problem. Twinsim's Python package calls it on opening.
    void validate() const;
    /// A whole series into memory.
    [[nodiscard]] SeriesData read_series(std::string_view scenario, std::string_view series) const;
    /// A series' axes and attributes, without its values (`values` empty).
    [[nodiscard]] SeriesData series_info(std::string_view scenario, std::string_view series) const;
    /// The values of replications [first, first + count) of a series, in the
    /// order (replication, time, twin); NaN where never written. Throws
    /// ResultsError "<path>: ... are past its N replications" when the range is.
    [[nodiscard]] std::vector<double> read_series_replications(std::string_view scenario, std::string_view series,
                                                               std::uint32_t first, std::uint32_t count) const;
    /// The stored chunks of replications [first, first + count) of a series, as
    /// they lie in the file (not decoded), with the dataset's chunk shape and
    /// filters; `chunks` stays empty when the dataset is not chunked one
    /// replication per chunk. Throws ResultsError like read_series_replications,
    /// and when the chunks would exceed the reading limit of the file's size.
    [[nodiscard]] StoredSeriesChunks read_series_chunks(std::string_view scenario, std::string_view series,
                                                        std::uint32_t first, std::uint32_t count) const;
    [[nodiscard]] std::vector<EventRecord> read_events(std::string_view scenario) const;
    [[nodiscard]] std::vector<KpiRow> read_kpis(std::string_view scenario) const;
    /// The shard identity of a results shard; nullopt for an ordinary results file.
    [[nodiscard]] std::optional<ShardIdentity> shard() const;
    /// A shard's unreduced runs of a scenario (ResultsWriter::write_shard_runs).
    /// Throws ResultsError when the scenario has none or they cannot be decoded.
    [[nodiscard]] ShardRuns read_shard_runs(std::string_view scenario) const;

private:
    /// check_first: read the whole file first in a child process (the public constructor).
    ResultsReader(std::filesystem::path path, bool check_first);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::io
