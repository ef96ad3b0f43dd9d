#pragma once
// Resumable jobs (docs/runner.md, "Resumable jobs"): the job's tasks are cut
// into batches (plan.hpp, batch_task_indices), each batch runs as a results
// shard (run_job with RunnerOptions::tasks) written atomically and durably
// under a checkpoint folder, and the shards are merged (io::merge_results)
// into the results file once every batch is there. A process killed at any
// moment (SIGKILL included) leaves complete batch files and at most a
// temporary `*.partial-*` file; the same call again reuses every batch file
// that is complete, of this job and of this batch, and runs only the others.
// The file written is the one an uninterrupted run_job of the job writes:
// every dataset, dimension scale and attribute equal, except the root
// attribute `created` (the earliest batch's).
//
// A batch file that is damaged (it fails io::ResultsReader's whole-file check),
// belongs to another job or batching, or does not hold exactly its batch's
// replications is never reused: it is reported through ResumeOptions::notice
// and its batch runs again.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twinsim/scenario/runner.hpp"

namespace twinsim::scenario {

struct ResumeOptions {
    /// The checkpoint folder; "" = "<out>.parts" beside the results file.
    /// Created when missing. Its batch files are named batch-<b>-of-<B>.h5 (1-based).
    std::filesystem::path parts;
    /// Tasks per batch; 0 = auto: max(16, ceil(tasks / 64)), a function of
    /// the job only (never of the thread count), so a rerun with other
    /// options finds the same batches. The results do not depend on it.
    std::size_t batch_size = 0;
    /// Keep the checkpoint folder after the merge (default: removed).
    bool keep_parts = false;
    /// Told about every batch file found but not reused, and why.
    std::function<void(const std::string&)> notice;
};

struct ResumeReport {
    std::size_t batches = 0;  ///< batches of the job
    std::size_t reused = 0;   ///< batch files found complete and reused
    std::size_t refused = 0;  ///< batch files found but refused (damaged, another job, ...) and rerun
    std::size_t batch_size = 0;
    std::filesystem::path parts;
};

/// The auto batch size for a job of `tasks` tasks: max(16, ceil(tasks / 64)).
[[nodiscard]] std::size_t auto_batch_size(std::size_t tasks) noexcept;

/// Runs the job resumably into `out` (see above). options.shard_* and
/// options.tasks must be unset; options.progress sees the whole job's counters
/// (runs of reused batches count as done at once). Throws what run_job throws
/// (Cancelled leaves the finished batches for the next call), io::ResultsError
/// when the checkpoint folder or the merged file cannot be written, and
/// twinsim::Error when `out` is empty or a shard was asked for.
JobResult run_job_resumable(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                            const std::filesystem::path& out, const RunnerOptions& options,
                            const ResumeOptions& resume = {}, ResumeReport* report = nullptr);

}  // namespace twinsim::scenario
