#pragma once
// Stage 2 of a job (plan, execute, reduce; docs/runner.md): one run task is
// executed, its interval series stream into a results sink as they are
// sampled, and what the run produced besides them (parameters, event log,
// on-change logs, KPI rows) comes back as its outcome for the reduce stage.
//
// A run's results depend only on its prepared scenario and replication, never
// on the thread, process or order it is executed in.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "twinsim/scenario/plan.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::io {
class AsyncResultsWriter;
}

namespace twinsim::scenario {

/// Where executed runs put their interval series (the samples of series whose
/// `on_change` is false). Called on the runs' threads: an implementation used
/// by a parallel job must be thread-safe. What it throws fails the job (not
/// the run) when it is an io::ResultsError, and the run otherwise.
class ResultsSink {
public:
    virtual ~ResultsSink() = default;
    /// Time steps first_time.. of series `series` (index into scenario.series)
    /// of `replication`: values[k * twins + n].
    virtual void series_block(const PreparedScenario& scenario, std::size_t series, std::uint32_t replication,
                              std::uint64_t first_time, std::vector<double> values) = 0;
};

/// The HDF5 path: forwards every block to the writer thread. The writer must
/// have the scenario and the series defined and must outlive the sink.
class WriterSink final : public ResultsSink {
public:
    explicit WriterSink(io::AsyncResultsWriter& writer) : writer_(&writer) {}
    void series_block(const PreparedScenario& scenario, std::size_t series, std::uint32_t replication,
                      std::uint64_t first_time, std::vector<double> values) override;

private:
    io::AsyncResultsWriter* writer_;
};

/// Keeps every series in memory (tests; small jobs driven from code). Thread-safe.
class MemorySink final : public ResultsSink {
public:
    void series_block(const PreparedScenario& scenario, std::size_t series, std::uint32_t replication,
                      std::uint64_t first_time, std::vector<double> values) override;
    /// The samples of one run's series: values[k * twins + n] for every time
    /// step k of the series' axis, NaN where nothing was written. Empty when the
    /// run wrote nothing to that series.
    [[nodiscard]] std::vector<double> samples(const std::string& scenario, std::size_t series,
                                              std::uint32_t replication) const;

private:
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::size_t, std::uint32_t>, std::vector<double>> series_;
};

/// How a job drives one execution.
struct ExecuteControl {
    /// Checked between slices: when it becomes true the run stops and the
    /// outcome says cancelled (may be null).
    const std::atomic<bool>* cancel = nullptr;
    /// Simulated seconds between checks (0: horizon / 200).
    double slice = 0.0;
    /// Called after every slice with the simulated seconds and kernel events of
    /// that slice (may be empty).
    std::function<void(double simulated_seconds, std::uint64_t events)> progress;
};

/// What one executed task produced.
struct TaskOutcome {
    std::uint32_t replication = 0;
    std::optional<RunRecord> record;     ///< set when the run reached its horizon and finished
    std::optional<std::string> failure;  ///< set when a behaviour (or an override) threw: its message
    bool cancelled = false;              ///< stopped by ExecuteControl::cancel: neither record nor failure
    double simulated_seconds = 0.0;      ///< simulated time the run covered
    std::uint64_t events = 0;            ///< kernel events it dispatched
};

/// Executes `task` (replication task.replication of `scenario`). A run that
/// throws is a failed outcome, not an exception, except for io::ResultsError
/// (from the sink: the results cannot be stored), which propagates.
/// Throws twinsim::Error when the task is not one of `scenario`'s (name or
/// replication out of range).
[[nodiscard]] TaskOutcome execute(const std::shared_ptr<const PreparedScenario>& scenario, const RunTask& task,
                                  ResultsSink& sink, const ExecuteControl& control = {});

}  // namespace twinsim::scenario
