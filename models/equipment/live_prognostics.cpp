#include "models/equipment/live_prognostics.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "models/equipment/predicted_failures.hpp"
#include "twinsim/live/routes.hpp"

namespace twinsim::models {

nlohmann::json prognostics_patch(const RulDistribution& rul, double horizon, std::size_t readings) {
    nlohmann::json quantiles = nlohmann::json::object();
    for (std::size_t k = 0; k < 9; ++k)
        quantiles[std::string(rul_quantile_names[k])] = rul.quantile(rul_quantile_levels[k]);
    auto add = [](const char* name, nlohmann::json value) {
        return nlohmann::json{{"op", "add"}, {"path", std::string("/") + name}, {"value", std::move(value)}};
    };
    return nlohmann::json::array({add("cycle", rul.cycle), add("healthIndicator", rul.health),
                                  add("rulMean", rul.mean()), add("rulP05", rul.quantile(0.05)),
                                  add("rulP50", rul.quantile(0.5)), add("rulP95", rul.quantile(0.95)),
                                  add("rulQuantiles", quantiles), add("failureHorizon", horizon),
                                  add("failureProbability", rul.probability_within(horizon)),
                                  add("prognosticsReadings", readings)});
}

namespace {

std::atomic<std::uint64_t> engine_numbers{0};

/// The string member `key` of `j`, or null (no .value(): GCC 12 sees a null dereference in it).
const std::string* string_member(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
}

struct Reading {
    std::string twin;
    std::optional<double> cycle;
    std::vector<double> values;  ///< settings then sensors, in the model's order; NaN = not given
};

struct TwinState {
    std::vector<double> cycles, health;
    std::vector<double> last;  ///< the last complete row (carried into partial readings)
};

}  // namespace

struct LivePrognostics::Impl {
    graph::TwinGraph& graph;
    std::shared_ptr<const PrognosticsModel> model;
    LivePrognosticsOptions options;
    live::EventRouter* router = nullptr;
    std::string name;
    graph::TwinGraph::ListenerId listener = 0;
    std::unordered_map<std::string, std::size_t> column;  ///< setting or sensor name -> position in a row
    std::size_t width = 0;

    mutable std::mutex mutex;
    std::condition_variable work, space, done;
    std::deque<Reading> queue;
    std::uint64_t queued = 0, processed = 0;
    bool stopping = false;
    LivePrognosticsStatistics stats;
    std::unordered_map<std::string, RulDistribution> latest;
    std::thread worker;

    std::unordered_map<std::string, TwinState> twins;  ///< the worker's

    Impl(graph::TwinGraph& g, std::shared_ptr<const PrognosticsModel> m, LivePrognosticsOptions o)
        : graph(g), model(std::move(m)), options(std::move(o)) {}

    void push(Reading r) {
        std::vector<Reading> one;
        one.push_back(std::move(r));
        push(one);
    }

    /// Queues readings together (the worker takes them in one go when they fit the queue).
    void push(std::vector<Reading>& readings) {
        std::size_t next = 0;
        while (next < readings.size()) {
            std::unique_lock lock(mutex);
            space.wait(lock, [&] { return stopping || queue.size() < options.queue_capacity; });
            if (stopping) return;
            while (next < readings.size() && queue.size() < options.queue_capacity) {
                queue.push_back(std::move(readings[next++]));
                ++queued;
            }
            work.notify_one();
        }
    }

    bool followed(const graph::Snapshot& s, std::string_view twin) const {
        const auto t = s.find(twin);
        if (!t) return false;
        const auto base = s.models()->find(options.interface);
        return base && s.models()->is_a(s.twin_model(*t), *base);
    }

