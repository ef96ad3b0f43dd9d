#include "twinsim/scenario/run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>
#include <string_view>
#include <unordered_set>

#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/detail/overrides.hpp"
#include "twinsim/scenario/detail/references.hpp"
#include "twinsim/scenario/detail/selection.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"

namespace twinsim::scenario {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
/// Interval samples are handed to the sink in blocks of this many time steps.
constexpr std::size_t block_steps = 256;

graph::TwinGraphOptions graph_options(const kernel::Simulator* sim, bool allow_undefined_extensions) {
    graph::TwinGraphOptions o;
    // Simulated time, so a run's writes are stamped reproducibly.
    o.clock = [sim] { return Timestamp{sim->instant_at(sim->now()).time_since_epoch().count()}; };
    o.allow_undefined_extensions = allow_undefined_extensions;
    return o;
}

nlohmann::json resolve(const nlohmann::json& j, const nlohmann::json& parameters) {
    return detail::substitute_references(j, parameters);
}

kernel::Instant instant_of(Timestamp t) { return kernel::Instant(std::chrono::nanoseconds(t.ns)); }

struct InjectedTick {
    std::uint32_t index;
};

/// Time statistics of one twin's property: a piecewise-constant signal.
struct Accumulator {
    double value = nan;  ///< current value (NaN: unset)
    double since = 0.0;  ///< time the current value holds from
    double integral = 0.0;
    double above = 0.0;
    double below = 0.0;
    double excess_above = 0.0;  ///< integral of max(0, value - threshold) dt
    double excess_below = 0.0;  ///< integral of max(0, threshold - value) dt
    double defined = 0.0;  ///< seconds with a value
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();

    void advance(double t, const KpiSpec& k) {
        const double dt = t - since;
        if (dt > 0 && !std::isnan(value)) {
            integral += value * dt;
            defined += dt;
            if (k.threshold) {
                if (value > *k.threshold) above += dt, excess_above += (value - *k.threshold) * dt;
                if (value < *k.threshold) below += dt, excess_below += (*k.threshold - value) * dt;
            }
        }
        since = t;
    }
    void set(double t, double v, const KpiSpec& k) {
        advance(t, k);
        value = v;
        if (!std::isnan(v)) {
            min = std::min(min, v);
            max = std::max(max, v);
        }
    }
};

}  // namespace

struct Run::SampleTick {
    std::uint32_t series;
    std::uint32_t pad;
    std::uint64_t step;
};

struct Run::Recorder {
    struct Watch {
        bool kpi;
        std::uint32_t index;  ///< series or KPI
        std::uint32_t position;
    };
    const PreparedScenario& scenario;
    RunSink* sink;
    /// What watches each (twin, column), by twin: twin t's watched columns are
    /// watched[watch_first[t] .. watch_first[t + 1]) (twins past the end: none), and
    /// column entry e's watches are watch_list[e.first .. e.first + e.count), in the
    /// order they were added (on-change series, then KPIs). A write looks up its twin
    /// by index rather than hashing, which every step of a large binding pays.
    struct Watched {
        std::uint32_t column;
        std::uint32_t first, count;
    };
    std::vector<std::uint32_t> watch_first;
    std::vector<Watched> watched;
    std::vector<Watch> watch_list;
    [[nodiscard]] bool watching() const noexcept { return !watch_list.empty(); }
    // interval series
    std::vector<std::vector<double>> buffers;      ///< pending samples per series
    std::vector<std::uint64_t> buffer_first;       ///< time step of buffers[s][0]
    std::vector<std::vector<double>> kept;         ///< without a sink: every sample
    // on-change series
    std::vector<std::vector<RunRecord::Change>> changes;
    // KPIs
    std::vector<std::vector<Accumulator>> accumulators;
    std::vector<io::EventRecord> events;

    static std::uint64_t key(graph::TwinIndex t, std::uint32_t column) { return (std::uint64_t{t} << 32) | column; }

