#pragma once
// The server-sent-events stream of the REST service (GET /events, a twinsim
// extension: docs/service.md, "Event stream"): every notification the
// store's router emits (twin and relationship lifecycle and updates,
// telemetry), as `id: <sequence>`, `event: <type>`, `data: <CloudEvent>`.
// EventHub is a router endpoint that copies each notification to every open
// subscription; it never blocks the router: a subscription holds at most
// `capacity` frames and counts what it had to drop.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/live/routes.hpp"

namespace twinsim::service {

/// One client's view of the stream.
class EventSubscription {
public:
    using Admit = std::function<bool(const nlohmann::json& event)>;
    EventSubscription(Admit admit, std::size_t capacity) : admit_(std::move(admit)), capacity_(capacity) {}

    /// The frames that arrived, waiting up to `wait` for the first one.
    /// Empty after a timeout (send a keep-alive) or once closed().
    [[nodiscard]] std::vector<std::string> take(std::chrono::milliseconds wait);
    /// Notifications dropped because the client read too slowly (then
    /// reported to it as a comment; the ids show the gap).
    [[nodiscard]] std::uint64_t take_lost();
    [[nodiscard]] bool closed() const;

private:
    friend class EventHub;
    void offer(const live::Notification& notification);
    void close();
    Admit admit_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable arrived_;
    std::deque<std::string> frames_;
    std::uint64_t lost_ = 0;
    bool closed_ = false;
};

/// The router endpoint that feeds every subscription.
class EventHub final : public live::Endpoint {
public:
    /// A new subscription seeing the notifications `admit` accepts (all when empty).
    [[nodiscard]] std::shared_ptr<EventSubscription> subscribe(EventSubscription::Admit admit, std::size_t capacity = 10000);
    void deliver(const live::Notification& notification) override;
    /// Closes every subscription (the router is closing).
    void close() override;
    /// True when no subscription is open (each one closes when its client's
    /// stream ends and its last holder lets it go).
    [[nodiscard]] bool idle();

private:
    std::mutex mutex_;
    std::vector<std::weak_ptr<EventSubscription>> subscriptions_;
    bool closed_ = false;
};

/// The SSE frame of a notification: "id: ...\nevent: ...\ndata: ...\n\n".
[[nodiscard]] std::string sse_frame(const live::Notification& notification);

}  // namespace twinsim::service
