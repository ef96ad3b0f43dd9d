#pragma once
// Event routes and endpoints of a live graph, as in Azure Digital Twins:
// every committed change of a TwinGraph, every model change and every
// telemetry message becomes a CloudEvents notification (cloud_event.hpp);
// routes {id, endpointName, filter} (route_filter.hpp) choose the endpoints
// that receive it.
//
// Delivery (docs/events.md, "Delivery"):
// - Off the writer's thread. The graph's listener builds and numbers the
//   notification and appends it to one bounded in-memory queue; each endpoint
//   has its own worker thread that reads the queue in order, evaluates the
//   routes bound to it and delivers. So every endpoint receives its events in
//   sequence order, hence each twin's events in order.
// - An endpoint refuses an event by throwing. The event is retried with
//   exponential backoff (initial_backoff, doubled up to max_backoff) up to
//   max_attempts; then it is written to the dead-letter NDJSON file (when
//   one is configured) with the endpoint, the reason and the attempts, and
//   delivery goes on. While one event is retried, later events for that
//   endpoint wait (that keeps the order); other endpoints do not wait.
// - Back-pressure: the queue holds queue_capacity notifications not yet
//   taken by every endpoint. When it is full, Backpressure::block makes the
//   writer (and publish_telemetry) wait up to block_timeout for space;
//   Backpressure::drop does not wait. An event that finds no space is
//   dropped: counted in stats().dropped, written to the dead-letter file with
//   the reason, and its sequence number is skipped (a gap tells a consumer
//   that events were lost).
// - close() (and the destructor) stops taking events and delivers everything
//   queued, retries included, within close_timeout; whatever is left then is
//   dead-lettered ("closed before delivery").

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/cloud_event.hpp"
#include "twinsim/live/errors.hpp"

namespace twinsim::live {

// --- endpoints ------------------------------------------------------------------------------

/// Where routed notifications go. deliver() is called from the endpoint's
/// own worker thread, one notification at a time, in sequence order; throwing
/// refuses the notification (it is retried, then dead-lettered).
class Endpoint {
public:
    virtual ~Endpoint() = default;
    virtual void deliver(const Notification& notification) = 0;
    /// Called once, from the worker, after its last delivery.
    virtual void close() {}
};

/// A C++ callback (the history recorder is one).
class CallbackEndpoint final : public Endpoint {
public:
    using Callback = std::function<void(const Notification&)>;
    /// Precondition: callback is not empty.
    explicit CallbackEndpoint(Callback callback) : callback_(std::move(callback)) {}
    void deliver(const Notification& notification) override { callback_(notification); }

private:
    Callback callback_;
};

/// Appends each notification as one line of JSON (the CloudEvent) to a file,
/// rotated by size: before a line would take the file past max_bytes (and the
/// file is not empty), `<path>` is renamed `<path>.1`, an existing `<path>.1`
/// becomes `<path>.2` and so on; at most `keep` rotated files are kept (the
/// oldest is deleted). Each line is flushed to the operating system as written.
class NdjsonFileEndpoint final : public Endpoint {
public:
    struct Options {
        std::uint64_t max_bytes = 64ull << 20;  ///< at least 1
        std::uint32_t keep = 10;                ///< rotated files kept (0: the old file is deleted)
    };
    /// Opens (creates, or appends to) `path`. Throws IoError when it cannot,
    /// LiveError for max_bytes == 0.
    explicit NdjsonFileEndpoint(std::filesystem::path path, Options options);
    explicit NdjsonFileEndpoint(std::filesystem::path path) : NdjsonFileEndpoint(std::move(path), Options{}) {}
    ~NdjsonFileEndpoint() override;
    /// Throws IoError when the write or a rotation fails (then retried).
    void deliver(const Notification& notification) override;
    void close() override;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    void rotate();
    std::filesystem::path path_;
    Options options_;
    std::FILE* file_ = nullptr;
    std::uint64_t size_ = 0;
};

// --- routes and the router -----------------------------------------------------------------

/// ADT's event route: its id, the endpoint it delivers to and its filter.
struct EventRoute {
    std::string id;
    std::string endpoint_name;
    std::string filter;
};

enum class Backpressure : std::uint8_t {
    block,  ///< wait up to block_timeout for space, then drop
    drop,   ///< drop at once
};

struct RouterOptions {
    /// The `source` of graph notifications (ADT: the instance's host name).
    std::string source = "twinsim.local";
    std::size_t queue_capacity = 10000;  ///< at least 1
    Backpressure backpressure = Backpressure::block;
    std::chrono::milliseconds block_timeout{5000};
    std::uint32_t max_attempts = 5;                   ///< at least 1
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{10000};
    /// NDJSON file of refused and dropped events; empty: none (they are only counted).
    std::filesystem::path dead_letter;
    std::chrono::milliseconds close_timeout{10000};
    /// The clock of notification times; the system clock when empty.
    std::function<Timestamp()> clock;
    /// The sequence number of the first notification (a store reopened
    /// continues its numbering with this).
    std::uint64_t first_sequence = 1;
};

struct RouterStats {
    std::uint64_t published = 0;     ///< notifications numbered (dropped ones included)
    std::uint64_t delivered = 0;     ///< successful deliveries to endpoints
    std::uint64_t retries = 0;       ///< failed attempts that were retried
    std::uint64_t dead_lettered = 0; ///< (event, endpoint) pairs given up after max_attempts or at close
    std::uint64_t dropped = 0;       ///< notifications that found the queue full
    std::size_t queued = 0;          ///< notifications not yet taken by every endpoint
    std::uint64_t last_sequence = 0; ///< the last sequence number given (0: none yet)
};

/// Routes the notifications of one TwinGraph. Subscribes to the graph's
/// changes and model changes when constructed. Thread-safe.
///
/// Lifetime: destroy the router before the graph when you can; if the graph
/// goes first the router notices (no more events, publish_telemetry throws)
/// and still delivers what it queued.
class EventRouter {
public:
    /// Throws LiveError for options out of range, IoError when the
    /// dead-letter file cannot be opened.
    explicit EventRouter(graph::TwinGraph& graph, RouterOptions options = {});
    EventRouter(const EventRouter&) = delete;
    EventRouter& operator=(const EventRouter&) = delete;
    ~EventRouter();

