#include "twinsim/live/routes.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/telemetry.hpp"

namespace twinsim::live {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string line_of(const json& j) {
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    s += '\n';
    return s;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// --- NdjsonFileEndpoint ------------------------------------------------------------------------

NdjsonFileEndpoint::NdjsonFileEndpoint(std::filesystem::path path, Options options)
    : path_(std::move(path)), options_(options) {
    if (options_.max_bytes == 0) throw LiveError("NDJSON endpoint " + path_.string() + ": max_bytes must be at least 1");
    file_ = std::fopen(path_.c_str(), "ab");
    if (!file_) throw IoError("NDJSON endpoint: cannot open " + path_.string() + " for appending: " + errno_text());
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    size_ = ec ? 0 : size;
}

NdjsonFileEndpoint::~NdjsonFileEndpoint() { close(); }

void NdjsonFileEndpoint::rotate() {
    std::fclose(file_);
    file_ = nullptr;
    std::error_code ec;
    const auto numbered = [&](std::uint32_t k) {
        std::filesystem::path p = path_;
        p += "." + std::to_string(k);
        return p;
    };
    if (options_.keep == 0) {
        std::filesystem::remove(path_, ec);
    } else {
        std::filesystem::remove(numbered(options_.keep), ec);
        for (std::uint32_t k = options_.keep; k > 1; --k)
            if (std::filesystem::exists(numbered(k - 1), ec)) std::filesystem::rename(numbered(k - 1), numbered(k), ec);
        std::filesystem::rename(path_, numbered(1), ec);
        if (ec) throw IoError("NDJSON endpoint: cannot rotate " + path_.string() + ": " + ec.message());
    }
    file_ = std::fopen(path_.c_str(), "ab");
    if (!file_) throw IoError("NDJSON endpoint: cannot reopen " + path_.string() + " after rotating: " + errno_text());
    size_ = 0;
}

void NdjsonFileEndpoint::deliver(const Notification& notification) {
    const std::string line = line_of(notification.event);
    if (!file_) {
        file_ = std::fopen(path_.c_str(), "ab");
        if (!file_) throw IoError("NDJSON endpoint: cannot open " + path_.string() + ": " + errno_text());
    }
    if (size_ > 0 && size_ + line.size() > options_.max_bytes) rotate();
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
        throw IoError("NDJSON endpoint: cannot write to " + path_.string() + ": " + errno_text());
    size_ += line.size();
}

void NdjsonFileEndpoint::close() {
    if (file_) std::fclose(file_);
    file_ = nullptr;
}

// --- EventRouter --------------------------------------------------------------------------------

namespace {

struct Slot {
    std::string name;
    std::shared_ptr<Endpoint> endpoint;
    std::uint64_t cursor = 0;          // absolute index of the next queue entry it takes
    std::optional<std::uint64_t> stop_at;  // removal: deliver up to here, then stop
    std::thread worker;
};

struct RouteEntry {
    EventRoute route;
    RouteFilter filter;
};

}  // namespace

struct EventRouter::Impl {
    RouterOptions opt;
    graph::TwinGraph* graph = nullptr;
    std::shared_ptr<std::atomic<bool>> graph_alive = std::make_shared<std::atomic<bool>>(true);
    graph::TwinGraph::ListenerId change_listener = 0;
    graph::TwinGraph::ListenerId model_listener = 0;

    mutable std::mutex m;
    std::condition_variable work;      // new entries, stop
    std::condition_variable progress;  // space freed, entries done
    std::deque<NotificationPtr> queue;
    std::uint64_t base = 0;            // absolute index of queue.front()
    std::uint64_t next_sequence = 1;
    std::map<std::string, std::shared_ptr<Slot>> endpoints;
    std::map<std::string, RouteEntry> routes;
    bool closing = false;
    bool closed = false;
    Clock::time_point close_deadline{};
    RouterStats counters;

    std::mutex dead_mutex;
    std::FILE* dead = nullptr;

    Timestamp now() const { return opt.clock ? opt.clock() : utc_now(); }
    std::uint64_t end() const { return base + queue.size(); }

    // Frees the entries every endpoint has taken. Caller holds m.
    void trim() {
        std::uint64_t low = end();
        for (const auto& [name, slot] : endpoints) low = std::min(low, slot->cursor);
        while (base < low) {
            queue.pop_front();
            ++base;
        }
    }