    Recorder(const PreparedScenario& s, RunSink* k)
        : scenario(s), sink(k), buffers(s.series.size()), buffer_first(s.series.size(), 0), kept(s.series.size()),
          changes(s.series.size()), accumulators(s.kpis.size()) {
        std::unordered_map<std::uint64_t, std::vector<Watch>> watches;
        for (std::uint32_t i = 0; i < s.series.size(); ++i) {
            const SeriesPlan& p = s.series[i];
            if (!p.on_change) continue;
            for (std::uint32_t n = 0; n < p.twins.size(); ++n) watches[key(p.twins[n], p.columns[n])].push_back({false, i, n});
        }
        for (std::uint32_t i = 0; i < s.kpis.size(); ++i) {
            const KpiPlan& p = s.kpis[i];
            if (p.spec.statistic == KpiSpec::Statistic::event_count) continue;
            accumulators[i].resize(p.twins.size());
            for (std::uint32_t n = 0; n < p.twins.size(); ++n) watches[key(p.twins[n], p.columns[n])].push_back({true, i, n});
        }
        std::vector<std::uint64_t> keys;
        keys.reserve(watches.size());
        for (const auto& [kk, list] : watches) keys.push_back(kk);
        std::sort(keys.begin(), keys.end());
        const std::size_t twins = keys.empty() ? 0 : static_cast<std::size_t>(keys.back() >> 32) + 1;
        watch_first.assign(twins + 1, 0);
        for (const std::uint64_t kk : keys) {
            const std::vector<Watch>& list = watches[kk];
            ++watch_first[(kk >> 32) + 1];
            watched.push_back({static_cast<std::uint32_t>(kk), static_cast<std::uint32_t>(watch_list.size()),
                               static_cast<std::uint32_t>(list.size())});
            watch_list.insert(watch_list.end(), list.begin(), list.end());
        }
        for (std::size_t t = 0; t < twins; ++t) watch_first[t + 1] += watch_first[t];
    }

    void initial(const graph::TwinGraph& g) {
        for (std::size_t i = 0; i < scenario.series.size(); ++i) {
            const SeriesPlan& p = scenario.series[i];
            if (!p.on_change) continue;
            for (std::uint32_t n = 0; n < p.twins.size(); ++n)
                changes[i].push_back({0.0, n, g.numeric_value(p.twins[n], p.columns[n]).value_or(nan)});
        }
        for (std::size_t i = 0; i < scenario.kpis.size(); ++i) {
            const KpiPlan& p = scenario.kpis[i];
            for (std::uint32_t n = 0; n < accumulators[i].size(); ++n)
                accumulators[i][n].set(0.0, g.numeric_value(p.twins[n], p.columns[n]).value_or(nan), p.spec);
        }
    }

    void changed(graph::TwinIndex twin, std::uint32_t column, double t, double v) {
        if (std::size_t{twin} + 1 >= watch_first.size()) return;
        const Watched* e = nullptr;
        for (std::uint32_t k = watch_first[twin]; k < watch_first[twin + 1]; ++k)
            if (watched[k].column == column) {
                e = &watched[k];
                break;
            }
        if (e == nullptr) return;
        for (std::uint32_t x = e->first; x < e->first + e->count; ++x) {
            const Watch& w = watch_list[x];
            if (w.kpi) {
                accumulators[w.index][w.position].set(t, v, scenario.kpis[w.index].spec);
            } else {
                auto& log = changes[w.index];
                // Several writes at one instant: keep the last.
                if (!log.empty() && log.back().time == t && log.back().twin == w.position)
                    log.back().value = v;
                else
                    log.push_back({t, w.position, v});
            }
        }
    }

