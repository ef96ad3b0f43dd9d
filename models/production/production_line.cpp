#include "models/production/production_line.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "models/generic/support.hpp"
#include "models/production/demand.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

constexpr const char* plant_model = "dtmi:twinsim:production:Plant;1";
constexpr const char* product_model = "dtmi:twinsim:production:Product;1";
constexpr const char* source_model = "dtmi:twinsim:production:OrderSource;1";
constexpr const char* station_model = "dtmi:twinsim:production:Station;1";
constexpr const char* pool_model = "dtmi:twinsim:production:ResourcePool;1";
constexpr const char* sink_model = "dtmi:twinsim:production:Sink;1";

const std::array<ModelParameter, 4> declared{{
    ModelParameter{"warmup", "s", "statistics start after this time (the line fills first), >= 0", 0.0}.within(0.0),
    {"report_interval", "s",
     "write the KPI properties every interval too (a series of them); \"none\": only at the horizon", "none"},
    ModelParameter{"record_wip", "",
                   "true: write the plant's and each station's wip on every change (exact time averages and Little's "
                   "law from the recorded series, at a cost in speed)",
                   false}
        .fixed_per_scenario(),
    ModelParameter{"demand", "",
                   "a CSV file of orders (release,source,product,quantity,due) released as recorded or planned, "
                   "besides any random arrivals; \"none\": no file",
                   "none"}
        .file(),
}};

struct Config {
    double warmup = 0.0;
    std::optional<double> report_interval;
    bool record_wip = false;
    std::vector<production::DemandRow> demand;
    std::string demand_file;
};

Config read_config(const scenario::Binding& binding, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    Config c;
    const std::optional<double> w = resolved ? std::optional<double>(reader.required_number("warmup")) : reader.number("warmup");
    c.warmup = w.value_or(0.0);
    if (detail::given(reader, "report_interval")) {
        c.report_interval = resolved ? std::optional<double>(reader.required_number("report_interval"))
                                     : reader.number("report_interval");
        if (c.report_interval && !(*c.report_interval > 0.0))
            throw ModelParameterError("report_interval", "must be > 0 s, found " + nlohmann::json(*c.report_interval).dump());
    }
    const nlohmann::json& wip = reader.raw("record_wip");
    if (!wip.is_boolean()) throw ModelParameterError("record_wip", "expected true or false, found " + wip.dump());
    c.record_wip = wip.get<bool>();
    if (detail::given(reader, "demand")) {
        c.demand_file = reader.string("demand");
        try {
            c.demand = production::read_demand(c.demand_file);
        } catch (const production::DemandError& e) {
            throw ModelParameterError("demand", e.what());
        }
    }
    return c;
}

/// The binding's twins by kind, in ascending twin order.
struct Elements {
    std::vector<graph::TwinIndex> plants, products, sources, stations, pools, sinks;
    std::map<graph::TwinIndex, std::uint32_t> node;     ///< station -> k, sink -> stations + k
    std::map<graph::TwinIndex, std::uint32_t> product;  ///< product twin -> index
    std::map<std::string, std::uint32_t, std::less<>> product_by_id;
    std::map<graph::TwinIndex, std::uint32_t> pool;
};

Elements classify(const graph::Snapshot& g, std::span<const graph::TwinIndex> twins) {
    const dtdl::ModelSet& models = *g.models();
    auto kind = [&](const char* id) { return models.find(id); };
    const auto plant = kind(plant_model), product = kind(product_model), source = kind(source_model),
               station = kind(station_model), pool = kind(pool_model), sink = kind(sink_model);
    Elements e;
    for (const graph::TwinIndex t : twins) {
        const dtdl::InterfaceIndex m = g.twin_model(t);
        auto is = [&](const std::optional<dtdl::InterfaceIndex>& i) { return i && models.is_a(m, *i); };
        if (is(plant)) e.plants.push_back(t);
        else if (is(product)) e.products.push_back(t);
        else if (is(source)) e.sources.push_back(t);
        else if (is(station)) e.stations.push_back(t);
        else if (is(pool)) e.pools.push_back(t);
        else if (is(sink)) e.sinks.push_back(t);
    }
    for (std::size_t k = 0; k < e.stations.size(); ++k) e.node[e.stations[k]] = static_cast<std::uint32_t>(k);
    for (std::size_t k = 0; k < e.sinks.size(); ++k)
        e.node[e.sinks[k]] = static_cast<std::uint32_t>(e.stations.size() + k);
    for (std::size_t k = 0; k < e.products.size(); ++k) {
        e.product[e.products[k]] = static_cast<std::uint32_t>(k);
        e.product_by_id[g.twin_id(e.products[k])] = static_cast<std::uint32_t>(k);
    }
    for (std::size_t k = 0; k < e.pools.size(); ++k) e.pool[e.pools[k]] = static_cast<std::uint32_t>(k);
    return e;
}

