#include "models/production/line.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "twinsim/kernel/distributions.hpp"

namespace twinsim::models::production {

std::optional<TimeKind> time_kind(std::string_view name) {
    if (name == "deterministic" || name == "fixed") return TimeKind::deterministic;
    if (name == "exponential") return TimeKind::exponential;
    if (name == "lognormal") return TimeKind::lognormal;
    if (name == "gamma") return TimeKind::gamma;
    if (name == "uniform") return TimeKind::uniform;
    return std::nullopt;
}

std::string_view time_kind_name(TimeKind kind) {
    switch (kind) {
        case TimeKind::none: return "none";
        case TimeKind::deterministic: return "deterministic";
        case TimeKind::exponential: return "exponential";
        case TimeKind::lognormal: return "lognormal";
        case TimeKind::gamma: return "gamma";
        case TimeKind::uniform: return "uniform";
    }
    return "none";
}

void check_time(const TimeSpec& t) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(std::string(time_kind_name(t.kind)) + " time with mean " +
                                    nlohmann::json(t.mean).dump() + " s and cv " + nlohmann::json(t.cv).dump() +
                                    ": " + why);
    };
    if (!std::isfinite(t.mean) || !std::isfinite(t.cv)) fail("the mean and cv must be finite");
    switch (t.kind) {
        case TimeKind::none: return;
        case TimeKind::deterministic:
            if (t.mean < 0.0) fail("the time must be >= 0");
            return;
        case TimeKind::exponential:
            if (!(t.mean > 0.0)) fail("the mean must be > 0");
            return;
        case TimeKind::lognormal:
        case TimeKind::gamma:
            if (!(t.mean > 0.0) || !(t.cv > 0.0)) fail("the mean and cv must be > 0");
            return;
        case TimeKind::uniform:
            if (!(t.mean > 0.0) || t.cv < 0.0 || t.cv > 1.0 / std::sqrt(3.0) + 1e-12)
                fail("the mean must be > 0 and the cv in [0, 1/sqrt(3)] (a uniform time cannot be negative)");
            return;
    }
}

