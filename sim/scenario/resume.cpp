#include "twinsim/scenario/resume.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "twinsim/io/errors.hpp"
#include "twinsim/io/merge.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/plan.hpp"

namespace twinsim::scenario {

namespace {

namespace fs = std::filesystem;

std::string batch_file_name(std::size_t batch, std::size_t count) {
    return "batch-" + std::to_string(batch + 1) + "-of-" + std::to_string(count) + ".h5";
}

/// Why the batch file at `path` cannot be reused as batch `batch` of `count`
/// of `plan` (cut in `size`), or nullopt when it can.
std::optional<std::string> refuse_reason(const fs::path& path, const JobPlan& plan, std::size_t batch, std::size_t count,
                                         std::size_t size,
                                         const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios) {
    try {
        const io::ResultsReader reader(path);  // the whole-file check, in a child process
        const std::optional<io::ShardIdentity> identity = reader.shard();
        if (!identity) return "it is not a results shard";
        if (identity->job != plan.job) return "it belongs to job " + identity->job + ", not to this job " + plan.job;
        if (identity->index != batch || identity->count != count)
            return "it is shard " + std::to_string(identity->index + 1) + "/" + std::to_string(identity->count) +
                   ", not batch " + std::to_string(batch + 1) + "/" + std::to_string(count);
        std::map<std::uint32_t, std::set<std::uint32_t>> expected;  // scenario index -> replications
        for (const std::size_t i : batch_task_indices(plan, batch, size))
            expected[plan.tasks[i].scenario_index].insert(plan.tasks[i].replication);
        std::vector<std::string> names;
        for (const auto& s : scenarios) names.push_back(s->spec.name);
        if (reader.scenarios() != names) return "it holds other scenarios than the job";
        for (std::size_t k = 0; k < scenarios.size(); ++k) {
            std::set<std::uint32_t> held;
            for (const io::RunResults& run : reader.read_shard_runs(names[k]).runs) held.insert(run.replication);
            if (held != expected[static_cast<std::uint32_t>(k)])
                return "its runs of scenario '" + names[k] + "' are not the batch's replications";
        }
    } catch (const Error& e) {  // io::ResultsError: damaged, unreadable
        return e.what();
    }
    return std::nullopt;
}

}  // namespace

std::size_t auto_batch_size(std::size_t tasks) noexcept { return std::max<std::size_t>(16, (tasks + 63) / 64); }

JobResult run_job_resumable(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios, const fs::path& out,
                            const RunnerOptions& options, const ResumeOptions& resume, ResumeReport* report) {
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    if (out.empty()) throw Error("run_job_resumable: a resumable job needs an output file");
    if (options.shard_count != 0 || !options.tasks.empty())
        throw Error("run_job_resumable: a resumable job runs the whole job (no shard, no task list)");

    const auto planned = std::make_shared<const JobPlan>(plan_job(scenarios));  // digested once, not per batch
    const JobPlan& plan = *planned;
    const std::size_t size = resume.batch_size != 0 ? resume.batch_size : auto_batch_size(plan.tasks.size());
    const std::size_t count = plan.tasks.empty() ? 0 : batch_count(plan, size);
    const fs::path parts = resume.parts.empty() ? fs::path(out.string() + ".parts") : resume.parts;
    std::error_code error;
    fs::create_directories(parts, error);
    if (error || !fs::is_directory(parts))
        throw io::ResultsError(parts.string() + ": cannot create the checkpoint folder: " +
                                   (error ? error.message() : std::string("not a folder")),
                               parts.string());

    ResumeReport local;
    ResumeReport& r = report != nullptr ? *report : local;
    r = {};
    r.batches = count;
    r.batch_size = size;
    r.parts = parts;

    // What is done already.
    std::vector<fs::path> files(count);
    std::vector<bool> done(count, false);
    for (std::size_t b = 0; b < count; ++b) {
        files[b] = parts / batch_file_name(b, count);
        if (!fs::exists(files[b], error)) continue;
        if (const auto why = refuse_reason(files[b], plan, b, count, size, scenarios)) {
            ++r.refused;
            if (resume.notice)
                resume.notice(files[b].string() + ": not reused (" + *why + "); batch " + std::to_string(b + 1) +
                              " runs again");
            continue;
        }
        done[b] = true;
        ++r.reused;
    }

    // The whole job's progress, across the batches.
    Progress total;
    total.runs_total = plan.tasks.size();
    std::vector<double> horizon(scenarios.size());
    for (std::size_t i = 0; i < scenarios.size(); ++i) horizon[i] = scenarios[i]->spec.horizon;
    for (const RunTask& task : plan.tasks) total.simulated_seconds_total += horizon[task.scenario_index];
    for (std::size_t b = 0; b < count; ++b) {
        if (!done[b]) continue;
        for (const std::size_t i : batch_task_indices(plan, b, size)) {
            ++total.runs_done;
            total.simulated_seconds += horizon[plan.tasks[i].scenario_index];
        }
    }

    JobResult result;
    bool stop = false;  // the progress callback asked to cancel
    for (std::size_t b = 0; b < count; ++b) {
        if (done[b]) continue;
        RunnerOptions batch = options;
        batch.shard_index = static_cast<std::uint32_t>(b);
        batch.shard_count = static_cast<std::uint32_t>(count);
        batch.tasks = batch_task_indices(plan, b, size);
        batch.plan = planned;
        const Progress before = total;
        if (options.progress) {
            batch.progress = [&](const Progress& p) {
                Progress whole = before;
                whole.runs_done += p.runs_done;
                whole.runs_failed += p.runs_failed;
                whole.simulated_seconds += p.simulated_seconds;
                whole.events += p.events;
                whole.elapsed_seconds = std::chrono::duration<double>(clock::now() - started).count();
                if (options.progress(whole)) return true;
                stop = true;
                return false;
            };
        }
        const JobResult part = run_job(scenarios, files[b], batch);
        total.runs_done += part.progress.runs_done;
        total.runs_failed += part.progress.runs_failed;
        total.simulated_seconds += part.progress.simulated_seconds;
        total.events += part.progress.events;
        // A cancel that came with a batch's last progress report (the batch
        // itself finished and stays): no further batch, no merge.
        if (stop) throw Cancelled();
    }

    // Merge every batch into the results file.
    io::WriterOptions writer = options.writer;
    const io::MergeReport merged = io::merge_results(files, out, writer);
    for (const io::MergeReport::Scenario& s : merged.scenarios) {
        for (const auto& [replication, message] : s.failures) result.failures.push_back({s.name, replication, message});
        for (const io::KpiSummaryRow& row : s.summaries) result.kpis.push_back(kpi_summary(s.name, row));
    }
    total.runs_failed = result.failures.size();
    total.elapsed_seconds = std::chrono::duration<double>(clock::now() - started).count();
    if (options.progress) (void)options.progress(total);
    result.path = out;
    result.progress = total;
    if (!resume.keep_parts) {
        for (const fs::path& file : files) fs::remove(file, error);
        fs::remove(parts, error);  // only when empty: never the user's other files
    }
    return result;
}

}  // namespace twinsim::scenario