    /// A batch: one reading per followed twin whose settings or sensors it wrote.
    void on_batch(std::span<const graph::ChangeEvent> events, const graph::Snapshot& after) {
        std::vector<std::string> touched;
        for (const graph::ChangeEvent& e : events) {
            if (e.cause == "prognostics" || !e.relationship_id.empty()) continue;
            bool sensor = false;
            if (e.type == graph::ChangeType::twin_update && e.data.contains("patch")) {
                for (const auto& op : e.data["patch"]) {
                    const std::string* path = string_member(op, "path");
                    if (path == nullptr || path->size() < 2) continue;
                    if (column.count(path->substr(1, path->find('/', 1) - 1)) != 0) sensor = true;
                }
            } else if (e.type == graph::ChangeType::twin_create && e.data.is_object()) {
                for (const auto& [key, value] : e.data.items())
                    if (column.count(key) != 0) sensor = true;
            }
            if (sensor && std::find(touched.begin(), touched.end(), e.twin_id) == touched.end()) touched.push_back(e.twin_id);
        }
        for (const std::string& id : touched) {
            if (!followed(after, id)) continue;
            const graph::TwinIndex t = *after.find(id);
            const auto& layout = after.models()->at(after.twin_model(t)).layout;
            Reading r;
            r.twin = id;
            r.values.assign(width, std::numeric_limits<double>::quiet_NaN());
            for (const auto& [key, position] : column)
                if (const dtdl::PropertySlot* slot = layout.find(key); slot != nullptr)
                    if (const auto v = after.numeric_value(t, slot->column)) r.values[position] = *v;
            push(std::move(r));
        }
    }

    void on_telemetry(const live::Notification& n) {
        const std::string* type = string_member(n.event, "type");
        if (type == nullptr || *type != "microsoft.iot.telemetry") return;
        if (!followed(graph.snapshot(), n.partition)) return;
        const auto data = n.event.find("data");
        if (data == n.event.end() || !data->is_object()) return;
        const nlohmann::json& values = data->contains("reading") && (*data)["reading"].is_object() ? (*data)["reading"] : *data;
        Reading r;
        r.twin = n.partition;
        r.values.assign(width, std::numeric_limits<double>::quiet_NaN());
        bool any = false;
        for (const auto& [key, value] : values.items()) {
            if (!value.is_number()) continue;
            if (key == "cycle") {
                r.cycle = value.get<double>();
                continue;
            }
            if (const auto c = column.find(key); c != column.end()) {
                r.values[c->second] = value.get<double>();
                any = true;
            }
        }
        if (any) push(std::move(r));
    }

    void run() {
        for (;;) {
            std::deque<Reading> batch;
            {
                std::unique_lock lock(mutex);
                work.wait(lock, [&] { return stopping || !queue.empty(); });
                if (stopping) return;
                batch.swap(queue);
                space.notify_all();
            }
            process(batch);
            {
                std::lock_guard lock(mutex);
                processed += batch.size();
                done.notify_all();
            }
        }
    }