    void sample(const graph::TwinGraph& g, std::uint32_t s, std::uint64_t step) {
        const SeriesPlan& p = scenario.series[s];
        auto& buf = buffers[s];
        if (buf.empty()) buffer_first[s] = step;
        if (p.recorded) {  // replay's recorded twin of a series: the history, not the graph
            const auto first = p.recorded->begin() + static_cast<std::ptrdiff_t>(step * p.twins.size());
            buf.insert(buf.end(), first, first + static_cast<std::ptrdiff_t>(p.twins.size()));
        } else {
            for (std::size_t n = 0; n < p.twins.size(); ++n)
                buf.push_back(g.numeric_value(p.twins[n], p.columns[n]).value_or(nan));
        }
        if (buf.size() >= block_steps * p.twins.size()) flush(s);
    }

    void flush(std::size_t s) {
        auto& buf = buffers[s];
        if (buf.empty()) return;
        if (sink != nullptr)
            sink->series_block(s, buffer_first[s], std::move(buf));
        else
            kept[s].insert(kept[s].end(), buf.begin(), buf.end());
        buf = {};
    }
};

Run::Run(const graph::Snapshot& base, const RunOptions& options)
    : base_(base),
      id_(options.stream),
      simulator_(std::make_unique<kernel::Simulator>()),
      random_(id_, 0),
      graph_(graph::TwinGraph::from_snapshot(base_, graph_options(simulator_.get(), options.allow_undefined_extensions))),
      horizon_(std::numeric_limits<double>::infinity()) {
    simulator_->set_start_instant(options.start);
}