namespace {

/// A sampler for one TimeSpec: the kernel's distributions, built once.
class Sampler {
public:
    Sampler() = default;
    explicit Sampler(const TimeSpec& t) : kind_(t.kind), mean_(t.mean) {
        switch (t.kind) {
            case TimeKind::exponential: exponential_.emplace(t.mean); break;
            case TimeKind::lognormal: lognormal_.emplace(kernel::LogNormal::from_mean_sd(t.mean, t.mean * t.cv)); break;
            case TimeKind::gamma: gamma_.emplace(1.0 / (t.cv * t.cv), t.mean * t.cv * t.cv); break;
            case TimeKind::uniform: {
                const double half = t.mean * t.cv * std::sqrt(3.0);
                if (half > 0.0) uniform_.emplace(t.mean - half, t.mean + half); else kind_ = TimeKind::deterministic;
                break;
            }
            default: break;
        }
    }
    [[nodiscard]] bool defined() const noexcept { return kind_ != TimeKind::none; }
    [[gnu::always_inline]] double operator()(kernel::RandomStream& r) const noexcept {
        switch (kind_) {
            case TimeKind::exponential: return exponential_->sample(r);
            case TimeKind::lognormal: return lognormal_->sample(r);
            case TimeKind::gamma: return gamma_->sample(r);
            case TimeKind::uniform: return uniform_->sample(r);
            default: return mean_;
        }
    }

private:
    TimeKind kind_ = TimeKind::none;
    double mean_ = 0.0;
    std::optional<kernel::Exponential> exponential_;
    std::optional<kernel::LogNormal> lognormal_;
    std::optional<kernel::Gamma> gamma_;
    std::optional<kernel::Uniform> uniform_;
};

/// A FIFO of 32-bit ids in a ring that only grows (no allocation in steady state).
class Fifo {
public:
    Fifo() = default;
    Fifo(Fifo&&) noexcept = default;  // the buffer moves with ring_, so data_ stays valid
    Fifo& operator=(Fifo&&) noexcept = default;
    Fifo(const Fifo&) = delete;       // a copy would point into the original's buffer
    Fifo& operator=(const Fifo&) = delete;
    ~Fifo() = default;
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void push(std::uint32_t x) {
        if (size_ == capacity_) [[unlikely]] grow();
        data_[(head_ + size_) & mask_] = x;
        ++size_;
    }
    std::uint32_t pop() noexcept {
        const std::uint32_t x = data_[head_];
        head_ = (head_ + 1) & mask_;
        --size_;
        return x;
    }
    [[nodiscard]] std::uint32_t at(std::size_t i) const noexcept { return data_[(head_ + i) & mask_]; }
    /// Removes the i-th element, keeping the order of the others.
    void erase(std::size_t i) noexcept {
        for (std::size_t k = i; k + 1 < size_; ++k) data_[(head_ + k) & mask_] = at(k + 1);
        --size_;
    }

private:
    [[gnu::noinline]] void grow() {
        std::vector<std::uint32_t> bigger(ring_.empty() ? 16 : 2 * ring_.size());
        for (std::size_t i = 0; i < size_; ++i) bigger[i] = at(i);
        ring_ = std::move(bigger);
        head_ = 0;
        data_ = ring_.data();
        capacity_ = ring_.size();
        mask_ = capacity_ - 1;
    }
    std::vector<std::uint32_t> ring_;
    std::uint32_t* data_ = nullptr;  ///< ring_.data(), capacity_ = ring_.size() (a power of two), mask_ = capacity_ - 1
    std::size_t capacity_ = 0;
    std::size_t mask_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/// Walks the routes of a node for one product: the targets and cumulative weights.
struct RouteTable {
    std::vector<std::uint32_t> targets;
    std::vector<double> cumulative;  ///< ascending, last = 1
};

RouteTable route_table(const std::vector<Route>& routes, std::uint32_t product) {
    RouteTable t;
    std::vector<double> weights;
    for (const Route& r : routes)
        if (r.product == static_cast<std::int32_t>(product)) t.targets.push_back(r.node), weights.push_back(r.weight);
    if (t.targets.empty())
        for (const Route& r : routes)
            if (r.product < 0) t.targets.push_back(r.node), weights.push_back(r.weight);
    double total = 0.0;
    for (const double w : weights) total += w;
    double sum = 0.0;
    for (const double w : weights) t.cumulative.push_back((sum += w) / total);
    if (!t.cumulative.empty()) t.cumulative.back() = 1.0;
    return t;
}

std::string node_name(const LineSpec& spec, std::uint32_t node) {
    if (node < spec.stations.size()) return "station \"" + spec.stations[node].id + "\"";
    return "sink \"" + spec.sinks[node - spec.stations.size()].id + "\"";
}

constexpr std::uint32_t none32 = 0xFFFFFFFFu;

}  // namespace

nlohmann::json LineSpec::to_json() const {
    auto time = [](const TimeSpec& t) {
        return nlohmann::json{{"kind", time_kind_name(t.kind)}, {"mean", t.mean}, {"cv", t.cv}};
    };
    auto routes = [](const std::vector<Route>& rs) {
        nlohmann::json out = nlohmann::json::array();
        for (const Route& r : rs) out.push_back({{"node", r.node}, {"product", r.product}, {"weight", r.weight}});
        return out;
    };
    nlohmann::json j{{"products", products}, {"warmup", warmup}};
    j["sources"] = nlohmann::json::array();
    for (const SourceSpec& s : sources)
        j["sources"].push_back({{"id", s.id},
                                {"interarrival", time(s.interarrival)},
                                {"saturated", s.saturated},
                                {"quantity", s.quantity},
                                {"mix", s.mix},
                                {"due_allowance", std::isfinite(s.due_allowance) ? nlohmann::json(s.due_allowance)
                                                                                  : nlohmann::json(nullptr)},
                                {"routes", routes(s.routes)}});
    j["stations"] = nlohmann::json::array();
    for (const StationSpec& s : stations) {
        nlohmann::json process = nlohmann::json::array();
        for (const TimeSpec& t : s.process) process.push_back(time(t));
        j["stations"].push_back({{"id", s.id},
                                 {"machines", s.machines},
                                 {"buffer", s.buffer},
                                 {"process", process},
                                 {"setup", s.setup},
                                 {"batch", s.batch},
                                 {"pools", s.pools},
                                 {"routes", routes(s.routes)}});
    }
    j["sinks"] = nlohmann::json::array();
    for (const SinkSpec& s : sinks) j["sinks"].push_back({{"id", s.id}});
    j["pools"] = nlohmann::json::array();
    for (const PoolSpec& p : pools) j["pools"].push_back({{"id", p.id}, {"size", p.size}});
    j["demand"] = nlohmann::json::array();
    for (const OrderRelease& o : demand)
        j["demand"].push_back({o.time, o.source, o.product, o.quantity,
                               std::isfinite(o.due) ? nlohmann::json(o.due) : nlohmann::json(nullptr)});
    return j;
}

void validate(const LineSpec& spec) {
    auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
    const std::size_t n_products = spec.products.size();
    if (n_products == 0) fail("the line has no product");
    if (n_products > 65535) fail("the line has more than 65,535 products");
    if (spec.sinks.empty()) fail("the line has no sink");
    if (!std::isfinite(spec.warmup) || spec.warmup < 0.0) fail("the warm-up must be a finite time >= 0");
    const auto nodes = static_cast<std::uint32_t>(spec.stations.size() + spec.sinks.size());
    auto check_routes = [&](const std::vector<Route>& routes, const std::string& owner) {
        for (const Route& r : routes) {
            if (r.node >= nodes) fail(owner + " feeds an unknown node " + std::to_string(r.node));
            if (r.product >= static_cast<std::int32_t>(n_products)) fail(owner + " has a route for an unknown product");
            if (!(r.weight > 0.0) || !std::isfinite(r.weight))
                fail(owner + " has a route to " + node_name(spec, r.node) + " whose probability is not > 0");
        }
    };
    for (const PoolSpec& p : spec.pools)
        if (p.size > 1000000) fail("pool \"" + p.id + "\" has more than 1,000,000 units");
    for (const StationSpec& s : spec.stations) {
        const std::string owner = "station \"" + s.id + "\"";
        if (s.machines < 1 || s.machines > 100000) fail(owner + " must have between 1 and 100,000 machines");
        if (s.buffer < -1) fail(owner + ": the buffer must be >= 0, or -1 for unlimited");
        if (s.batch < 1 || s.batch > 100000) fail(owner + ": the batch size must be between 1 and 100,000");
        if (s.process.size() != n_products || s.setup.size() != n_products)
            fail(owner + ": one processing time and one setup per product");
        for (std::size_t p = 0; p < n_products; ++p) {
            try {
                check_time(s.process[p]);
            } catch (const std::invalid_argument& e) {
                fail(owner + ", product \"" + spec.products[p] + "\": " + e.what());
            }
            if (!std::isfinite(s.setup[p]) || s.setup[p] < 0.0)
                fail(owner + ", product \"" + spec.products[p] + "\": the setup time must be >= 0 s");
        }
        for (const std::uint32_t p : s.pools)
            if (p >= spec.pools.size()) fail(owner + " uses an unknown pool");
        if (s.batch > 1 && s.buffer >= 0 && static_cast<std::uint64_t>(s.buffer) < s.batch)
            fail(owner + ": a batch of " + std::to_string(s.batch) + " needs a buffer of at least " +
                 std::to_string(s.batch) + " places, found " + std::to_string(s.buffer));
        check_routes(s.routes, owner);
    }
    std::vector<std::vector<bool>> reaches(nodes, std::vector<bool>(n_products, false));
    std::vector<std::pair<std::uint32_t, std::uint32_t>> todo;  // (node, product)
    auto follow = [&](const std::vector<Route>& routes, std::uint32_t product, const std::string& owner) {
        const RouteTable t = route_table(routes, product);
        if (t.targets.empty())
            fail(owner + " has no route for product \"" + spec.products[product] +
                 "\" (feeds with that product or with none)");
        for (const std::uint32_t n : t.targets)
            if (!reaches[n][product]) reaches[n][product] = true, todo.emplace_back(n, product);
    };
    for (std::size_t i = 0; i < spec.sources.size(); ++i) {
        const SourceSpec& s = spec.sources[i];
        const std::string owner = "source \"" + s.id + "\"";
        check_routes(s.routes, owner);
        if (s.interarrival.kind != TimeKind::none) {
            try {
                check_time(s.interarrival);
            } catch (const std::invalid_argument& e) {
                fail(owner + ": " + e.what());
            }
            if (s.interarrival.kind == TimeKind::deterministic && !(s.interarrival.mean > 0.0))
                fail(owner + ": the time between orders must be > 0");
        }
        if (s.quantity < 1 || s.quantity > 1000000) fail(owner + ": the order quantity must be between 1 and 1,000,000");
        if (!s.mix.empty() && s.mix.size() != n_products) fail(owner + ": one share per product");
        double total = 0.0;
        for (const double w : s.mix) {
            if (!std::isfinite(w) || w < 0.0) fail(owner + ": product shares must be >= 0");
            total += w;
        }
        if (!s.mix.empty() && !(total > 0.0)) fail(owner + ": the product shares are all 0");
        if (!(s.due_allowance >= 0.0)) fail(owner + ": the due-date allowance must be >= 0");
        std::vector<bool> products(n_products, false);
        if (s.interarrival.kind != TimeKind::none || s.saturated) {
            if (s.mix.empty()) products[0] = true;
            for (std::size_t p = 0; p < s.mix.size(); ++p) products[p] = s.mix[p] > 0.0;
        }
        for (const OrderRelease& o : spec.demand)
            if (o.source == i && o.product < n_products) products[o.product] = true;
        for (std::uint32_t p = 0; p < n_products; ++p)
            if (products[p]) follow(s.routes, p, owner);
        if (s.saturated) {
            if (s.interarrival.kind != TimeKind::none) fail(owner + " is saturated and also has random arrivals");
            for (const Route& r : s.routes)
                if (r.node >= spec.stations.size() || spec.stations[r.node].buffer < 0)
                    fail(owner + " is saturated: it must feed stations with a finite buffer (it would release "
                                 "parts without end), not " + node_name(spec, r.node));
        }
    }
    double last = 0.0;
    for (const OrderRelease& o : spec.demand) {
        if (o.source >= spec.sources.size() || o.product >= n_products) fail("a demand order names an unknown source or product");
        if (!std::isfinite(o.time) || o.time < last) fail("the demand orders must be in ascending time order, from 0");
        if (o.quantity < 1 || o.quantity > 1000000) fail("a demand order's quantity must be between 1 and 1,000,000");
        if (std::isnan(o.due)) fail("a demand order's due time is not a number");
        last = o.time;
    }
    while (!todo.empty()) {
        const auto [n, p] = todo.back();
        todo.pop_back();
        if (n >= spec.stations.size()) continue;
        const StationSpec& s = spec.stations[n];
        if (s.process[p].kind == TimeKind::none)
            fail("station \"" + s.id + "\" receives product \"" + spec.products[p] + "\" but has no processing time for it");
        follow(s.routes, p, "station \"" + s.id + "\"");
    }
}

// ---------------------------------------------------------------------------

struct Line::State {
    // 32-bit, not 8: a store to a char-sized field may alias any object, which
    // made the compiler reload every table pointer after each state change.
    enum : std::uint32_t { idle, loaded, busy, blocked };
    enum : std::uint32_t { ev_arrival, ev_done, ev_release, ev_warmup };
    struct Event {
        std::uint32_t kind;
        std::uint32_t a;
        std::uint32_t b;
    };
    struct Part {
        double release;
        double arrived;
        std::uint32_t order;
        std::uint32_t next;     ///< the next node, drawn when it finished at a station or left its source
        std::uint32_t product;
    };
    struct Order {
        double due;
        std::uint32_t remaining;
        std::uint32_t alive;
    };
    struct Machine {
        std::uint32_t* parts = nullptr;  ///< the job's parts: `batch` places in its station's `slots`
        std::uint32_t count = 0;         ///< parts in the job
        double remaining = 0.0;       ///< of an interrupted job; < 0: none
        double started = 0.0;
        double setup_part = 0.0;      ///< the setup share of the running job (for statistics)
        kernel::EventHandle done{};
        std::uint32_t placed = 0;     ///< parts of a finished batch already passed on
        std::uint32_t last_product = none32;
        std::uint32_t waiting_pool = none32;  ///< the pool whose queue it waits in
        std::uint32_t state = idle;
    };
    struct Counter {  // a count and its time integral since the statistics began
        double area = 0.0;
        std::int64_t n = 0;
    };
    struct Station {
        std::vector<Machine> machines;
        std::vector<std::uint32_t> slots;  ///< machines x batch places for the parts of the jobs (never resized)
        std::vector<std::uint32_t> idle;  ///< idle machines (a stack)
        Fifo queue;                       ///< waiting parts
        Fifo waiters;                     ///< holders (machines, sources) blocked on this station, in order
        std::vector<Sampler> process;
        std::int64_t capacity = 0;        ///< buffer places (max for unlimited)
        bool up = true;
        double last = 0.0;
        /// Machines per state (idle, loaded, busy, blocked), as doubles (whole
        /// numbers, exact) so that advance() needs no conversion.
        alignas(16) double n[4] = {0.0, 0.0, 0.0, 0.0};
        /// Their time integrals since the statistics began, by the same index:
        /// idle while up (starved), loaded (waiting), busy, blocked.
        alignas(16) double area[4] = {0.0, 0.0, 0.0, 0.0};
        std::int64_t wip = 0;
        std::uint32_t batch = 1;          ///< spec.stations[s].batch, kept beside the state it is read with
        std::vector<std::uint32_t> uses;  ///< spec.stations[s].pools: one unit of each held while processing
        double a_setup = 0.0, a_down = 0.0, a_queue = 0.0, a_wip = 0.0;
        std::uint64_t left = 0, started = 0, waited = 0;
        double wait_sum = 0.0, sojourn_sum = 0.0;
    };
    struct Source {
        Sampler interarrival;
        std::optional<kernel::EmpiricalDiscrete> mix;
        Fifo backlog;
        bool registered = false;          ///< in some station's waiters
        std::uint64_t orders = 0, parts = 0;
    };
    struct Pool {
        std::int64_t size = 0, in_use = 0;
        Fifo waiters;                     ///< holder ids of machines waiting for a unit
        double last = 0.0, a_busy = 0.0, a_present = 0.0;
    };
    struct Sink {
        std::uint64_t parts = 0;
        double cycle_sum = 0.0;
    };

