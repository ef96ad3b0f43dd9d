#include "twinsim/scenario/runner.hpp"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "twinsim/io/async_results_writer.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/scenario/execute.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/scenario/plan.hpp"
#include "twinsim/scenario/reduce.hpp"
#include "twinsim/scenario/sweep.hpp"

namespace twinsim::scenario {

namespace {

struct JobState {
    std::mutex mutex;
    std::condition_variable wake;
    Progress progress;
    std::atomic<bool> cancel{false};
    std::exception_ptr fatal;  ///< the results file failed: the job cannot complete
    bool finished = false;
};

/// A scenario's finished runs, by replication, until it is reduced (or stored in a shard).
struct ScenarioRuns {
    std::vector<std::optional<io::RunResults>> runs;
    std::size_t remaining = 0;  ///< tasks of this scenario not finished yet
    [[nodiscard]] std::vector<io::RunResults> take() {
        std::vector<io::RunResults> out;
        for (auto& r : runs)
            if (r) out.push_back(std::move(*r));
        runs.clear();
        return out;
    }
};

/// Without a results file: interval series go nowhere (the KPIs are returned).
class DiscardSink final : public ResultsSink {
public:
    void series_block(const PreparedScenario&, std::size_t, std::uint32_t, std::uint64_t, std::vector<double>) override {}
};

}  // namespace

std::vector<std::shared_ptr<const PreparedScenario>> prepare_all(const std::vector<ScenarioSpec>& specs,
                                                                  const graph::Snapshot& base, const ModelRegistry& registry) {
    std::vector<std::shared_ptr<const PreparedScenario>> out;
    std::set<std::string> names;
    for (const ScenarioSpec& spec : specs) {
        for (ScenarioSpec& concrete : expand(spec)) {
            if (!names.insert(concrete.name).second)
                throw spec_error(spec, "/name", "name", "two scenarios of the job are named \"" + concrete.name + "\"");
            const auto index = static_cast<std::uint32_t>(out.size());
            out.push_back(prepare(concrete, base, registry, index));
        }
    }
    return out;
}

JobResult run_job(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios, const std::filesystem::path& out,
                  const RunnerOptions& options) {
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    const bool sharded = options.shard_count > 0;
    if (sharded && out.empty()) throw Error("run_job: a results shard needs an output file");
    if (options.threads > limits::max_threads)
        throw ScenarioError("", 0, "threads",
                            std::to_string(options.threads) + " worker threads is more than " +
                                std::to_string(limits::max_threads) + " (the limit on threads; 0 means every core)");
    JobResult result;
    JobState state;

    // 1. Plan: the job's tasks (this shard's only, for a shard). Only a shard needs the
    // job's id, which digests every base graph (a JSON dump of every twin and
    // relationship: a large share of a short job on a large graph); a whole job
    // executes the same tasks without it, and a caller that has the plan passes it.
    std::shared_ptr<const JobPlan> planned = options.plan;
    std::vector<RunTask> tasks;
    if (!sharded) {
        tasks = list_tasks(scenarios);
    } else {
        if (!planned) planned = std::make_shared<const JobPlan>(plan_job(scenarios));
        const JobPlan& plan = *planned;
        if (options.tasks.empty()) {
            tasks = shard_tasks(plan, options.shard_index, options.shard_count);
        } else {
            std::vector<bool> taken(plan.tasks.size(), false);
            for (const std::size_t i : options.tasks) {
                if (i >= plan.tasks.size())
                    throw Error("run_job: task " + std::to_string(i) + " is not in the job (it has " +
                                std::to_string(plan.tasks.size()) + " tasks)");
                if (taken[i]) throw Error("run_job: task " + std::to_string(i) + " is given twice");
                taken[i] = true;
                tasks.push_back(plan.tasks[i]);
            }
        }
    }
    std::vector<ScenarioRuns> runs(scenarios.size());
    for (std::size_t i = 0; i < scenarios.size(); ++i) runs[i].runs.resize(scenarios[i]->spec.replications);
    for (const RunTask& task : tasks) {
        ++runs[task.scenario_index].remaining;
        state.progress.simulated_seconds_total += scenarios[task.scenario_index]->spec.horizon;
    }
    state.progress.runs_total = tasks.size();

    std::optional<io::AsyncResultsWriter> writer;
    if (!out.empty()) {
        io::FileIdentity identity;
        identity.base_graph_source = options.base_source;
        if (!options.base_version.empty())
            identity.base_graph_version = options.base_version;
        else if (!scenarios.empty())
            identity.base_graph_version = std::to_string(scenarios.front()->graph.version());
        identity.description = "twinsim run";
        writer.emplace(out, identity, options.writer);
        if (sharded) writer->mark_shard({planned->job, options.shard_index, options.shard_count});
        for (const auto& s : scenarios) {
            writer->define_scenario(results_definition(*s));
            for (const io::SeriesDefinition& series : fixed_series(*s)) writer->define_series(s->spec.name, series);
        }
        if (sharded)  // scenarios none of whose tasks are in this shard
            for (std::size_t i = 0; i < scenarios.size(); ++i)
                if (runs[i].remaining == 0) writer->write_shard_runs(scenarios[i]->spec.name, {results_layout(*scenarios[i]), {}});
    }
    io::AsyncResultsWriter* w = writer ? &*writer : nullptr;
    std::optional<WriterSink> writer_sink;
    if (w != nullptr) writer_sink.emplace(*w);
    DiscardSink discard;
    ResultsSink& sink = writer_sink ? static_cast<ResultsSink&>(*writer_sink) : discard;
    std::vector<std::vector<KpiSummary>> summaries(scenarios.size());

    auto fail = [&](std::exception_ptr error) {
        std::lock_guard lock(state.mutex);
        if (!state.fatal) state.fatal = std::move(error);
        state.cancel = true;
        state.wake.notify_all();
    };

    // 2. Execute each task; 3. reduce a scenario once its last task is done.
    auto run_one = [&](const RunTask& task) {
        if (state.cancel.load(std::memory_order_relaxed)) return;
        const auto& s = scenarios[task.scenario_index];
        ExecuteControl control;
        control.cancel = &state.cancel;
        control.slice = options.slice;
        control.progress = [&state](double simulated, std::uint64_t events) {
            std::lock_guard lock(state.mutex);
            state.progress.simulated_seconds += simulated;
            state.progress.events += events;
        };
        TaskOutcome outcome;
        try {
            outcome = execute(s, task, sink, control);
        } catch (const io::ResultsError&) {
            fail(std::current_exception());
            return;
        }
        if (outcome.cancelled) return;
        std::unique_lock lock(state.mutex);
        // A failed run counts as covering its horizon, so progress reaches 100 %.
        state.progress.simulated_seconds += s->spec.horizon - outcome.simulated_seconds;
        ++state.progress.runs_done;
        if (outcome.failure) {
            ++state.progress.runs_failed;
            result.failures.push_back({s->spec.name, task.replication, *outcome.failure});
        }
        ScenarioRuns& sr = runs[task.scenario_index];
        sr.runs[task.replication] = run_results(*s, std::move(outcome));
        const bool last = --sr.remaining == 0;
        lock.unlock();
        if (last && !state.cancel.load()) {
            try {
                const std::vector<io::RunResults> finished = sr.take();  // frees the records
                if (sharded) {
                    w->write_shard_runs(s->spec.name, {results_layout(*s), finished});
                } else {
                    ReducedScenario reduced = reduce(*s, finished);
                    if (w != nullptr) io::write_combined(*w, s->spec.name, reduced.tables);
                    summaries[task.scenario_index] = std::move(reduced.kpis);
                }
            } catch (const io::ResultsError&) {
                fail(std::current_exception());
            }
        }
        state.wake.notify_all();
    };

    const unsigned threads = options.threads != 0 ? options.threads
                                                  : std::clamp(std::thread::hardware_concurrency(), 1u, limits::max_threads);
    std::exception_ptr worker_error;
    std::thread driver([&] {
        try {
            // oneTBB caps its workers at the core count; an explicit larger
            // thread count (e.g. the 8-thread determinism test on 2 cores) is
            // honoured by raising the cap while this job runs.
            std::optional<tbb::global_control> cap;
            if (threads > tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism))
                cap.emplace(tbb::global_control::max_allowed_parallelism, threads);
            tbb::task_arena arena(static_cast<int>(threads));
            arena.execute([&] {
                tbb::parallel_for(tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
                                  [&](const tbb::blocked_range<std::size_t>& range) {
                                      for (std::size_t i = range.begin(); i != range.end(); ++i) run_one(tasks[i]);
                                  });
            });
        } catch (...) {
            worker_error = std::current_exception();
        }
        std::lock_guard lock(state.mutex);
        state.finished = true;
        state.wake.notify_all();
    });