[[noreturn]] void refuse(const std::string& field, const std::string& twin, const std::string& why) {
    throw ModelParameterError(field, "twin \"" + twin + "\" " + why);
}

std::optional<double> number(const graph::Snapshot& g, graph::TwinIndex t, const char* property) {
    const std::optional<nlohmann::json> v = g.get_property(g.twin_id(t), property);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) refuse(std::string("properties.") + property, g.twin_id(t), "has a non-numeric " + std::string(property));
    return v->get<double>();
}
std::optional<std::string> text(const graph::Snapshot& g, graph::TwinIndex t, const char* property) {
    const std::optional<nlohmann::json> v = g.get_property(g.twin_id(t), property);
    if (!v || !v->is_string()) return std::nullopt;
    return v->get<std::string>();
}
std::optional<double> rel_number(const nlohmann::json& rel, const char* name, const std::string& owner, const char* rel_name) {
    const auto it = rel.find(name);
    if (it == rel.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
        refuse(std::string("relationships.") + rel_name, owner,
               "has a " + std::string(rel_name) + " relationship whose " + name + " is not a number: " + it->dump());
    return it->get<double>();
}

std::uint32_t whole(std::optional<double> v, double fallback, double min, double max, const char* property,
                    const std::string& owner) {
    const double x = v.value_or(fallback);
    if (std::floor(x) != x || x < min || x > max)
        refuse(std::string("properties.") + property, owner,
               "has " + std::string(property) + " = " + nlohmann::json(x).dump() + "; it must be a whole number from " +
                   nlohmann::json(min).dump() + " to " + nlohmann::json(max).dump());
    return static_cast<std::uint32_t>(x);
}

production::TimeSpec time_spec(const std::string& distribution, double mean, std::optional<double> cv,
                               const std::string& field, const std::string& owner) {
    const std::optional<production::TimeKind> kind = production::time_kind(distribution);
    if (!kind)
        refuse(field, owner,
               "has the distribution \"" + distribution +
                   "\"; expected exponential, deterministic, lognormal, gamma or uniform");
    production::TimeSpec t{*kind, mean, 0.0};
    if (*kind == production::TimeKind::exponential) t.cv = 1.0;
    else if (*kind != production::TimeKind::deterministic) {
        if (!cv) refuse(field, owner, "needs a cv for its " + distribution + " time");
        t.cv = *cv;
    }
    try {
        production::check_time(t);
    } catch (const std::invalid_argument& e) {
        refuse(field, owner, e.what());
    }
    return t;
}

/// Routes of a source or station along its `feeds`.
std::vector<production::Route> routes(const graph::Snapshot& g, graph::TwinIndex t, const Elements& e) {
    std::vector<production::Route> out;
    const std::string& owner = g.twin_id(t);
    for (const graph::RelationshipIndex r : g.out_relationships(t)) {
        if (g.relationship_name(r) != "feeds") continue;
        const auto node = e.node.find(g.target(r));
        if (node == e.node.end())
            refuse("relationships.feeds", owner,
                   "feeds \"" + g.twin_id(g.target(r)) + "\", which is not a station or a sink of the binding");
        const nlohmann::json rel = g.get_relationship(r);
        production::Route route;
        route.node = node->second;
        route.weight = rel_number(rel, "probability", owner, "feeds").value_or(1.0);
        if (!(route.weight > 0.0))
            refuse("relationships.feeds", owner, "feeds \"" + g.twin_id(g.target(r)) + "\" with probability <= 0");
        if (const auto it = rel.find("product"); it != rel.end() && it->is_string()) {
            const auto p = e.product_by_id.find(it->get<std::string>());
            if (p == e.product_by_id.end())
                refuse("relationships.feeds", owner,
                       "feeds \"" + g.twin_id(g.target(r)) + "\" for product \"" + it->get<std::string>() +
                           "\", which is not a product of the binding");
            route.product = static_cast<std::int32_t>(p->second);
        }
        out.push_back(route);
    }
    return out;
}

/// Everything the model needs from the graph: the spec and the twins behind its elements.
struct Built {
    production::LineSpec spec;
    Elements elements;
};

Built build(const graph::Snapshot& g, std::span<const graph::TwinIndex> twins, const Config& config,
            std::optional<Timestamp> start) {
    Built b;
    Elements& e = b.elements;
    e = classify(g, twins);
    production::LineSpec& spec = b.spec;
    spec.warmup = config.warmup;
    if (e.products.empty())
        throw ModelParameterError("where", "the binding selects no Product twin (dtmi:twinsim:production:Product;1)");
    if (e.sinks.empty()) throw ModelParameterError("where", "the binding selects no Sink twin");
    if (e.plants.size() > 1)
        throw ModelParameterError("where", "the binding selects " + std::to_string(e.plants.size()) +
                                               " Plant twins; one plant per binding (bind each plant separately)");
    for (const graph::TwinIndex p : e.products) spec.products.push_back(g.twin_id(p));
    const std::size_t n_products = e.products.size();

    for (const graph::TwinIndex t : e.pools) {
        const std::string& id = g.twin_id(t);
        const double size = whole(number(g, t, "size"), -1.0, 0.0, 1e6, "size", id);
        const double on_shift = number(g, t, "onShift").value_or(1.0);
        if (!(on_shift >= 0.0 && on_shift <= 1.0))
            refuse("properties.onShift", id, "has onShift = " + nlohmann::json(on_shift).dump() + "; it must be in [0, 1]");
        spec.pools.push_back({id, static_cast<std::uint32_t>(std::floor(size * on_shift + 1e-9))});
    }
    for (const graph::TwinIndex t : e.sinks) spec.sinks.push_back({g.twin_id(t)});
    for (const graph::TwinIndex t : e.stations) {
        const std::string& id = g.twin_id(t);
        production::StationSpec s;
        s.id = id;
        s.machines = whole(number(g, t, "machines"), 1.0, 1.0, 1e5, "machines", id);
        const double buffer = number(g, t, "bufferCapacity").value_or(-1.0);
        if (std::floor(buffer) != buffer || buffer < -1.0 || buffer > 1e12)
            refuse("properties.bufferCapacity", id,
                   "has bufferCapacity = " + nlohmann::json(buffer).dump() + "; it must be a whole number >= 0, or -1 for unlimited");
        s.buffer = static_cast<std::int64_t>(buffer);
        s.batch = whole(number(g, t, "batchSize"), 1.0, 1.0, 1e5, "batchSize", id);
        s.process.assign(n_products, production::TimeSpec{});
        s.setup.assign(n_products, 0.0);
        const std::optional<double> default_mean = number(g, t, "meanProcessTime");
        const std::string default_distribution = text(g, t, "processDistribution").value_or("exponential");
        const std::optional<double> default_cv = number(g, t, "processCv");
        if (default_mean)
            for (std::size_t p = 0; p < n_products; ++p)
                s.process[p] = time_spec(default_distribution, *default_mean, default_cv, "properties.meanProcessTime", id);
        for (const graph::RelationshipIndex r : g.out_relationships(t)) {
            const std::string& name = g.relationship_name(r);
            if (name == "uses") {
                const auto pool = e.pool.find(g.target(r));
                if (pool == e.pool.end())
                    refuse("relationships.uses", id,
                           "uses \"" + g.twin_id(g.target(r)) + "\", which is not a ResourcePool of the binding");
                s.pools.push_back(pool->second);
            } else if (name == "processes") {
                const auto p = e.product.find(g.target(r));
                if (p == e.product.end())
                    refuse("relationships.processes", id,
                           "processes \"" + g.twin_id(g.target(r)) + "\", which is not a Product of the binding");
                const nlohmann::json rel = g.get_relationship(r);
                const std::optional<double> mean = rel_number(rel, "meanTime", id, "processes");
                if (!mean)
                    refuse("relationships.processes", id,
                           "processes \"" + g.twin_id(g.target(r)) + "\" without a meanTime (seconds)");
                std::string distribution = default_distribution;
                if (const auto it = rel.find("distribution"); it != rel.end() && it->is_string())
                    distribution = it->get<std::string>();
                const std::optional<double> cv = rel_number(rel, "cv", id, "processes");
                s.process[p->second] = time_spec(distribution, *mean, cv ? cv : default_cv, "relationships.processes", id);
                const double setup = rel_number(rel, "setupTime", id, "processes").value_or(0.0);
                if (!(setup >= 0.0)) refuse("relationships.processes", id, "has a setupTime < 0");
                s.setup[p->second] = setup;
            }
        }
        s.routes = routes(g, t, e);
        spec.stations.push_back(std::move(s));
    }
    for (const graph::TwinIndex t : e.sources) {
        const std::string& id = g.twin_id(t);
        production::SourceSpec s;
        s.id = id;
        const std::optional<double> rate = number(g, t, "arrivalRate");
        std::string distribution = text(g, t, "arrivalDistribution").value_or(rate ? "exponential" : "none");
        if (distribution == "saturated") {
            s.saturated = true;
        } else if (distribution != "none") {
            if (!rate || !(*rate > 0.0))
                refuse("properties.arrivalRate", id, "has " + distribution + " arrivals but no arrivalRate > 0 (orders per hour)");
            s.interarrival = time_spec(distribution, 3600.0 / *rate, number(g, t, "arrivalCv"),
                                       "properties.arrivalDistribution", id);
        }
        s.quantity = whole(number(g, t, "orderQuantity"), 1.0, 1.0, 1e6, "orderQuantity", id);
        if (const std::optional<double> due = number(g, t, "dueHours")) {
            if (!(*due >= 0.0)) refuse("properties.dueHours", id, "has dueHours < 0");
            s.due_allowance = *due * 3600.0;
        }
        std::vector<double> mix(n_products, 0.0);
        bool any = false;
        for (const graph::RelationshipIndex r : g.out_relationships(t)) {
            if (g.relationship_name(r) != "releases") continue;
            const auto p = e.product.find(g.target(r));
            if (p == e.product.end())
                refuse("relationships.releases", id,
                       "releases \"" + g.twin_id(g.target(r)) + "\", which is not a Product of the binding");
            const double share = rel_number(g.get_relationship(r), "share", id, "releases").value_or(1.0);
            if (!(share >= 0.0)) refuse("relationships.releases", id, "releases a product with a share < 0");
            mix[p->second] += share;
            any = true;
        }
        if (any) {
            s.mix = std::move(mix);
        } else if (n_products > 1 && (s.saturated || s.interarrival.kind != production::TimeKind::none)) {
            refuse("relationships.releases", id,
                   "has random orders but no releases relationship, and the line has several products: say which");
        }
        s.routes = routes(g, t, e);
        spec.sources.push_back(std::move(s));
    }
    // The demand file: names checked always, times placed once the start is known.
    std::map<std::string, std::uint32_t, std::less<>> source_by_id;
    for (std::size_t i = 0; i < e.sources.size(); ++i) source_by_id[g.twin_id(e.sources[i])] = static_cast<std::uint32_t>(i);
    std::vector<std::pair<double, production::OrderRelease>> orders;
    for (const production::DemandRow& row : config.demand) {
        const std::string where = config.demand_file + ":" + std::to_string(row.line);
        const auto s = source_by_id.find(row.source);
        if (s == source_by_id.end())
            throw ModelParameterError("demand", where + ": source \"" + row.source + "\" is not an OrderSource of the binding");
        const auto p = e.product_by_id.find(row.product);
        if (p == e.product_by_id.end())
            throw ModelParameterError("demand", where + ": product \"" + row.product + "\" is not a Product of the binding");
        if (!start) continue;
        production::OrderRelease o;
        o.source = s->second;
        o.product = p->second;
        o.quantity = row.quantity;
        o.time = row.release.seconds_after(*start);
        if (o.time < 0.0)
            throw ModelParameterError("demand", where + ": the order is released before the scenario's start");
        if (row.due) o.due = row.due->seconds_after(*start);
        orders.emplace_back(o.time, o);
    }
    std::stable_sort(orders.begin(), orders.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& o : orders) spec.demand.push_back(o.second);
    try {
        production::validate(spec);
    } catch (const std::invalid_argument& err) {
        throw ModelParameterError("where", std::string("the line cannot run: ") + err.what());
    }
    return b;
}

/// The KPI properties the model writes, per kind of twin.
struct Outputs {
    struct Column {
        graph::TwinIndex twin;
        std::uint32_t column;
    };
    std::vector<std::vector<Column>> plant, station, source, pool, sink;  // [twin][property]
};

const std::vector<const char*> plant_outputs{"throughput", "partsCompleted", "wip", "meanWip", "meanCycleTimeHours",
                                             "ordersCompleted", "ordersLate", "serviceLevel"};
const std::vector<const char*> station_outputs{
    "partsProcessed", "throughput", "utilisation", "setupFraction", "blockedFraction", "starvedFraction",
    "waitingFraction", "downFraction", "meanQueue", "meanWip", "wip", "meanWaitHours", "waitProbability",
    "meanSojournHours"};
const std::vector<const char*> source_outputs{"ordersReleased", "partsReleased", "backlog"};
const std::vector<const char*> pool_outputs{"utilisation", "present"};
const std::vector<const char*> sink_outputs{"partsCompleted", "throughput", "meanCycleTimeHours"};

std::vector<std::vector<Outputs::Column>> output_columns(const graph::Snapshot& g, const std::vector<graph::TwinIndex>& twins,
                                                         const std::vector<const char*>& properties) {
    std::vector<std::vector<Outputs::Column>> out(twins.size());
    for (const char* p : properties) {
        const std::vector<std::uint32_t> columns = scenario::numeric_columns(g, twins, p, std::string("properties.") + p);
        for (std::size_t i = 0; i < twins.size(); ++i) out[i].push_back({twins[i], columns[i]});
    }
    return out;
}

struct Tick {
    std::uint32_t final;
};
/// A station's availability (kind 0, value 0 or 1) or a pool's size (kind 1) changed.
struct Change {
    std::uint32_t kind;
    std::uint32_t index;
    double value;
};

class ProductionLineBehaviour final : public scenario::Behaviour {
public:
    ProductionLineBehaviour(const scenario::Binding& binding, Config config)
        : binding_index_(binding.index), twins_(binding.twins.begin(), binding.twins.end()), config_(std::move(config)) {}

    void start(scenario::Run& run) override {
        run_ = &run;
        const graph::Snapshot g = run.snapshot();  // after the overrides
        const Timestamp start{run.simulator().start_instant().time_since_epoch().count()};
        Built built = build(g, twins_, config_, start);
        elements_ = std::move(built.elements);
        std::vector<kernel::RandomStream> source_streams, station_streams;
        for (const graph::TwinIndex t : elements_.sources) source_streams.push_back(run.twin_stream(binding_index_, t));
        for (const graph::TwinIndex t : elements_.stations) station_streams.push_back(run.twin_stream(binding_index_, t));
        try {
            line_ = std::make_unique<production::Line>(std::move(built.spec), run.simulator(), std::move(source_streams),
                                                       std::move(station_streams));
        } catch (const std::invalid_argument& e) {
            throw Error(std::string("production_line: ") + e.what());
        }
        outputs_.plant = output_columns(g, elements_.plants, plant_outputs);
        outputs_.station = output_columns(g, elements_.stations, station_outputs);
        outputs_.source = output_columns(g, elements_.sources, source_outputs);
        outputs_.pool = output_columns(g, elements_.pools, pool_outputs);
        outputs_.sink = output_columns(g, elements_.sinks, sink_outputs);
        available_ = scenario::numeric_columns(g, elements_.stations, "available", "properties.available");
        pool_size_ = scenario::numeric_columns(g, elements_.pools, "size", "properties.size");
        pool_shift_ = scenario::numeric_columns(g, elements_.pools, "onShift", "properties.onShift");

        if (config_.record_wip) {
            // Written from time 0, so a recorded series' time average covers the whole run.
            writes_.clear();
            if (!outputs_.plant.empty()) writes_.push_back({outputs_.plant[0][2].twin, outputs_.plant[0][2].column, 0.0, std::nullopt});
            for (const auto& c : outputs_.station) writes_.push_back({c[10].twin, c[10].column, 0.0, std::nullopt});
            if (!writes_.empty()) run.write(writes_);
            plant_wip_ = outputs_.plant.empty() ? nullptr : &outputs_.plant[0][2];
            line_->on_wip([this](std::int32_t node, std::int64_t wip) {
                if (node < 0) {
                    if (plant_wip_ != nullptr) run_->write(plant_wip_->twin, plant_wip_->column, static_cast<double>(wip));
                } else {
                    const Outputs::Column& c = outputs_.station[static_cast<std::size_t>(node)][10];
                    run_->write(c.twin, c.column, static_cast<double>(wip));
                }
            });
        }
        line_->start();
        for (std::uint32_t s = 0; s < elements_.stations.size(); ++s) {
            const std::optional<double> a = run.value(elements_.stations[s], available_[s]);
            if (a && !(*a > 0.0)) line_->set_station_up(s, false);
        }
        change_ = run.simulator().on<Change>([this](kernel::Simulator&, const Change& c) {
            if (c.kind == 0) line_->set_station_up(c.index, c.value > 0.0);
            else line_->set_pool_size(c.index, static_cast<std::uint32_t>(c.value));
        });
        run.on_write([this](graph::TwinIndex twin, std::uint32_t column) { written(twin, column); });
        kernel::Simulator& sim = run.simulator();
        tick_ = sim.on<Tick>([this](kernel::Simulator&, const Tick& t) { report(t.final != 0); });
        if (config_.report_interval && std::isfinite(run.horizon()))
            for (double t = *config_.report_interval; t < run.horizon(); t += *config_.report_interval)
                sim.schedule_at(tick_, t, Tick{0}, kernel::max_priority - 1);
        if (std::isfinite(run.horizon()) && run.horizon() >= sim.now())
            sim.schedule_at(tick_, run.horizon(), Tick{1}, kernel::max_priority - 1);
    }

    [[nodiscard]] const production::Line* line() const noexcept { return line_.get(); }

private:
    void written(graph::TwinIndex twin, std::uint32_t column) {
        if (reporting_) return;
        const auto at = std::lower_bound(elements_.stations.begin(), elements_.stations.end(), twin);
        if (at != elements_.stations.end() && *at == twin) {
            const auto s = static_cast<std::uint32_t>(at - elements_.stations.begin());
            if (column != available_[s]) return;
            const std::optional<double> a = run_->value(twin, column);
            // Applied by a kernel event now, not inside the writer's call.
            run_->simulator().schedule(change_, 0.0, Change{0, s, (!a || *a > 0.0) ? 1.0 : 0.0});
            return;
        }
        const auto p = std::lower_bound(elements_.pools.begin(), elements_.pools.end(), twin);
        if (p == elements_.pools.end() || *p != twin) return;
        const auto k = static_cast<std::uint32_t>(p - elements_.pools.begin());
        if (column != pool_size_[k] && column != pool_shift_[k]) return;
        const std::optional<double> size = run_->value(twin, pool_size_[k]);
        const double shift = run_->value(twin, pool_shift_[k]).value_or(1.0);
        const std::string& id = run_->base().twin_id(twin);
        if (!size || std::floor(*size) != *size || *size < 0.0 || *size > 1e6)
            throw Error(detail::twin_message("production_line", id, "size must be a whole number from 0 to 1,000,000"));
        if (!(shift >= 0.0 && shift <= 1.0))
            throw Error(detail::twin_message("production_line", id,
                                             "onShift is " + nlohmann::json(shift).dump() + "; it must be in [0, 1]"));
        run_->simulator().schedule(change_, 0.0, Change{1, k, std::floor(*size * shift + 1e-9)});
    }

    void report(bool final) {
        (void)final;
        writes_.clear();
        auto put = [&](const Outputs::Column& c, double v) {
            writes_.push_back(graph::PropertyWrite{c.twin, c.column, v, std::nullopt});
        };
        const production::PlantStatistics plant = line_->plant();
        if (!outputs_.plant.empty()) {
            const auto& c = outputs_.plant[0];
            put(c[0], plant.throughput * 3600.0);
            put(c[1], static_cast<double>(plant.parts_out));
            put(c[2], static_cast<double>(plant.wip));
            put(c[3], plant.mean_wip);
            put(c[4], plant.mean_cycle / 3600.0);
            put(c[5], static_cast<double>(plant.orders_completed));
            put(c[6], static_cast<double>(plant.orders_late));
            put(c[7], plant.service_level);
        }
        for (std::uint32_t s = 0; s < outputs_.station.size(); ++s) {
            const production::StationStatistics x = line_->station(s);
            const auto& c = outputs_.station[s];
            put(c[0], static_cast<double>(x.parts));
            put(c[1], plant.elapsed > 0.0 ? static_cast<double>(x.parts) / plant.elapsed * 3600.0 : 0.0);
            put(c[2], x.utilisation);
            put(c[3], x.setup);
            put(c[4], x.blocked);
            put(c[5], x.starved);
            put(c[6], x.waiting);
            put(c[7], x.down);
            put(c[8], x.mean_queue);
            put(c[9], x.mean_wip);
            put(c[10], static_cast<double>(x.wip));
            put(c[11], x.mean_wait / 3600.0);
            put(c[12], x.wait_probability);
            put(c[13], x.mean_sojourn / 3600.0);
        }
        for (std::uint32_t i = 0; i < outputs_.source.size(); ++i) {
            const production::SourceStatistics x = line_->source(i);
            const auto& c = outputs_.source[i];
            put(c[0], static_cast<double>(x.orders));
            put(c[1], static_cast<double>(x.parts));
            put(c[2], static_cast<double>(x.backlog));
        }
        for (std::uint32_t p = 0; p < outputs_.pool.size(); ++p) {
            const production::PoolStatistics x = line_->pool(p);
            put(outputs_.pool[p][0], x.utilisation);
            put(outputs_.pool[p][1], static_cast<double>(x.present));
        }
        for (std::uint32_t k = 0; k < outputs_.sink.size(); ++k) {
            const production::SinkStatistics x = line_->sink(k);
            const auto& c = outputs_.sink[k];
            put(c[0], static_cast<double>(x.parts));
            put(c[1], x.throughput * 3600.0);
            put(c[2], x.mean_cycle / 3600.0);
        }
        reporting_ = true;
        run_->write(writes_);
        reporting_ = false;
    }

    std::size_t binding_index_;
    std::vector<graph::TwinIndex> twins_;
    Config config_;
    Elements elements_;
    Outputs outputs_;
    std::vector<std::uint32_t> available_, pool_size_, pool_shift_;
    std::unique_ptr<production::Line> line_;
    scenario::Run* run_ = nullptr;
    const Outputs::Column* plant_wip_ = nullptr;
    std::vector<graph::PropertyWrite> writes_;
    kernel::EventType<Tick> tick_{};
    kernel::EventType<Change> change_{};
    bool reporting_ = false;
};

}  // namespace