    LineSpec spec;
    kernel::Simulator& sim;
    std::vector<kernel::RandomStream> source_streams;
    std::vector<kernel::RandomStream> station_streams;
    std::vector<Station> stations;
    std::vector<Source> sources;
    std::vector<Pool> pools;
    std::vector<Sink> sinks;
    /// Route tables: [node or source][product]; sources after the stations.
    std::vector<std::vector<RouteTable>> tables;
    /// [table * products + product]: the one target when a table has a single
    /// route (most), none32 when the draw must walk the table.
    std::vector<std::uint32_t> single_route;
    std::uint32_t n_products = 0;
    std::uint32_t n_stations = 0;  ///< stations.size(): nodes from here on are sinks
    std::vector<Part> parts;
    std::vector<std::uint32_t> free_parts;
    std::vector<Order> orders;
    std::vector<std::uint32_t> free_orders;
    /// (station, machine) pairs packed into the 32-bit ids of the FIFOs.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> holders;  ///< id -> (station or source flag, machine)
    std::vector<std::vector<std::uint32_t>> holder_id;              ///< [station][machine] -> id
    std::vector<std::uint32_t> source_holder;                        ///< [source] -> id
    kernel::EventType<Event> type{};
    std::function<void(std::int32_t, std::int64_t)> wip_listener;
    double since = 0.0;           ///< statistics start
    double plant_last = 0.0, plant_area = 0.0;
    std::int64_t plant_wip = 0;
    std::uint64_t parts_out = 0, orders_completed = 0, orders_late = 0;
    double cycle_sum = 0.0;
    std::size_t next_release = 0;