    const auto interval = std::chrono::duration<double>(options.progress_interval > 0 ? options.progress_interval : 0.2);
    for (;;) {
        Progress snapshot;
        bool finished = false;
        {
            std::unique_lock lock(state.mutex);
            state.wake.wait_for(lock, interval, [&] { return state.finished; });
            finished = state.finished;
            state.progress.elapsed_seconds = std::chrono::duration<double>(clock::now() - started).count();
            snapshot = state.progress;
        }
        if (finished) break;
        if (options.progress && !state.cancel.load()) {
            bool go_on = true;
            try {
                go_on = options.progress(snapshot);
            } catch (...) {
                state.cancel = true;
                driver.join();
                throw;
            }
            if (!go_on) state.cancel = true;
        }
    }
    driver.join();
    if (worker_error) std::rethrow_exception(worker_error);
    if (state.fatal) std::rethrow_exception(state.fatal);
    if (state.cancel.load()) throw Cancelled();

    state.progress.elapsed_seconds = std::chrono::duration<double>(clock::now() - started).count();
    if (options.progress) (void)options.progress(state.progress);
    if (writer) {
        writer->close();
        result.path = out;
    }
    for (auto& s : summaries) result.kpis.insert(result.kpis.end(), s.begin(), s.end());
    std::sort(result.failures.begin(), result.failures.end(), [&](const RunFailure& a, const RunFailure& b) {
        return std::tie(a.scenario, a.replication) < std::tie(b.scenario, b.replication);
    });
    result.progress = state.progress;
    return result;
}

}  // namespace twinsim::scenario