    void dead_letter(const Notification& n, const std::string& endpoint, const std::string& reason,
                     std::uint32_t attempts) {
        std::lock_guard lock(dead_mutex);
        if (!dead) return;
        json record = json::object();
        record["time"] = format_timestamp(now());
        record["endpoint"] = endpoint;
        record["reason"] = reason;
        record["attempts"] = attempts;
        record["event"] = n.event;
        const std::string line = line_of(record);
        // A dead-letter write that fails cannot be reported anywhere better
        // than the counters: the event is counted either way.
        if (std::fwrite(line.data(), 1, line.size(), dead) == line.size()) std::fflush(dead);
    }

    // Numbers, builds and queues one or more notifications under the lock,
    // applying back-pressure first. Returns the first sequence number.
    template <class Build>
    std::uint64_t publish(std::size_t count, Build&& build) {
        std::unique_lock lock(m);
        if (closing) {
            // Numbered and counted as dropped: nothing delivers after close.
            const std::uint64_t first = next_sequence;
            std::vector<Notification> ns = build(first);
            next_sequence += count;
            counters.published += count;
            counters.dropped += count;
            lock.unlock();
            for (const Notification& n : ns) dead_letter(n, "", "published after the router was closed", 0);
            return first;
        }
        if (endpoints.empty()) {
            // Nobody to deliver to: numbered and counted, not built or kept.
            const std::uint64_t first = next_sequence;
            next_sequence += count;
            counters.published += count;
            counters.last_sequence = next_sequence - 1;
            return first;
        }
        bool space = queue.size() + count <= opt.queue_capacity;
        if (!space && opt.backpressure == Backpressure::block) {
            space = progress.wait_for(lock, opt.block_timeout, [&] {
                return closing || endpoints.empty() || queue.size() + count <= opt.queue_capacity;
            }) && !closing;
        }
        const std::uint64_t first = next_sequence;
        std::vector<Notification> ns = build(first);
        next_sequence += count;
        counters.published += count;
        counters.last_sequence = next_sequence - 1;
        if (!space) {
            counters.dropped += count;
            lock.unlock();
            const std::string reason = "delivery queue full (" + std::to_string(opt.queue_capacity) + " events" +
                                       (opt.backpressure == Backpressure::block
                                            ? ", waited " + std::to_string(opt.block_timeout.count()) + " ms)"
                                            : ")");
            for (const Notification& n : ns) dead_letter(n, "", reason, 0);
            return first;
        }
        if (endpoints.empty()) return first;  // the last endpoint left while this waited: not kept
        for (Notification& n : ns) queue.push_back(std::make_shared<const Notification>(std::move(n)));
        work.notify_all();
        return first;
    }

    EventHeader header(std::uint64_t sequence) const { return EventHeader{opt.source, sequence, now()}; }

    // Delivers one notification to one endpoint with retries; false when it
    // was given up (dead-lettered).
    void deliver(Slot& slot, const Notification& n) {
        std::uint32_t attempts = 0;
        auto backoff = opt.initial_backoff;
        std::string reason;
        for (;;) {
            ++attempts;
            try {
                slot.endpoint->deliver(n);
                std::lock_guard lock(m);
                ++counters.delivered;
                return;
            } catch (const std::exception& e) {
                reason = e.what();
            } catch (...) {
                reason = "the endpoint threw a non-standard exception";
            }
            if (attempts >= opt.max_attempts) break;
            {
                std::unique_lock lock(m);
                if (closing && Clock::now() + backoff > close_deadline) {
                    reason += " (retries cut short: the router closed)";
                    break;
                }
                ++counters.retries;
            }
            std::this_thread::sleep_for(backoff);
            backoff = std::min(opt.max_backoff, backoff * 2);
        }
        {
            std::lock_guard lock(m);
            ++counters.dead_lettered;
        }
        dead_letter(n, slot.name, reason, attempts);
    }