    State(LineSpec line, kernel::Simulator& simulator, std::vector<kernel::RandomStream> for_sources,
          std::vector<kernel::RandomStream> for_stations)
        : spec(std::move(line)),
          sim(simulator),
          source_streams(std::move(for_sources)),
          station_streams(std::move(for_stations)) {
        validate(spec);
        if (source_streams.size() != spec.sources.size() || station_streams.size() != spec.stations.size())
            throw std::invalid_argument("production line: one random stream per source and per station");
        n_products = static_cast<std::uint32_t>(spec.products.size());
        n_stations = static_cast<std::uint32_t>(spec.stations.size());
        stations.resize(spec.stations.size());
        holder_id.resize(spec.stations.size());
        for (std::size_t i = 0; i < spec.stations.size(); ++i) {
            const StationSpec& ss = spec.stations[i];
            Station& st = stations[i];
            st.machines.resize(ss.machines);
            st.slots.assign(static_cast<std::size_t>(ss.machines) * ss.batch, 0);
            for (std::uint32_t m = 0; m < ss.machines; ++m) {
                st.machines[m].parts = st.slots.data() + static_cast<std::size_t>(m) * ss.batch;
                st.idle.push_back(ss.machines - 1 - m);  // machine 0 on top
                holder_id[i].push_back(static_cast<std::uint32_t>(holders.size()));
                holders.emplace_back(static_cast<std::uint32_t>(i), m);
            }
            st.n[idle] = static_cast<double>(ss.machines);
            st.batch = ss.batch;
            st.uses = ss.pools;
            st.capacity = ss.buffer < 0 ? std::numeric_limits<std::int64_t>::max() : ss.buffer;
            for (const TimeSpec& t : ss.process) st.process.emplace_back(t);
        }
        sources.resize(spec.sources.size());
        for (std::size_t i = 0; i < spec.sources.size(); ++i) {
            const SourceSpec& ss = spec.sources[i];
            if (ss.interarrival.kind != TimeKind::none) sources[i].interarrival = Sampler(ss.interarrival);
            if (!ss.mix.empty()) sources[i].mix.emplace(ss.mix);
            source_holder.push_back(static_cast<std::uint32_t>(holders.size()));
            holders.emplace_back(none32, static_cast<std::uint32_t>(i));
        }
        pools.resize(spec.pools.size());
        for (std::size_t p = 0; p < spec.pools.size(); ++p) pools[p].size = spec.pools[p].size;
        sinks.resize(spec.sinks.size());
        for (const StationSpec& ss : spec.stations) {
            std::vector<RouteTable> t;
            for (std::uint32_t p = 0; p < n_products; ++p) t.push_back(route_table(ss.routes, p));
            tables.push_back(std::move(t));
        }
        for (const SourceSpec& ss : spec.sources) {
            std::vector<RouteTable> t;
            for (std::uint32_t p = 0; p < n_products; ++p) t.push_back(route_table(ss.routes, p));
            tables.push_back(std::move(t));
        }
        for (const std::vector<RouteTable>& per_product : tables)
            for (const RouteTable& t : per_product) single_route.push_back(t.targets.size() == 1 ? t.targets[0] : none32);
        since = plant_last = sim.now();
        for (Station& st : stations) st.last = since;
        for (Pool& p : pools) p.last = since;
    }