std::string_view ProductionLineModel::description() const {
    return "A production line from the twin graph: order sources (random arrivals, saturated, or a demand file), "
           "stations of parallel machines with finite buffers (blocking after service), setups, batches, shared "
           "operator and tool pools following shift calendars, failures through `availability`, routing along feeds "
           "by product or probability, sinks; writes throughput, WIP, cycle time, utilisation, blocking, starving "
           "and service-level KPIs to the twins.";
}

std::span<const scenario::ModelParameter> ProductionLineModel::parameters() const { return declared; }

std::vector<scenario::PropertyUse> ProductionLineModel::properties(const scenario::Binding& binding) const {
    (void)binding;
    return {};  // every property is checked by build() with the twin named
}

void ProductionLineModel::check(const scenario::Binding& binding) const {
    const Config c = read_config(binding, false);
    (void)build(detail::binding_graph(binding), binding.twins, c, std::nullopt);
}

std::unique_ptr<scenario::Behaviour> ProductionLineModel::instantiate(const scenario::Binding& binding,
                                                                      scenario::Run& run) const {
    detail::require_ascending(binding);
    (void)run;
    return std::make_unique<ProductionLineBehaviour>(binding, read_config(binding, true));
}

const production::Line* production_line(const scenario::Behaviour& behaviour) {
    const auto* b = dynamic_cast<const ProductionLineBehaviour*>(&behaviour);
    return b != nullptr ? b->line() : nullptr;
}

production::LineSpec production_line_spec(const graph::Snapshot& graph, std::span<const graph::TwinIndex> twins,
                                          const nlohmann::json& parameters, Timestamp start) {
    scenario::Binding binding;
    binding.parameters = parameters;
    binding.twins = twins;
    binding.graph = &graph;
    return build(graph, twins, read_config(binding, true), start).spec;
}

}  // namespace twinsim::models