    void process(std::deque<Reading>& batch) {
        const HealthIndicator& hi = model->health_indicator();
        const std::size_t ns = hi.setting_count();
        std::vector<std::string> changed;
        std::uint64_t taken = 0, incomplete = 0;
        for (Reading& r : batch) {
            TwinState& s = twins[r.twin];
            if (s.last.empty()) s.last.assign(width, std::numeric_limits<double>::quiet_NaN());
            bool complete = true;
            for (std::size_t j = 0; j < width; ++j) {
                if (std::isnan(r.values[j])) r.values[j] = s.last[j];
                complete = complete && std::isfinite(r.values[j]);
            }
            const double previous = s.cycles.empty() ? 0.0 : s.cycles.back();
            const double cycle = r.cycle.value_or(previous + 1.0);
            if (!complete || !(cycle > previous)) {
                ++incomplete;
                if (complete) s.last = r.values;
                continue;
            }
            s.last = r.values;
            s.cycles.push_back(cycle);
            s.health.push_back(hi.evaluate({r.values.data(), ns}, {r.values.data() + ns, width - ns}));
            ++taken;
            if (std::find(changed.begin(), changed.end(), r.twin) == changed.end()) changed.push_back(r.twin);
        }
        std::vector<graph::TwinPatch> patches;
        std::vector<RulDistribution> results;
        for (const std::string& id : changed) {
            const TwinState& s = twins[id];
            RulDistribution d = model->predict_health(id, s.cycles, s.health);
            patches.push_back({id, prognostics_patch(d, options.horizon, s.cycles.size()), std::nullopt});
            results.push_back(std::move(d));
        }
        std::string error;
        if (!patches.empty()) {
            try {
                graph.atomically("prognostics", [&](graph::TwinGraph& g) { g.update_twins(patches); });
            } catch (const std::exception& e) {
                error = e.what();
            }
        }
        std::lock_guard lock(mutex);
        stats.readings += taken;
        stats.incomplete += incomplete;
        if (!patches.empty()) {
            ++stats.updates;
            if (error.empty()) {
                stats.twins_updated += patches.size();
            } else {
                ++stats.failures;
                stats.last_error = error;
            }
        }
        for (RulDistribution& d : results) latest[d.unit] = std::move(d);
    }
};

LivePrognostics::LivePrognostics(graph::TwinGraph& graph, std::shared_ptr<const PrognosticsModel> model,
                                 LivePrognosticsOptions options, live::EventRouter* router) {
    if (!model) throw std::invalid_argument("live prognostics: no model");
    if (!(options.horizon > 0.0) || !std::isfinite(options.horizon))
        throw std::invalid_argument("live prognostics: horizon must be > 0 cycles");
    if (options.queue_capacity == 0) throw std::invalid_argument("live prognostics: queue_capacity must be >= 1");
    if (!graph.snapshot().models()->find(options.interface))
        throw Error("live prognostics: the graph has no interface " + options.interface +
                    " (add models/equipment/degrading_equipment.json)");
    impl_ = std::make_unique<Impl>(graph, std::move(model), std::move(options));
    Impl& i = *impl_;
    const HealthIndicator& hi = i.model->health_indicator();
    for (const std::string& n : hi.setting_names()) i.column.emplace(n, i.width++);
    for (const std::string& n : hi.sensor_names()) i.column.emplace(n, i.width++);
    i.name = "twinsim-prognostics-" + std::to_string(++engine_numbers);
    i.worker = std::thread([&i] { i.run(); });
    i.listener = graph.subscribe_batches(
        [&i](std::span<const graph::ChangeEvent> events, const graph::Snapshot& after) { i.on_batch(events, after); });
    if (router != nullptr) {
        try {
            router->add_endpoint(i.name, std::make_shared<live::CallbackEndpoint>(
                                             [&i](const live::Notification& n) { i.on_telemetry(n); }));
            router->upsert_route({i.name, i.name, "type = 'microsoft.iot.telemetry'"});
            i.router = router;
        } catch (...) {
            graph.unsubscribe(i.listener);
            {
                std::lock_guard lock(i.mutex);
                i.stopping = true;
            }
            i.work.notify_all();
            i.worker.join();
            throw;
        }
    }
}

LivePrognostics::~LivePrognostics() {
    Impl& i = *impl_;
    i.graph.unsubscribe(i.listener);
    if (i.router != nullptr) {
        try {
            i.router->delete_route(i.name);
            i.router->remove_endpoint(i.name);
        } catch (...) {  // a closed router keeps its endpoints; nothing more to do
        }
    }
    {
        std::lock_guard lock(i.mutex);
        i.stopping = true;
    }
    i.work.notify_all();
    i.space.notify_all();
    i.worker.join();
}

std::size_t LivePrognostics::seed(const HistorySet& histories) {
    Impl& i = *impl_;
    const HistorySet ordered = i.model->health_indicator().reorder(histories);
    const graph::Snapshot s = i.graph.snapshot();
    std::size_t skipped = 0;
    std::vector<Reading> readings;
    for (const UnitHistory& u : ordered.units) {
        if (!i.followed(s, u.id)) {
            ++skipped;
            continue;
        }
        const std::size_t ns = ordered.setting_count(), nm = ordered.sensor_count();
        for (std::size_t k = 0; k < u.rows(); ++k) {
            Reading r;
            r.twin = u.id;
            r.cycle = u.cycles[k];
            r.values.assign(u.settings.begin() + static_cast<std::ptrdiff_t>(k * ns),
                            u.settings.begin() + static_cast<std::ptrdiff_t>((k + 1) * ns));
            r.values.insert(r.values.end(), u.sensors.begin() + static_cast<std::ptrdiff_t>(k * nm),
                            u.sensors.begin() + static_cast<std::ptrdiff_t>((k + 1) * nm));
            readings.push_back(std::move(r));
        }
    }
    i.push(readings);
    return skipped;
}

void LivePrognostics::drain() {
    Impl& i = *impl_;
    std::unique_lock lock(i.mutex);
    const std::uint64_t target = i.queued;
    i.done.wait(lock, [&] { return i.stopping || i.processed >= target; });
}

LivePrognosticsStatistics LivePrognostics::statistics() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

std::optional<RulDistribution> LivePrognostics::distribution(const std::string& twin) const {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->latest.find(twin);
    if (it == impl_->latest.end()) return std::nullopt;
    return it->second;
}

}  // namespace twinsim::models