    // --- statistics ---------------------------------------------------------
    // The time averages move on only when the clock did (now > last, the same
    // test as dt > 0 for finite times): the test inline, the update out of line,
    // since most calls come at a time already accounted for.
    [[gnu::always_inline]] void advance(Station& st) {
        if (sim.now() > st.last) advance_to_now(st);
    }
    [[gnu::noinline]] void advance_to_now(Station& st) {
        const double now = sim.now();
        const double dt = now - st.last;
        if (st.up) [[likely]] {
            for (int k = 0; k < 4; ++k) st.area[k] += st.n[k] * dt;
        } else {
            for (int k = 1; k < 4; ++k) st.area[k] += st.n[k] * dt;  // idle while down is not starved
            st.a_down += dt;
        }
        st.a_queue += static_cast<double>(static_cast<std::int64_t>(st.queue.size())) * dt;
        st.a_wip += static_cast<double>(st.wip) * dt;
        st.last = now;
    }
    [[gnu::always_inline]] void advance(Pool& p) {
        const double now = sim.now();
        if (now > p.last) {
            const double dt = now - p.last;
            p.a_busy += static_cast<double>(p.in_use) * dt;
            p.a_present += static_cast<double>(p.size) * dt;
            p.last = now;
        }
    }
    void change_plant_wip(std::int64_t delta) {
        const double now = sim.now();
        plant_area += static_cast<double>(plant_wip) * (now - plant_last);
        plant_last = now;
        plant_wip += delta;
        if (wip_listener) wip_listener(-1, plant_wip);
    }
    void change_station_wip(std::uint32_t s, std::int64_t delta) {
        stations[s].wip += delta;
        if (wip_listener) wip_listener(static_cast<std::int32_t>(s), stations[s].wip);
    }
    void set_state(Station& st, Machine& m, std::uint32_t to) {
        st.n[m.state] -= 1.0;
        st.n[to] += 1.0;
        m.state = to;
    }
    void reset_statistics() {
        const double now = sim.now();
        since = now;
        for (Station& st : stations) {
            advance(st);
            for (double& a : st.area) a = 0.0;
            st.a_setup = st.a_down = st.a_queue = st.a_wip = 0.0;
            st.left = st.started = st.waited = 0;
            st.wait_sum = st.sojourn_sum = 0.0;
            // A job running across the warm-up counts its setup share from now on only.
            for (Machine& m : st.machines)
                if (m.state == busy && m.started < now) {
                    const double setup_end = m.started + m.setup_part;
                    m.setup_part = std::max(0.0, setup_end - now);
                    m.started = now;
                }
        }
        for (Pool& p : pools) {
            advance(p);
            p.a_busy = p.a_present = 0.0;
        }
        for (Source& s : sources) s.orders = s.parts = 0;
        for (Sink& k : sinks) k.parts = 0, k.cycle_sum = 0.0;
        plant_area = 0.0;
        plant_last = now;
        parts_out = orders_completed = orders_late = 0;
        cycle_sum = 0.0;
    }

    // --- parts and orders ------------------------------------------------------
    std::uint32_t new_order(double due, std::uint32_t quantity) {
        std::uint32_t id;
        if (!free_orders.empty()) {
            id = free_orders.back();
            free_orders.pop_back();
        } else {
            id = static_cast<std::uint32_t>(orders.size());
            orders.emplace_back();
        }
        orders[id] = Order{due, quantity, 1};
        return id;
    }
    std::uint32_t new_part(std::uint32_t product, std::uint32_t order) {
        std::uint32_t id;
        if (!free_parts.empty()) {
            id = free_parts.back();
            free_parts.pop_back();
        } else {
            id = static_cast<std::uint32_t>(parts.size());
            parts.emplace_back();
        }
        parts[id] = Part{sim.now(), sim.now(), order, none32, product};
        return id;
    }
    std::uint32_t draw_route(std::size_t table, std::uint32_t product, kernel::RandomStream& r) {
        const std::uint32_t only = single_route[table * n_products + product];
        if (only != none32) return only;
        const RouteTable& t = tables[table][product];
        const double u = r.uniform01();
        std::size_t k = 0;
        while (u >= t.cumulative[k]) ++k;
        return t.targets[k];
    }

    // --- flow ---------------------------------------------------------------------
    [[nodiscard]] bool can_accept(std::uint32_t node) const {
        if (node >= n_stations) return true;  // a sink
        const Station& st = stations[node];
        if (static_cast<std::int64_t>(st.queue.size()) < st.capacity) return true;
        return st.batch == 1 && st.up && !st.idle.empty() && st.queue.empty();
    }