Run::Run(std::shared_ptr<const PreparedScenario> scenario, std::uint32_t replication, RunSink* sink)
    : base_(scenario->graph),
      id_{scenario->spec.seed, 0, replication},  // common random numbers across the job's scenarios
      simulator_(std::make_unique<kernel::Simulator>()),
      random_(id_, 0),
      graph_(graph::TwinGraph::from_snapshot(base_, graph_options(simulator_.get(), false))),
      scenario_(std::move(scenario)),
      horizon_(scenario_->spec.horizon) {
    const PreparedScenario& s = *scenario_;
    const ScenarioSpec& spec = s.spec;
    simulator_->set_start_instant(instant_of(spec.start));

    // Parameters: fixed ones, then draws from sub-stream 0 in declaration order.
    for (const Parameter& p : spec.parameters) {
        if (p.value)
            parameters_[p.name] = *p.value;
        else if (p.distribution)
            parameters_[p.name] = p.distribution->sample(random_);
    }

    // Overrides, in order, each on the graph as the previous ones left it.
    detail::apply_overrides(*graph_, spec, parameters_, /*known_only=*/false);

    // Replay (docs/replay.md): the recorded inputs hold their values at time
    // 0 before anything looks at the graph, as overrides do.
    if (s.replay) {
        std::vector<graph::PropertyWrite> initial;
        for (const ReplayTarget& t : s.replay->targets)
            if (!t.steps.empty() && t.steps[0] == 0 && !std::isnan(t.values[0]))
                initial.push_back({t.twin, t.column, t.values[0], std::nullopt});
        graph_->write_properties(initial);
    }

    recorder_ = std::make_unique<Recorder>(s, sink);
    recorder_->initial(*graph_);

    // Interval samples run after every other event of their instant.
    const auto sample_type = simulator_->on<SampleTick>([this](kernel::Simulator& sim, const SampleTick& tick) {
        recorder_->sample(*graph_, tick.series, tick.step);
        const auto& times = scenario_->series[tick.series].times;
        if (tick.step + 1 < times.size())
            sim.schedule_at(sample_type_, times[tick.step + 1], SampleTick{tick.series, 0, tick.step + 1}, kernel::max_priority);
    });
    sample_type_ = sample_type;
    for (std::uint32_t i = 0; i < s.series.size(); ++i)
        if (!s.series[i].on_change && !s.series[i].times.empty())
            simulator_->schedule_at(sample_type, s.series[i].times[0], SampleTick{i, 0, 0}, kernel::max_priority);

    // Behaviours, in binding order.
    for (std::size_t i = 0; i < s.bindings.size(); ++i) {
        const BindingPlan& plan = s.bindings[i];
        Binding b;
        b.index = i;
        b.model = plan.name;
        b.parameters = resolve(plan.parameters, parameters_);
        b.twins = plan.twins;
        b.graph = &s.graph;
        b.processes = &s.processes;
        behaviours_.push_back(plan.model->instantiate(b, *this));
    }
    // Replay: at every step instant k, before the behaviours' steps, each
    // driven property takes its recorded value for the step ((k-1) dt, k dt].
    if (s.replay && !s.replay->targets.empty()) {
        // The writes by step (offsets into one array: step k writes schedule[offset[k], offset[k + 1])), in
        // target order within a step: a step touches only what changes then, not every target.
        const auto& targets = s.replay->targets;
        std::uint64_t last = 0;
        for (const ReplayTarget& t : targets)
            if (!t.steps.empty()) last = std::max(last, t.steps.back());
        auto offset = std::make_shared<std::vector<std::size_t>>(last + 2, 0);
        for (const ReplayTarget& t : targets)
            for (std::size_t c = 0; c < t.steps.size(); ++c)
                if (t.steps[c] > 0 && !std::isnan(t.values[c])) ++(*offset)[t.steps[c] + 1];
        for (std::size_t k = 1; k < offset->size(); ++k) (*offset)[k] += (*offset)[k - 1];
        auto schedule = std::make_shared<std::vector<graph::PropertyWrite>>(offset->back());
        std::vector<std::size_t> next(offset->begin(), offset->end() - 1);
        for (const ReplayTarget& t : targets)
            for (std::size_t c = 0; c < t.steps.size(); ++c)
                if (t.steps[c] > 0 && !std::isnan(t.values[c]))
                    (*schedule)[next[t.steps[c]]++] = {t.twin, t.column, t.values[c], std::nullopt};
        auto k = std::make_shared<std::uint64_t>(0);
        simulator_->add_periodic(
            s.replay->step,
            [this, offset, schedule, k](kernel::Simulator&, double, double) {
                const std::uint64_t step = ++*k;
                if (step + 1 >= offset->size()) return;
                const std::size_t from = (*offset)[step], to = (*offset)[step + 1];
                if (from < to) write(std::span<const graph::PropertyWrite>(schedule->data() + from, to - from));
            },
            simulator_->now() + s.replay->step, step_priority - 1);
    }

    for (auto& b : behaviours_) start_behaviour(*b);

    // Injected events.
    injected_data_.reserve(spec.events.size());
    for (const InjectedEvent& e : spec.events) injected_data_.push_back(resolve(e.data, parameters_));
    const auto injected = simulator_->on<InjectedTick>([this](kernel::Simulator&, const InjectedTick& tick) {
        const InjectedEvent& e = scenario_->spec.events[tick.index];
        const graph::TwinIndex twin = scenario_->event_twins[tick.index];
        log_event(e.twin, e.event, injected_data_[tick.index]);
        if (!deliver(twin, e.event, injected_data_[tick.index]))
            throw ScenarioError(scenario_->spec.source.file, 0, "events[" + std::to_string(tick.index) + "]",
                                "no behaviour of twin \"" + e.twin + "\" handled the event \"" + e.event + "\"");
    });
    for (std::uint32_t i = 0; i < spec.events.size(); ++i) simulator_->schedule_at(injected, spec.events[i].at, InjectedTick{i});
}

Run::~Run() = default;

query::QueryResult Run::query(std::string_view text, const query::QueryOptions& options) const {
    return query::query_twins(graph_->snapshot(), text, options);
}

std::optional<double> Run::value(graph::TwinIndex twin, std::uint32_t column) const {
    return graph_->numeric_value(twin, column);
}

kernel::RandomStream Run::twin_stream(std::size_t binding, graph::TwinIndex twin) const noexcept {
    std::uint64_t key = binding;
    if (scenario_ && binding < scenario_->bindings.size()) key = scenario_->bindings[binding].stream_key;
    return stream(((key + 1) << 32) | twin);
}

