#pragma once
// The runner: executes every replication of every scenario of a job in
// parallel on oneTBB and streams the results to one HDF5 file through a
// single writer thread (io::AsyncResultsWriter). It is the composition of the
// three stages of a job (docs/runner.md): plan_job (plan.hpp) lists the run
// tasks, execute (execute.hpp) runs each on a worker thread into a WriterSink,
// and reduce (reduce.hpp) turns a scenario's finished runs into its tables and
// summaries as soon as its last run is done.
//
// Shards: with RunnerOptions::shard, only the tasks of one shard run and the
// file written is a results shard (docs/results-format.md, "Shards"): the
// shard's interval series and, per scenario, its finished runs unreduced, for
// io::merge_results to combine with the other shards into the file a single
// process would have written.
//
// Determinism: each run's random stream is (scenario seed, replication), with
// model sub-streams named by model and occurrence, not position (common random
// numbers: scenarios of a job differ only by what they change); runs share nothing mutable; series blocks are addressed by
// (replication, time index), event and KPI rows are written sorted by
// replication, and the summaries across replications are computed in
// replication order once a scenario's runs are all done. The file's content
// is therefore the same at any thread count.
//
// Failures: a run whose behaviour throws is reported (RunFailure: scenario,
// replication, message); its cells stay NaN, it adds an event "run_failed" to
// the scenario's event table and is left out of the summaries (the summary
// row `n` says how many runs they cover). The others are unaffected.
//
// Cancellation: the progress callback returns false (or cancel() is called
// from another thread): running runs stop at their next slice, no new run
// starts, the temporary file is removed and run_job throws Cancelled.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/io/results_format.hpp"
#include "twinsim/io/results_writer.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/reduce.hpp"

namespace twinsim::scenario {

struct JobPlan;  // plan.hpp

/// Thrown by run_job when the job was cancelled; no results file is left.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled: no results were written") {}
};

struct Progress {
    std::size_t runs_total = 0;
    std::size_t runs_done = 0;     ///< finished, failed included
    std::size_t runs_failed = 0;
    double simulated_seconds = 0.0;      ///< simulated time covered by all runs so far
    double simulated_seconds_total = 0.0;  ///< sum of every run's horizon
    std::uint64_t events = 0;            ///< kernel events dispatched so far
    double elapsed_seconds = 0.0;        ///< wall clock since the job started
    [[nodiscard]] double fraction() const noexcept {
        return simulated_seconds_total > 0 ? simulated_seconds / simulated_seconds_total : 0.0;
    }
    [[nodiscard]] double events_per_second() const noexcept {
        return elapsed_seconds > 0 ? static_cast<double>(events) / elapsed_seconds : 0.0;
    }
};

struct JobResult {
    std::filesystem::path path;  ///< the results file written ("" when none)
    std::vector<RunFailure> failures;
    std::vector<KpiSummary> kpis;  ///< in scenario order, then KPI order (none for a shard: merge first)
    Progress progress;             ///< the final counters
};

struct RunnerOptions {
    /// Worker threads; 0 = every core (std::thread::hardware_concurrency(), at
    /// most limits::max_threads). More threads than cores is honoured (oneTBB's
    /// cap is raised while the job runs), up to limits::max_threads (256):
    /// run_job throws ScenarioError (field "threads") beyond it, before any file is created.
    unsigned threads = 0;
    /// Called on the thread that called run_job, about every
    /// progress_interval seconds and once at the end. Return false to cancel.
    std::function<bool(const Progress&)> progress;
    double progress_interval = 0.2;
    /// Simulated seconds a run advances between checks for cancellation and
    /// progress updates (0: horizon / 200).
    double slice = 0.0;
    /// Where the base graph came from (a file path, or "live"), for the file's identity.
    std::string base_source;
    /// The file's base_graph_version; "" = the first scenario's graph version.
    /// A distributed job's workers, whose graphs were loaded from the base's
    /// bytes, pass the version the client's file would carry.
    std::string base_version;
    io::WriterOptions writer;
    /// Run only the tasks of shard `shard_index` (0-based) of `shard_count`
    /// (plan.hpp, shard_tasks) and write a results shard; shard_count 0: the
    /// whole job, an ordinary results file.
    std::uint32_t shard_index = 0;
    std::uint32_t shard_count = 0;
    /// With shard_count > 0: run exactly these tasks of the job's plan (their
    /// indices in JobPlan::tasks, e.g. one batch: plan.hpp, batch_tasks)
    /// instead of shard_tasks(shard_index, shard_count); the shard identity
    /// written is still (shard_index, shard_count). run_job throws
    /// twinsim::Error for an index outside the plan or given twice.
    std::vector<std::size_t> tasks;
    /// With shard_count > 0: the job's plan when the caller already has it
    /// (plan_job of these same scenarios, e.g. a resumable job running batch
    /// after batch); run_job then does not plan the job again, which digests
    /// every base graph. Null: run_job plans. Ignored for a whole job.
    std::shared_ptr<const JobPlan> plan;
};

/// Runs every replication of every scenario and writes `out` (no file when
/// `out` is empty: results are then only returned). Scenario i's runs use
/// stream ids (spec.seed, scenarios[i]->index, replication).
/// Throws ScenarioError when options.threads exceeds limits::max_threads,
/// io::ResultsError when the file cannot be created or written,
/// Cancelled when cancelled, twinsim::Error for a shard that does not exist
/// (shard_index >= shard_count) or a shard without an output file.
/// Preconditions: scenarios are prepared, with unique names.
JobResult run_job(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                  const std::filesystem::path& out, const RunnerOptions& options = {});

/// Expands sweeps and prepares every scenario of `specs` against `base`,
/// numbering them 0, 1, ... in order. Throws ScenarioError (file, line,
/// field) for the first scenario that cannot be prepared, and for two
/// scenarios with the same name.
[[nodiscard]] std::vector<std::shared_ptr<const PreparedScenario>> prepare_all(
    const std::vector<ScenarioSpec>& specs, const graph::Snapshot& base, const ModelRegistry& registry);

}  // namespace twinsim::scenario
