#include "twinsim/scenario/execute.hpp"

#include <algorithm>
#include <exception>
#include <limits>

#include "twinsim/common/error.hpp"
#include "twinsim/io/async_results_writer.hpp"
#include "twinsim/io/errors.hpp"

namespace twinsim::scenario {

namespace {

/// The Run's view of a ResultsSink: one scenario and replication.
class RunAdapter final : public RunSink {
public:
    RunAdapter(ResultsSink& sink, const PreparedScenario& scenario, std::uint32_t replication)
        : sink_(sink), scenario_(scenario), replication_(replication) {}
    void series_block(std::size_t series, std::uint64_t first_time, std::vector<double> values) override {
        sink_.series_block(scenario_, series, replication_, first_time, std::move(values));
    }

private:
    ResultsSink& sink_;
    const PreparedScenario& scenario_;
    std::uint32_t replication_;
};

}  // namespace

void WriterSink::series_block(const PreparedScenario& scenario, std::size_t series, std::uint32_t replication,
                              std::uint64_t first_time, std::vector<double> values) {
    writer_->write_series_block(scenario.spec.name, scenario.series[series].name, replication, first_time,
                                std::move(values));
}

void MemorySink::series_block(const PreparedScenario& scenario, std::size_t series, std::uint32_t replication,
                              std::uint64_t first_time, std::vector<double> values) {
    const SeriesPlan& plan = scenario.series[series];
    const std::size_t twins = plan.twins.size();
    std::lock_guard lock(mutex_);
    std::vector<double>& all = series_[{scenario.spec.name, series, replication}];
    if (all.empty()) all.assign(plan.times.size() * twins, std::numeric_limits<double>::quiet_NaN());
    const std::size_t offset = static_cast<std::size_t>(first_time) * twins;
    if (offset + values.size() > all.size())
        throw Error("MemorySink: a block of series \"" + plan.name + "\" of scenario \"" + scenario.spec.name +
                    "\" goes past its time axis");
    std::copy(values.begin(), values.end(), all.begin() + static_cast<std::ptrdiff_t>(offset));
}

std::vector<double> MemorySink::samples(const std::string& scenario, std::size_t series, std::uint32_t replication) const {
    std::lock_guard lock(mutex_);
    const auto it = series_.find({scenario, series, replication});
    return it == series_.end() ? std::vector<double>{} : it->second;
}

TaskOutcome execute(const std::shared_ptr<const PreparedScenario>& scenario, const RunTask& task, ResultsSink& sink,
                    const ExecuteControl& control) {
    if (task.scenario != scenario->spec.name)
        throw Error("execute: task " + std::to_string(task.index) + " is of scenario \"" + task.scenario +
                    "\", not \"" + scenario->spec.name + "\"");
    if (task.replication >= scenario->spec.replications)
        throw Error("execute: task " + std::to_string(task.index) + " asks for replication " +
                    std::to_string(task.replication) + " of scenario \"" + scenario->spec.name + "\", which has " +
                    std::to_string(scenario->spec.replications));
    TaskOutcome out;
    out.replication = task.replication;
    const double horizon = scenario->spec.horizon;
    const double slice = control.slice > 0 ? control.slice : std::max(horizon / 200.0, 1e-9);
    auto cancelled = [&] { return control.cancel != nullptr && control.cancel->load(std::memory_order_relaxed); };
    try {
        RunAdapter adapter(sink, *scenario, task.replication);
        Run run(scenario, task.replication, &adapter);
        while (run.simulator().now() < horizon) {
            if (cancelled()) {
                out.cancelled = true;
                return out;
            }
            const double before = run.simulator().now();
            const std::uint64_t e0 = run.simulator().events_processed();
            const auto why = run.advance_to(std::min(horizon, before + slice));
            const double simulated = run.simulator().now() - before;
            const std::uint64_t events = run.simulator().events_processed() - e0;
            out.simulated_seconds += simulated;
            out.events += events;
            if (control.progress) control.progress(simulated, events);
            if (why != kernel::StopReason::horizon) break;
        }
        out.record = run.finish();
    } catch (const io::ResultsError&) {
        throw;
    } catch (const std::exception& x) {
        out.failure = x.what();
    }
    return out;
}

}  // namespace twinsim::scenario