void Run::add_process(std::string name, std::function<void(Run&)> start) {
    processes_[std::move(name)].push_back(std::move(start));
}

void Run::start_process(std::string_view name, const nlohmann::json& detail) {
    const auto it = processes_.find(name);
    if (it == processes_.end()) throw Error("no behaviour of the run provides the process \"" + std::string(name) + "\"");
    nlohmann::json d = {{"process", name}};
    if (detail.is_object()) d.update(detail);
    log_event("", "process_start", d);
    for (std::size_t i = 0; i < it->second.size(); ++i) it->second[i](*this);
}

void Run::start_behaviour(Behaviour& behaviour) {
    behaviour.start(*this);
    const double period = behaviour.step_period();
    if (period == 0.0) return;
    if (!(period > 0.0) || !std::isfinite(period))
        throw ScenarioError(scenario_ ? scenario_->spec.source.file : std::string(), 0,
                            scenario_ ? scenario_->spec.source.behaviours_section : std::string("behaviours"),
                            "a behaviour asked for a step period of " + std::to_string(period) + " s (needs > 0)");
    Behaviour* b = &behaviour;
    simulator_->add_periodic(
        period, [this, b](kernel::Simulator& sim, double, double dt) { b->step(*this, sim.now(), dt); },
        simulator_->now() + period, step_priority);
}

void Run::read(std::span<const graph::TwinIndex> twins, std::span<const std::uint32_t> columns, std::span<double> out,
               double missing) const {
    if (twins.size() != columns.size() || twins.size() != out.size())
        throw std::invalid_argument("Run::read: twins, columns and out differ in size");
    if (twins.size() < 64) {
        for (std::size_t i = 0; i < twins.size(); ++i) out[i] = graph_->numeric_value(twins[i], columns[i]).value_or(missing);
        return;
    }
    // A whole binding's column: one snapshot (O(tables + columns), no lock per cell) read
    // in one pass (graph::read_numeric), rather than the graph's mutex taken for every
    // twin. It is dropped before the caller writes again, so the next write copies nothing.
    const graph::Snapshot now = graph_->snapshot();
    graph::read_numeric(now, twins, columns, out, missing);
}

void Run::read(std::span<const graph::TwinIndex> twins, std::span<const graph::NumericRead> reads) const {
    for (const graph::NumericRead& r : reads)
        if (r.columns.size() != twins.size() || r.out.size() != twins.size())
            throw std::invalid_argument("Run::read: a read's columns or out differ in size from twins");
    if (twins.empty() || reads.empty()) return;
    const graph::Snapshot now = graph_->snapshot();  // dropped before the caller writes again (above)
    graph::read_numeric(now, twins, reads);
}

void Run::write(std::span<const graph::PropertyWrite> writes) {
    graph_->write_properties(writes);
    if (recorder_ && recorder_->watching()) {
        const double t = simulator_->now();
        // A write that passed write_properties' checks stored exactly its value (integral for
        // an integer column, 0 or 1 for a boolean), but for the sign of a zero: only zeros
        // are read back, so the recorder sees what the graph holds without a lookup per write.
        for (const auto& w : writes)
            recorder_->changed(w.twin, w.column, t,
                               w.value != 0.0 ? w.value : graph_->numeric_value(w.twin, w.column).value_or(nan));
    }
    if (!write_listeners_.empty())
        for (const auto& w : writes) notify(w.twin, w.column);
}

void Run::notify(graph::TwinIndex twin, std::uint32_t column) {
    for (std::size_t i = 0; i < write_listeners_.size(); ++i) write_listeners_[i](twin, column);
}

void Run::write(graph::TwinIndex twin, std::uint32_t column, double value) {
    const graph::PropertyWrite w{twin, column, value, std::nullopt};
    write(std::span<const graph::PropertyWrite>(&w, 1));
}