    /// Adds an endpoint under `name` (it receives events published from now
    /// on). Throws LiveError when the name is empty or taken, or after close().
    void add_endpoint(const std::string& name, std::shared_ptr<Endpoint> endpoint);
    /// Delivers what was already queued for it, then removes it. Throws
    /// graph::NotFoundError (EndpointNotFound), LiveError while a route uses it.
    void remove_endpoint(const std::string& name);
    [[nodiscard]] std::vector<std::string> endpoint_names() const;

    /// Creates or replaces a route. Throws RouteFilterError for a bad
    /// filter, graph::ValidationError (EventRouteEndpointInvalid) for an
    /// unknown endpoint, LiveError for an empty id.
    void upsert_route(const EventRoute& route);
    /// Throws graph::NotFoundError (EventRouteNotFound).
    [[nodiscard]] EventRoute get_route(const std::string& id) const;
    void delete_route(const std::string& id);
    /// Every route, by id.
    [[nodiscard]] std::vector<EventRoute> routes() const;

    /// Publishes a telemetry message of a twin (or of its component when
    /// `component` is not empty): checked by check_telemetry (its errors),
    /// then routed as microsoft.iot.telemetry. Changes no twin state. An
    /// empty message_id gets a random UUID. Returns the notification's
    /// sequence number. Throws LiveError when the graph is gone or the
    /// router is closed.
    std::uint64_t publish_telemetry(std::string_view twin_id, const nlohmann::json& payload, std::string message_id = {},
                                    std::optional<Timestamp> source_time = std::nullopt, std::string_view component = {},
                                    const std::map<std::string, std::string>& units = {});

    /// Waits until every queued notification was delivered (or
    /// dead-lettered) by every endpoint; false when `timeout` passed first.
    bool flush(std::chrono::milliseconds timeout);
    /// Stops taking events, delivers what is queued (see the file comment),
    /// closes the endpoints and joins their workers. Idempotent.
    void close();
    [[nodiscard]] RouterStats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live
