#include "twinsim/scenario/runner.hpp"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "twinsim/common/time.hpp"
#include "twinsim/io/async_results_writer.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/sweep.hpp"

namespace twinsim::scenario {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// t(0.975, df): exact table to 30 degrees of freedom, then the Cornish-Fisher
/// expansion (error < 1e-5 beyond 30).
double t975(std::size_t df) {
    static constexpr double table[] = {12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
                                       2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
                                       2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
                                       2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
                                       2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
    if (df >= 1 && df <= 30) return table[df - 1];
    const double z = 1.959963984540054;
    const double n = static_cast<double>(df);
    const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n);
}

struct JobState {
    std::mutex mutex;
    std::condition_variable wake;
    Progress progress;
    std::atomic<bool> cancel{false};
    std::exception_ptr fatal;  ///< the results file failed: the job cannot complete
    bool finished = false;
};

struct ScenarioResults {
    std::vector<std::optional<RunRecord>> records;
    std::vector<std::optional<std::string>> failures;
    std::size_t remaining = 0;
};

class WriterSink final : public RunSink {
public:
    WriterSink(io::AsyncResultsWriter* writer, const PreparedScenario& s, std::uint32_t replication)
        : writer_(writer), scenario_(s), replication_(replication) {}
    void series_block(std::size_t series, std::uint64_t first_time, std::vector<double> values) override {
        if (writer_ != nullptr)
            writer_->write_series_block(scenario_.spec.name, scenario_.series[series].name, replication_, first_time,
                                        std::move(values));
    }

private:
    io::AsyncResultsWriter* writer_;
    const PreparedScenario& scenario_;
    std::uint32_t replication_;
};

/// Writes a finished scenario's on-change series, events and KPIs (per run
/// and summaries), and returns the summaries.
std::vector<KpiSummary> finalize(const PreparedScenario& s, ScenarioResults& results, io::AsyncResultsWriter* writer) {
    const std::string& name = s.spec.name;
    const auto R = static_cast<std::uint32_t>(results.records.size());
    // On-change series: the union of change instants over the replications;
    // each cell holds the value in force at that instant.
    for (std::size_t i = 0; i < s.series.size(); ++i) {
        const SeriesPlan& p = s.series[i];
        if (!p.on_change) continue;
        std::set<double> instants;
        for (const auto& r : results.records)
            if (r)
                for (const auto& c : r->changes[i]) instants.insert(c.time);
        const std::vector<double> times(instants.begin(), instants.end());
        if (writer != nullptr) {
            io::SeriesDefinition def;
            def.name = p.name;
            def.unit = p.unit;
            def.twin_ids = p.twin_ids;
            def.times = times;
            def.model = p.model;
            def.property = p.property;
            def.description = p.property + " at each change";
            if (!times.empty()) writer->define_series(name, def);
        }
        if (times.empty() || writer == nullptr) continue;
        const std::size_t N = p.twins.size();
        for (std::uint32_t rep = 0; rep < R; ++rep) {
            const auto& r = results.records[rep];
            if (!r) continue;
            std::vector<double> current(N, nan);
            std::vector<double> block(times.size() * N, nan);
            const auto& log = r->changes[i];
            std::size_t j = 0;
            for (std::size_t k = 0; k < times.size(); ++k) {
                while (j < log.size() && log[j].time <= times[k]) {
                    current[log[j].twin] = log[j].value;
                    ++j;
                }
                std::copy(current.begin(), current.end(), block.begin() + static_cast<std::ptrdiff_t>(k * N));
            }
            writer->write_series_block(name, p.name, rep, 0, std::move(block));
        }
    }

    // Events: each run's drawn parameters first, then its log; failures.
    std::vector<io::EventRecord> events;
    std::vector<io::KpiRow> kpis;
    for (std::uint32_t rep = 0; rep < R; ++rep) {
        if (results.failures[rep]) {
            events.push_back({rep, 0.0, "", "run_failed", nlohmann::json{{"message", *results.failures[rep]}}.dump()});
            continue;
        }
        auto& r = *results.records[rep];
        events.push_back({rep, 0.0, "", "parameters", r.parameters.dump()});
        if (s.spec.recording.events) events.insert(events.end(), r.events.begin(), r.events.end());
        kpis.insert(kpis.end(), r.kpis.begin(), r.kpis.end());
    }

    // Summaries across replications, keyed by (KPI, selection) in first-seen order.
    std::vector<KpiSummary> summaries;
    std::map<std::pair<std::string, std::string>, std::size_t> slot;
    std::vector<std::vector<double>> values;
    for (const auto& row : kpis) {
        auto [it, inserted] = slot.try_emplace({row.name, row.selection}, summaries.size());
        if (inserted) {
            KpiSummary k;
            k.scenario = name;
            k.name = row.name;
            k.selection = row.selection;
            k.statistic = row.statistic;
            k.unit = row.unit;
            summaries.push_back(k);
            values.emplace_back();
        }
        if (!std::isnan(row.value)) values[it->second].push_back(row.value);
    }
    std::vector<io::KpiRow> summary_rows;
    for (std::size_t i = 0; i < summaries.size(); ++i) {
        KpiSummary& k = summaries[i];
        const KpiSummary stats = summarize(values[i]);
        k.n = stats.n;
        k.mean = stats.mean;
        k.std = stats.std;
        k.ci95_low = stats.ci95_low;
        k.ci95_high = stats.ci95_high;
        const KpiSpec* spec = nullptr;
        for (const auto& p : s.kpis)
            if (p.spec.name == k.name) spec = &p.spec;
        auto add = [&](const char* aggregate, double v) {
            summary_rows.push_back({k.name, k.selection, k.statistic, io::all_replications, aggregate, v, k.unit});
        };
        for (const auto a : spec != nullptr ? spec->across : std::vector<KpiSpec::Across>{}) {
            switch (a) {
                case KpiSpec::Across::mean: add("mean", k.mean); break;
                case KpiSpec::Across::std: add("std", k.std); break;
                case KpiSpec::Across::ci95:
                    add("ci95_low", k.ci95_low);
                    add("ci95_high", k.ci95_high);
                    break;
            }
        }
        add("n", static_cast<double>(k.n));
    }
    if (writer != nullptr) {
        writer->append_events(name, std::move(events));
        kpis.insert(kpis.end(), summary_rows.begin(), summary_rows.end());
        writer->write_kpis(name, std::move(kpis));
    }
    return summaries;
}

}  // namespace