    /// A part enters `node` (the caller checked can_accept).
    [[gnu::always_inline]] void arrive(std::uint32_t id, std::uint32_t node) {
        if (node >= n_stations) {
            finish(id, node - n_stations);
            return;
        }
        Station& st = stations[node];
        advance(st);
        parts[id].arrived = sim.now();
        change_station_wip(node, +1);
        st.queue.push(id);
        load(node);
    }

    void finish(std::uint32_t id, std::uint32_t sink) {
        const Part& part = parts[id];
        const double now = sim.now();
        Sink& k = sinks[sink];
        ++k.parts;
        k.cycle_sum += now - part.release;
        ++parts_out;
        cycle_sum += now - part.release;
        change_plant_wip(-1);
        Order& o = orders[part.order];
        if (--o.remaining == 0) {
            ++orders_completed;
            if (now > o.due) ++orders_late;
            o.alive = 0;
            free_orders.push_back(part.order);
        }
        free_parts.push_back(id);
    }

    /// Idle machines of an up station take waiting parts (batches of one product).
    [[gnu::always_inline]] void load(std::uint32_t s) {
        const Station& st = stations[s];
        if (st.up && !st.idle.empty() && !st.queue.empty()) load_waiting(s);
    }
    void load_waiting(std::uint32_t s) {
        Station& st = stations[s];
        bool freed = false;
        while (st.up && !st.idle.empty() && !st.queue.empty()) {
            const std::uint32_t m = st.idle.back();
            Machine& machine = st.machines[m];
            if (st.batch == 1) {
                machine.parts[machine.count++] = st.queue.pop();
            } else {
                // The batch of the oldest waiting part's product, when complete, or
                // as many as wait when the buffer is full (else a full buffer of
                // mixed products would never form a batch and block the line).
                const std::uint32_t product = parts[st.queue.at(0)].product;
                std::uint32_t found = 0;
                for (std::size_t i = 0; i < st.queue.size() && found < st.batch; ++i)
                    if (parts[st.queue.at(i)].product == product) ++found;
                if (found < st.batch && static_cast<std::int64_t>(st.queue.size()) < st.capacity) break;
                for (std::size_t i = 0; machine.count < found;) {
                    if (parts[st.queue.at(i)].product == product) {
                        machine.parts[machine.count++] = st.queue.at(i);
                        st.queue.erase(i);
                    } else {
                        ++i;
                    }
                }
            }
            st.idle.pop_back();
            machine.remaining = -1.0;
            freed = true;
            start_machine(s, m);  // loaded, or busy at once (no time passes between)
        }
        if (freed) unblock(s);
    }

    /// A loaded machine starts (or resumes) its job when its station is up
    /// and every pool it uses has a unit free; else it waits in the first
    /// pool that has none.
    [[gnu::always_inline]] void start_machine(std::uint32_t s, std::uint32_t m) {
        Station& st = stations[s];
        Machine& machine = st.machines[m];
        if (!st.up) {
            set_state(st, machine, loaded);
            return;
        }
        const StationSpec& ss = spec.stations[s];
        for (const std::uint32_t p : st.uses)
            if (pools[p].in_use >= pools[p].size) {
                set_state(st, machine, loaded);
                machine.waiting_pool = p;
                pools[p].waiters.push(holder_id[s][m]);
                return;
            }
        for (const std::uint32_t p : st.uses) {
            advance(pools[p]);
            ++pools[p].in_use;
        }
        advance(st);
        const double now = sim.now();
        double duration;
        if (machine.remaining >= 0.0) {
            duration = machine.remaining;  // resuming after a repair
        } else {
            const std::uint32_t product = parts[machine.parts[0]].product;
            const double setup = machine.last_product != none32 && machine.last_product != product ? ss.setup[product] : 0.0;
            machine.setup_part = setup;
            duration = setup + st.process[product](station_streams[s]);
            machine.last_product = product;
            if (now >= since)
                for (const std::uint32_t id : std::span(machine.parts, machine.count)) {
                    const double w = now - parts[id].arrived;
                    ++st.started;
                    st.wait_sum += w;
                    st.waited += static_cast<std::uint64_t>(w > 0.0);  // no branch: waits come at random
                }
        }
        machine.started = now;
        machine.remaining = -1.0;
        set_state(st, machine, busy);
        machine.done = sim.schedule(type, duration, Event{ev_done, s, m});
    }

    [[gnu::always_inline]] void release_pools(std::uint32_t s) {
        for (const std::uint32_t p : stations[s].uses) {
            advance(pools[p]);
            --pools[p].in_use;
        }
        for (const std::uint32_t p : stations[s].uses) serve(p);
    }

    [[gnu::always_inline]] void serve(std::uint32_t p) {
        const Pool& pool = pools[p];
        if (pool.in_use < pool.size && !pool.waiters.empty()) serve_waiting(p);
    }
    void serve_waiting(std::uint32_t p) {
        Pool& pool = pools[p];
        while (pool.in_use < pool.size && !pool.waiters.empty()) {
            const auto [s, m] = holders[pool.waiters.pop()];
            stations[s].machines[m].waiting_pool = none32;
            start_machine(s, m);
        }
    }

    [[gnu::always_inline]] void done(std::uint32_t s, std::uint32_t m) {
        Station& st = stations[s];
        Machine& machine = st.machines[m];
        advance(st);
        // (Without a setup the share adds nothing once the statistics run;
        // before the warm-up a_setup is discarded anyway.)
        if (machine.setup_part != 0.0) {
            st.a_setup += std::min(machine.setup_part, sim.now() - std::max(machine.started, since));
            machine.setup_part = 0.0;
        }
        for (const std::uint32_t id : std::span(machine.parts, machine.count))
            parts[id].next = draw_route(s, parts[id].product, station_streams[s]);
        machine.placed = 0;
        // The machine stays busy in the counts until place() knows whether it
        // blocks: the counts are integrated only when the clock moves, so a
        // state held for no time need not be entered.
        release_pools(s);
        place(s, m);
    }