    void run(const std::shared_ptr<Slot>& slot) {
        std::unique_lock lock(m);
        for (;;) {
            work.wait(lock, [&] {
                return slot->cursor < end() || closing || (slot->stop_at && slot->cursor >= *slot->stop_at);
            });
            const std::uint64_t limit = slot->stop_at ? std::min(*slot->stop_at, end()) : end();
            if (slot->cursor >= limit) {
                if (closing || slot->stop_at) break;
                continue;
            }
            const NotificationPtr n = queue[slot->cursor - base];
            std::vector<RouteFilter> filters;
            for (const auto& [id, r] : routes)
                if (r.route.endpoint_name == slot->name) filters.push_back(r.filter);
            const bool late = closing && Clock::now() > close_deadline;
            lock.unlock();
            bool match = false;
            for (const RouteFilter& f : filters)
                if (f.matches(n->event)) {
                    match = true;
                    break;
                }
            if (match) {
                if (late) {
                    {
                        std::lock_guard g(m);
                        ++counters.dead_lettered;
                    }
                    dead_letter(*n, slot->name, "the router closed before delivery", 0);
                } else {
                    deliver(*slot, *n);
                }
            }
            lock.lock();
            ++slot->cursor;
            trim();
            progress.notify_all();
        }
        lock.unlock();
        try {
            slot->endpoint->close();
        } catch (...) {
            // Closing an endpoint that fails has nobody to tell: its deliveries were counted.
        }
    }
};

EventRouter::EventRouter(graph::TwinGraph& graph, RouterOptions options) : impl_(std::make_unique<Impl>()) {
    Impl& I = *impl_;
    if (options.queue_capacity == 0) throw LiveError("event router: queue_capacity must be at least 1");
    if (options.max_attempts == 0) throw LiveError("event router: max_attempts must be at least 1");
    if (options.initial_backoff.count() < 0 || options.max_backoff.count() < 0 || options.block_timeout.count() < 0 ||
        options.close_timeout.count() < 0)
        throw LiveError("event router: timeouts and backoffs must not be negative");
    if (options.first_sequence == 0) throw LiveError("event router: first_sequence must be at least 1");
    I.opt = std::move(options);
    I.next_sequence = I.opt.first_sequence;
    if (!I.opt.dead_letter.empty()) {
        I.dead = std::fopen(I.opt.dead_letter.c_str(), "ab");
        if (!I.dead) throw IoError("event router: cannot open the dead-letter file " + I.opt.dead_letter.string() + ": " + errno_text());
    }
    I.graph = &graph;
    // The token dies with the last listener: when the graph is destroyed
    // first, the router learns it is gone.
    struct Detach {
        std::shared_ptr<std::atomic<bool>> alive;
        ~Detach() { alive->store(false); }
    };
    auto token = std::make_shared<Detach>();
    token->alive = I.graph_alive;
    Impl* impl = impl_.get();
    I.change_listener = graph.subscribe([impl, token](const graph::ChangeEvent& e) {
        impl->publish(1, [&](std::uint64_t seq) {
            std::vector<Notification> out;
            out.push_back(change_notification(e, impl->header(seq)));
            return out;
        });
    });
    I.model_listener = graph.subscribe_models([impl, token](const graph::ModelChange& c) {
        impl->publish(c.model_ids.size(), [&](std::uint64_t seq) { return model_notifications(c, impl->header(seq)); });
    });
}

EventRouter::~EventRouter() {
    close();
    if (impl_->dead) std::fclose(impl_->dead);
}

void EventRouter::add_endpoint(const std::string& name, std::shared_ptr<Endpoint> endpoint) {
    Impl& I = *impl_;
    if (name.empty()) throw LiveError("an endpoint needs a name");
    if (!endpoint) throw LiveError("endpoint '" + name + "': no endpoint given");
    std::lock_guard lock(I.m);
    if (I.closing) throw LiveError("endpoint '" + name + "': the event router is closed");
    if (I.endpoints.count(name)) throw LiveError("an endpoint named '" + name + "' exists already");
    auto slot = std::make_shared<Slot>();
    slot->name = name;
    slot->endpoint = std::move(endpoint);
    slot->cursor = I.end();
    I.endpoints.emplace(name, slot);
    slot->worker = std::thread([impl = impl_.get(), slot] { impl->run(slot); });
}

void EventRouter::remove_endpoint(const std::string& name) {
    Impl& I = *impl_;
    std::shared_ptr<Slot> slot;
    {
        std::lock_guard lock(I.m);
        auto it = I.endpoints.find(name);
        if (it == I.endpoints.end()) throw graph::NotFoundError("EndpointNotFound", "no endpoint named '" + name + "'");
        for (const auto& [id, r] : I.routes)
            if (r.route.endpoint_name == name)
                throw LiveError("endpoint '" + name + "' is used by route '" + id + "': delete the route first");
        slot = it->second;
        slot->stop_at = I.end();
        I.work.notify_all();
    }
    if (slot->worker.joinable()) slot->worker.join();
    std::lock_guard lock(I.m);
    I.endpoints.erase(name);
    I.trim();
    I.progress.notify_all();
}

std::vector<std::string> EventRouter::endpoint_names() const {
    std::lock_guard lock(impl_->m);
    std::vector<std::string> out;
    for (const auto& [name, slot] : impl_->endpoints) out.push_back(name);
    return out;
}

void EventRouter::upsert_route(const EventRoute& route) {
    if (route.id.empty()) throw LiveError("an event route needs an id");
    RouteFilter filter = RouteFilter::parse(route.filter);
    std::lock_guard lock(impl_->m);
    if (!impl_->endpoints.count(route.endpoint_name))
        throw graph::ValidationError("EventRouteEndpointInvalid", "event route '" + route.id + "': no endpoint named '" +
                                                                      route.endpoint_name + "'");
    impl_->routes.insert_or_assign(route.id, RouteEntry{route, std::move(filter)});
}

EventRoute EventRouter::get_route(const std::string& id) const {
    std::lock_guard lock(impl_->m);
    auto it = impl_->routes.find(id);
    if (it == impl_->routes.end()) throw graph::NotFoundError("EventRouteNotFound", "no event route '" + id + "'");
    return it->second.route;
}

void EventRouter::delete_route(const std::string& id) {
    std::lock_guard lock(impl_->m);
    if (impl_->routes.erase(id) == 0) throw graph::NotFoundError("EventRouteNotFound", "no event route '" + id + "'");
}

std::vector<EventRoute> EventRouter::routes() const {
    std::lock_guard lock(impl_->m);
    std::vector<EventRoute> out;
    for (const auto& [id, r] : impl_->routes) out.push_back(r.route);
    return out;
}

std::uint64_t EventRouter::publish_telemetry(std::string_view twin_id, const json& payload, std::string message_id,
                                             std::optional<Timestamp> source_time, std::string_view component,
                                             const std::map<std::string, std::string>& units) {
    Impl& I = *impl_;
    if (!I.graph_alive->load()) throw LiveError("publish_telemetry: the graph of this event router no longer exists");
    {
        std::lock_guard lock(I.m);
        if (I.closing) throw LiveError("publish_telemetry: the event router is closed");
    }
    TelemetryMessage message = check_telemetry(I.graph->snapshot(), twin_id, component, payload, units);
    message.message_id = std::move(message_id);
    message.source_time = source_time;
    return I.publish(1, [&](std::uint64_t seq) {
        std::vector<Notification> out;
        out.push_back(telemetry_notification(message, I.header(seq)));
        return out;
    });
}

bool EventRouter::flush(std::chrono::milliseconds timeout) {
    Impl& I = *impl_;
    std::unique_lock lock(I.m);
    return I.progress.wait_for(lock, timeout, [&] {
        for (const auto& [name, slot] : I.endpoints)
            if (slot->cursor < I.end() && !(slot->stop_at && slot->cursor >= *slot->stop_at)) return false;
        return true;
    });
}

void EventRouter::close() {
    Impl& I = *impl_;
    std::vector<std::shared_ptr<Slot>> slots;
    {
        std::lock_guard lock(I.m);
        if (I.closed) return;
        I.closed = true;
        I.closing = true;
        I.close_deadline = Clock::now() + I.opt.close_timeout;
        for (auto& [name, slot] : I.endpoints) slots.push_back(slot);
        I.work.notify_all();
        I.progress.notify_all();
    }
    // Unsubscribing first: no event arrives from the graph after this.
    if (I.graph_alive->load()) {
        I.graph->unsubscribe(I.change_listener);
        I.graph->unsubscribe(I.model_listener);
    }
    for (auto& slot : slots)
        if (slot->worker.joinable()) slot->worker.join();
}

RouterStats EventRouter::stats() const {
    std::lock_guard lock(impl_->m);
    RouterStats s = impl_->counters;
    s.queued = impl_->queue.size();
    s.last_sequence = impl_->next_sequence - 1;
    return s;
}

}  // namespace twinsim::live