KpiSummary summarize(std::span<const double> values) {
    KpiSummary k;
    k.n = values.size();
    if (values.empty()) {
        k.mean = k.std = k.ci95_low = k.ci95_high = nan;
        return k;
    }
    double sum = 0.0;
    for (const double v : values) sum += v;
    k.mean = sum / static_cast<double>(k.n);
    if (k.n < 2) {
        k.std = k.ci95_low = k.ci95_high = nan;
        return k;
    }
    double ss = 0.0;
    for (const double v : values) ss += (v - k.mean) * (v - k.mean);
    k.std = std::sqrt(ss / static_cast<double>(k.n - 1));
    const double half = t975(k.n - 1) * k.std / std::sqrt(static_cast<double>(k.n));
    k.ci95_low = k.mean - half;
    k.ci95_high = k.mean + half;
    return k;
}

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
    JobResult result;
    JobState state;

    struct Item {
        std::size_t scenario;
        std::uint32_t replication;
    };
    std::vector<Item> items;
    std::vector<ScenarioResults> results(scenarios.size());
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
        const auto reps = scenarios[i]->spec.replications;
        results[i].records.resize(reps);
        results[i].failures.resize(reps);
        results[i].remaining = reps;
        for (std::uint32_t r = 0; r < reps; ++r) items.push_back({i, r});
        state.progress.simulated_seconds_total += scenarios[i]->spec.horizon * reps;
    }
    state.progress.runs_total = items.size();

    std::optional<io::AsyncResultsWriter> writer;
    if (!out.empty()) {
        io::FileIdentity identity;
        identity.base_graph_source = options.base_source;
        if (!scenarios.empty()) identity.base_graph_version = std::to_string(scenarios.front()->graph.version());
        identity.description = "twinsim run";
        writer.emplace(out, identity, options.writer);
        for (const auto& s : scenarios) {
            io::ScenarioDefinition def;
            def.name = s->spec.name;
            def.description = s->spec.description;
            def.spec_json = to_json(s->spec).dump();
            def.parameters_json = s->fixed_parameters.dump();
            def.seed = s->spec.seed;
            def.replications = s->spec.replications;
            def.start = format_timestamp(s->spec.start, TimestampPrecision::seconds);
            writer->define_scenario(def);
            for (const auto& p : s->series) {
                if (p.on_change) continue;  // defined when the scenario's runs are done (its time axis is their union)
                io::SeriesDefinition sd;
                sd.name = p.name;
                sd.unit = p.unit;
                sd.twin_ids = p.twin_ids;
                sd.times = p.times;
                sd.model = p.model;
                sd.property = p.property;
                sd.description = p.property;
                writer->define_series(s->spec.name, sd);
            }
        }
    }
    io::AsyncResultsWriter* w = writer ? &*writer : nullptr;
    std::vector<std::vector<KpiSummary>> summaries(scenarios.size());

    auto run_one = [&](const Item& item) {
        if (state.cancel.load(std::memory_order_relaxed)) return;
        const auto& s = scenarios[item.scenario];
        const double horizon = s->spec.horizon;
        const double slice = options.slice > 0 ? options.slice : std::max(horizon / 200.0, 1e-9);
        double covered = 0.0;
        std::uint64_t events = 0;
        std::optional<RunRecord> record;
        std::optional<std::string> failure;
        try {
            WriterSink sink(w, *s, item.replication);
            Run run(s, item.replication, &sink);
            while (run.simulator().now() < horizon) {
                if (state.cancel.load(std::memory_order_relaxed)) return;
                const double before = run.simulator().now();
                const std::uint64_t e0 = run.simulator().events_processed();
                const auto why = run.advance_to(std::min(horizon, before + slice));
                std::lock_guard lock(state.mutex);
                state.progress.simulated_seconds += run.simulator().now() - before;
                state.progress.events += run.simulator().events_processed() - e0;
                covered += run.simulator().now() - before;
                events += run.simulator().events_processed() - e0;
                if (why != kernel::StopReason::horizon) break;
            }
            record = run.finish();
        } catch (const io::ResultsError&) {
            std::lock_guard lock(state.mutex);
            if (!state.fatal) state.fatal = std::current_exception();
            state.cancel = true;
            state.wake.notify_all();
            return;
        } catch (const std::exception& x) {
            failure = x.what();
        }
        std::unique_lock lock(state.mutex);
        // A failed run counts as covering its horizon, so progress reaches 100 %.
        state.progress.simulated_seconds += horizon - covered;
        ++state.progress.runs_done;
        if (failure) {
            ++state.progress.runs_failed;
            result.failures.push_back({s->spec.name, item.replication, *failure});
        }
        auto& sr = results[item.scenario];
        sr.records[item.replication] = std::move(record);
        sr.failures[item.replication] = std::move(failure);
        const bool last = --sr.remaining == 0;
        lock.unlock();
        if (last && !state.cancel.load()) {
            try {
                summaries[item.scenario] = finalize(*s, sr, w);
            } catch (const io::ResultsError&) {
                std::lock_guard relock(state.mutex);
                if (!state.fatal) state.fatal = std::current_exception();
                state.cancel = true;
            }
            sr = ScenarioResults{};  // free the records
        }
        state.wake.notify_all();
    };

    const unsigned threads = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
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
                tbb::parallel_for(tbb::blocked_range<std::size_t>(0, items.size(), 1),
                                  [&](const tbb::blocked_range<std::size_t>& range) {
                                      for (std::size_t i = range.begin(); i != range.end(); ++i) run_one(items[i]);
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