    /// Passes a finished machine's parts on; blocked while the next station is full.
    void place(std::uint32_t s, std::uint32_t m) {
        Station& st = stations[s];
        Machine& machine = st.machines[m];
        while (machine.placed < machine.count) {
            const std::uint32_t id = machine.parts[machine.placed];
            const std::uint32_t next = parts[id].next;
            if (!can_accept(next)) {
                set_state(st, machine, blocked);
                stations[next].waiters.push(holder_id[s][m]);
                return;
            }
            ++machine.placed;
            leave(s, id);
            arrive(id, next);
        }
        advance(st);
        machine.count = 0;
        set_state(st, machine, idle);
        st.idle.push_back(m);
        load(s);
        unblock(s);  // an idle machine can take a part straight from upstream
    }

    [[gnu::always_inline]] void leave(std::uint32_t s, std::uint32_t id) {
        Station& st = stations[s];
        advance(st);
        if (sim.now() >= since) {
            ++st.left;
            st.sojourn_sum += sim.now() - parts[id].arrived;
        }
        change_station_wip(s, -1);
    }

    /// Places freed at `s`: the holders blocked on it move their parts in, in order.
    [[gnu::always_inline]] void unblock(std::uint32_t s) {
        if (!stations[s].waiters.empty()) unblock_waiting(s);
    }
    void unblock_waiting(std::uint32_t s) {
        Station& st = stations[s];
        while (!st.waiters.empty() && can_accept(s)) {
            const auto [station, index] = holders[st.waiters.pop()];
            if (station == none32) {
                sources[index].registered = false;
                feed(index);
            } else {
                place(station, index);
            }
        }
    }

    /// A source passes its backlog on (a saturated source makes a new part each time one is taken).
    void feed(std::uint32_t i) {
        Source& src = sources[i];
        const SourceSpec& ss = spec.sources[i];
        for (;;) {
            if (src.backlog.empty()) {
                if (!ss.saturated) return;
                const std::uint32_t product = src.mix ? static_cast<std::uint32_t>(src.mix->sample(source_streams[i])) : 0;
                const std::uint32_t next = draw_route(stations.size() + i, product, source_streams[i]);
                if (!can_accept(next)) {
                    register_source(i, next);
                    return;
                }
                ++src.orders;
                const std::uint32_t id = release(i, product, new_order(sim.now() + ss.due_allowance, 1));
                parts[id].next = next;
                src.backlog.push(id);
            }
            const std::uint32_t id = src.backlog.at(0);
            const std::uint32_t next = parts[id].next;
            if (!can_accept(next)) {
                register_source(i, next);
                return;
            }
            src.backlog.pop();
            arrive(id, next);
        }
    }
    void register_source(std::uint32_t i, std::uint32_t node) {
        if (sources[i].registered) return;
        sources[i].registered = true;
        stations[node].waiters.push(source_holder[i]);
    }

    /// A new part of an order, released into the line (counted in the WIP).
    std::uint32_t release(std::uint32_t source, std::uint32_t product, std::uint32_t order) {
        const std::uint32_t id = new_part(product, order);
        ++sources[source].parts;
        change_plant_wip(+1);
        return id;
    }

    void order_arrives(std::uint32_t i, std::uint32_t product, std::uint32_t quantity, double due) {
        Source& src = sources[i];
        ++src.orders;
        const std::uint32_t order = new_order(due, quantity);
        for (std::uint32_t q = 0; q < quantity; ++q) {
            const std::uint32_t id = release(i, product, order);
            parts[id].next = draw_route(stations.size() + i, product, source_streams[i]);
            src.backlog.push(id);
        }
        if (!src.registered) feed(i);
    }

    void handle(const Event& e) {
        if (e.kind == ev_done) [[likely]] {
            done(e.a, e.b);
            return;
        }
        switch (e.kind) {
            case ev_arrival: {
                const SourceSpec& ss = spec.sources[e.a];
                Source& src = sources[e.a];
                kernel::RandomStream& r = source_streams[e.a];
                const std::uint32_t product = src.mix ? static_cast<std::uint32_t>(src.mix->sample(r)) : 0;
                sim.schedule(type, src.interarrival(r), e);
                order_arrives(e.a, product, ss.quantity, sim.now() + ss.due_allowance);
                break;
            }
            case ev_release: {
                const OrderRelease& o = spec.demand[next_release++];
                order_arrives(o.source, o.product, o.quantity, o.due);
                if (next_release < spec.demand.size())
                    sim.schedule_at(type, std::max(sim.now(), spec.demand[next_release].time), Event{ev_release, 0, 0});
                break;
            }
            case ev_warmup: reset_statistics(); break;
            default: break;
        }
    }

    void start() {
        type = sim.on<Event>([this](kernel::Simulator&, const Event& e) { handle(e); });
        for (std::uint32_t i = 0; i < sources.size(); ++i) {
            if (spec.sources[i].interarrival.kind != TimeKind::none)
                sim.schedule(type, sources[i].interarrival(source_streams[i]), Event{ev_arrival, i, 0});
            if (spec.sources[i].saturated) feed(i);
        }
        if (!spec.demand.empty())
            sim.schedule_at(type, std::max(sim.now(), spec.demand[0].time), Event{ev_release, 0, 0});
        if (spec.warmup > 0.0) {
            since = sim.now() + spec.warmup;  // nothing counts before it
            sim.schedule(type, spec.warmup, Event{ev_warmup, 0, 0}, kernel::min_priority);
        }
    }