void Run::update_twin(std::string_view twin_id, const nlohmann::json& patch) {
    graph_->update_twin(twin_id, patch);
    const bool record = recorder_ && recorder_->watching();
    if ((!record && write_listeners_.empty()) || !patch.is_array()) return;
    const auto twin = graph_->find(twin_id);
    if (!twin) return;
    const graph::Snapshot now = graph_->snapshot();
    const auto& layout = now.models()->at(now.twin_model(*twin)).layout;
    const double t = simulator_->now();
    if (record) {
        for (const auto& op : patch) {
            if (!op.is_object() || !op.contains("path") || !op.at("path").is_string()) continue;
            const auto& path = op.at("path").get_ref<const std::string&>();
            if (path.size() < 2 || path.find('/', 1) != std::string::npos) continue;
            const dtdl::PropertySlot* slot = layout.find(std::string_view(path).substr(1));
            if (slot == nullptr) continue;
            recorder_->changed(*twin, slot->column, t, now.numeric_value(*twin, slot->column).value_or(nan));
        }
    }
    if (write_listeners_.empty()) return;
    // Listeners: the top-level property of every path the patch touched ("from" of move too).
    std::vector<std::uint32_t> columns;
    for (const auto& op : patch) {
        if (!op.is_object()) continue;
        for (const char* key : {"path", "from"}) {
            if (!op.contains(key) || !op.at(key).is_string()) continue;
            const auto& path = op.at(key).get_ref<const std::string&>();
            if (path.size() < 2 || path[0] != '/') continue;
            const std::string_view name = std::string_view(path).substr(1, path.find('/', 1) - 1);
            const dtdl::PropertySlot* slot = layout.find(name);
            if (slot != nullptr && std::find(columns.begin(), columns.end(), slot->column) == columns.end())
                columns.push_back(slot->column);
        }
    }
    for (const std::uint32_t c : columns) notify(*twin, c);
}

void Run::log_event(std::string_view twin, std::string type, nlohmann::json detail) {
    if (!recorder_) return;
    io::EventRecord r;
    r.replication = replication();
    r.time = simulator_->now();
    r.twin = std::string(twin);
    r.type = std::move(type);
    r.detail_json = detail.is_null() ? "{}" : detail.dump();
    recorder_->events.push_back(std::move(r));
}

bool Run::deliver(graph::TwinIndex twin, std::string_view event, const nlohmann::json& data) {
    if (!scenario_) return false;
    bool handled = false;
    for (std::size_t i = 0; i < behaviours_.size(); ++i) {
        const auto& twins = scenario_->bindings[i].twins;
        if (!std::binary_search(twins.begin(), twins.end(), twin)) continue;
        if (behaviours_[i]->on_event(*this, twin, event, data)) handled = true;
    }
    return handled;
}

kernel::StopReason Run::advance_to(double t) {
    if (failed_) throw Error("the run failed earlier; it cannot go on");
    if (!(t >= simulator_->now()))  // also NaN
        throw kernel::KernelError("advance_to(" + std::to_string(t) + "): the run is already at " +
                                  std::to_string(simulator_->now()) + " s");
    try {
        return simulator_->run_until(std::min(t, horizon_));
    } catch (...) {
        failed_ = true;
        throw;
    }
}

