#pragma once
// ResultsReader: reads a results file written by ResultsWriter (see
// docs/results-format.md). Opens the file read-only; safe to use while other
// readers have it open. Methods throw ResultsError for a missing scenario or
// series and for a file that is not a twinsim results file.

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
    /// Throws ResultsError when the file cannot be opened or lacks format = "twinsim-results".
    explicit ResultsReader(std::filesystem::path path);
    ~ResultsReader();
    ResultsReader(ResultsReader&&) noexcept;
    ResultsReader& operator=(ResultsReader&&) noexcept;
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
    /// A whole series into memory.
    [[nodiscard]] SeriesData read_series(std::string_view scenario, std::string_view series) const;
    [[nodiscard]] std::vector<EventRecord> read_events(std::string_view scenario) const;
    [[nodiscard]] std::vector<KpiRow> read_kpis(std::string_view scenario) const;
    /// The shard identity of a results shard; nullopt for an ordinary results file.
    [[nodiscard]] std::optional<ShardIdentity> shard() const;
    /// A shard's unreduced runs of a scenario (ResultsWriter::write_shard_runs).
    /// Throws ResultsError when the scenario has none or they cannot be decoded.
    [[nodiscard]] ShardRuns read_shard_runs(std::string_view scenario) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::io