    void set_up(std::uint32_t s, bool up) {
        Station& st = stations[s];
        if (st.up == up) return;
        advance(st);
        st.up = up;
        if (!up) {
            const double now = sim.now();
            for (Machine& m : st.machines)
                if (m.state == busy) {
                    m.remaining = sim.time_of(m.done) - now;
                    st.a_setup += std::min(m.setup_part, now - std::max(m.started, since));
                    m.setup_part = std::max(0.0, m.started + m.setup_part - now);
                    sim.cancel(m.done);
                    set_state(st, m, loaded);
                    for (const std::uint32_t p : spec.stations[s].pools) {
                        advance(pools[p]);
                        --pools[p].in_use;
                    }
                }
            for (const std::uint32_t p : spec.stations[s].pools) serve(p);
        } else {
            for (std::uint32_t m = 0; m < st.machines.size(); ++m)
                if (st.machines[m].state == loaded && st.machines[m].waiting_pool == none32) start_machine(s, m);
            load(s);
            unblock(s);
        }
    }

    void set_pool(std::uint32_t p, std::uint32_t size) {
        advance(pools[p]);
        pools[p].size = size;
        serve(p);
    }
};

Line::Line(LineSpec spec, kernel::Simulator& sim, std::vector<kernel::RandomStream> source_streams,
           std::vector<kernel::RandomStream> station_streams)
    : state_(std::make_unique<State>(std::move(spec), sim, std::move(source_streams), std::move(station_streams))) {}
Line::~Line() = default;

void Line::start() { state_->start(); }
void Line::set_station_up(std::uint32_t station, bool up) { state_->set_up(station, up); }
void Line::set_pool_size(std::uint32_t pool, std::uint32_t size) { state_->set_pool(pool, size); }
void Line::on_wip(std::function<void(std::int32_t, std::int64_t)> listener) { state_->wip_listener = std::move(listener); }
const LineSpec& Line::spec() const noexcept { return state_->spec; }

StationStatistics Line::station(std::uint32_t s) const {
    State& x = *state_;
    State::Station& st = x.stations[s];
    x.advance(st);
    StationStatistics out;
    const double elapsed = std::max(0.0, x.sim.now() - x.since);
    const double machine_time = elapsed * static_cast<double>(st.machines.size());
    // The setup share of jobs running now.
    double setup = st.a_setup;
    for (const State::Machine& m : st.machines)
        if (m.state == State::busy) setup += std::clamp(x.sim.now() - std::max(m.started, x.since), 0.0, m.setup_part);
    out.parts = st.left;
    if (elapsed > 0.0) {
        out.utilisation = st.area[State::busy] / machine_time;
        out.setup = setup / machine_time;
        out.blocked = st.area[State::blocked] / machine_time;
        out.starved = st.area[State::idle] / machine_time;
        out.waiting = st.area[State::loaded] / machine_time;
        out.down = st.a_down / elapsed;
        out.mean_queue = st.a_queue / elapsed;
        out.mean_wip = st.a_wip / elapsed;
    }
    if (st.started > 0) {
        out.mean_wait = st.wait_sum / static_cast<double>(st.started);
        out.wait_probability = static_cast<double>(st.waited) / static_cast<double>(st.started);
    }
    if (st.left > 0) out.mean_sojourn = st.sojourn_sum / static_cast<double>(st.left);
    out.wip = st.wip;
    return out;
}

SinkStatistics Line::sink(std::uint32_t k) const {
    const State& x = *state_;
    SinkStatistics out;
    const State::Sink& sk = x.sinks[k];
    out.parts = sk.parts;
    const double elapsed = x.sim.now() - x.since;
    if (elapsed > 0.0) out.throughput = static_cast<double>(sk.parts) / elapsed;
    if (sk.parts > 0) out.mean_cycle = sk.cycle_sum / static_cast<double>(sk.parts);
    return out;
}

PoolStatistics Line::pool(std::uint32_t p) const {
    State& x = *state_;
    State::Pool& pool = x.pools[p];
    x.advance(pool);
    PoolStatistics out;
    const double elapsed = x.sim.now() - x.since;
    if (pool.a_present > 0.0) out.utilisation = pool.a_busy / pool.a_present;
    if (elapsed > 0.0) out.mean_present = pool.a_present / elapsed;
    out.present = pool.size;
    return out;
}

SourceStatistics Line::source(std::uint32_t i) const {
    const State::Source& s = state_->sources[i];
    return SourceStatistics{s.orders, s.parts, static_cast<std::int64_t>(s.backlog.size())};
}

PlantStatistics Line::plant() const {
    const State& x = *state_;
    PlantStatistics out;
    const double now = x.sim.now();
    out.elapsed = std::max(0.0, now - x.since);
    out.parts_out = x.parts_out;
    out.wip = x.plant_wip;
    if (out.elapsed > 0.0) {
        out.throughput = static_cast<double>(x.parts_out) / out.elapsed;
        out.mean_wip = (x.plant_area + static_cast<double>(x.plant_wip) * (now - x.plant_last)) / out.elapsed;
    }
    if (x.parts_out > 0) out.mean_cycle = x.cycle_sum / static_cast<double>(x.parts_out);
    out.orders_completed = x.orders_completed;
    for (const State::Order& o : x.orders)
        if (o.alive != 0 && now > o.due) ++out.orders_open_late;
    out.orders_late = x.orders_late + out.orders_open_late;
    const std::uint64_t judged = x.orders_completed + out.orders_open_late;
    if (judged > 0) out.service_level = static_cast<double>(x.orders_completed - x.orders_late) / static_cast<double>(judged);
    return out;
}

}  // namespace twinsim::models::production