RunRecord Run::finish() {
    if (failed_) throw Error("the run failed earlier; it has no results");
    if (finished_) throw Error("finish() was already called on this run");
    finished_ = true;
    RunRecord out;
    out.replication = replication();
    out.parameters = parameters_;
    out.end_time = simulator_->now();
    out.events_processed = simulator_->events_processed();
    if (!recorder_) return out;
    Recorder& r = *recorder_;
    const PreparedScenario& s = *scenario_;
    const double end = out.end_time;
    for (std::size_t i = 0; i < s.series.size(); ++i) r.flush(i);
    out.samples = std::move(r.kept);
    out.changes = std::move(r.changes);
    out.events = std::move(r.events);

    for (std::size_t i = 0; i < s.kpis.size(); ++i) {
        const KpiPlan& p = s.kpis[i];
        const KpiSpec& k = p.spec;
        io::KpiRow row;
        row.name = k.name;
        row.replication = static_cast<std::int32_t>(id_.replication);
        row.unit = p.unit;
        const bool counts = k.statistic == KpiSpec::Statistic::event_count;
        if (counts && k.over == KpiSpec::Over::sum) {  // one total: every matching event (of the `where` twins)
            row.statistic = "count";
            row.selection = k.event.empty() ? "*" : k.event;
            std::unordered_set<std::string> ids(p.twin_ids.begin(), p.twin_ids.end());
            std::size_t n = 0;
            for (const auto& e : out.events)
                if ((k.event.empty() || e.type == k.event) && (k.where.empty() || ids.contains(e.twin))) ++n;
            row.value = static_cast<double>(n);
            out.kpis.push_back(row);
            continue;
        }
        static constexpr const char* names[] = {"mean",       "min",        "max",   "final",        "integral",
                                                "time_above", "time_below", "count", "excess_above", "excess_below"};
        row.statistic = names[static_cast<int>(k.statistic)];
        std::vector<double> per_twin;
        per_twin.reserve(p.twins.size());
        if (counts) {  // the matching events of each twin (scenario-wide events belong to none)
            std::unordered_map<std::string_view, std::size_t> position;
            for (std::size_t n = 0; n < p.twin_ids.size(); ++n) position.emplace(p.twin_ids[n], n);
            per_twin.assign(p.twin_ids.size(), 0.0);
            for (const auto& e : out.events) {
                if (!k.event.empty() && e.type != k.event) continue;
                if (const auto it = position.find(e.twin); it != position.end()) per_twin[it->second] += 1.0;
            }
        }
        for (auto& a : r.accumulators[i]) {
            a.advance(end, k);
            double v = nan;
            switch (k.statistic) {
                case KpiSpec::Statistic::mean: v = a.defined > 0 ? a.integral / a.defined : a.value; break;
                case KpiSpec::Statistic::min: v = std::isfinite(a.min) ? a.min : nan; break;
                case KpiSpec::Statistic::max: v = std::isfinite(a.max) ? a.max : nan; break;
                case KpiSpec::Statistic::final: v = a.value; break;
                case KpiSpec::Statistic::integral: v = a.integral / 3600.0; break;
                case KpiSpec::Statistic::time_above: v = a.above / 3600.0; break;
                case KpiSpec::Statistic::time_below: v = a.below / 3600.0; break;
                case KpiSpec::Statistic::excess_above: v = a.excess_above / 3600.0; break;
                case KpiSpec::Statistic::excess_below: v = a.excess_below / 3600.0; break;
                case KpiSpec::Statistic::event_count: break;
            }
            per_twin.push_back(v);
        }
        if (k.over == KpiSpec::Over::each) {
            for (std::size_t n = 0; n < per_twin.size(); ++n) {
                row.selection = p.twin_ids[n];
                row.value = per_twin[n];
                out.kpis.push_back(row);
            }
            continue;
        }
        double acc = nan;
        std::size_t count = 0;
        for (const double v : per_twin) {
            if (std::isnan(v)) continue;
            if (count++ == 0) {
                acc = v;
                continue;
            }
            switch (k.over) {
                case KpiSpec::Over::mean:
                case KpiSpec::Over::sum: acc += v; break;
                case KpiSpec::Over::min: acc = std::min(acc, v); break;
                case KpiSpec::Over::max: acc = std::max(acc, v); break;
                case KpiSpec::Over::each: break;
            }
        }
        if (k.over == KpiSpec::Over::mean && count > 0) acc /= static_cast<double>(count);
        if (k.over == KpiSpec::Over::sum && count == 0) acc = 0.0;
        static constexpr const char* overs[] = {"each", "mean", "sum", "min", "max"};
        row.selection = std::string(overs[static_cast<int>(k.over)]) + " over " +
                        (k.where.empty() ? std::string("all twins") : k.where);
        row.value = acc;
        out.kpis.push_back(row);
    }
    return out;
}

}  // namespace twinsim::scenario
