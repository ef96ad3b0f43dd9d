#include "twinsim/service/event_stream.hpp"

#include <algorithm>
#include <utility>

namespace twinsim::service {

std::string sse_frame(const live::Notification& n) {
    std::string frame = "id: " + std::to_string(n.sequence) + "\n";
    if (n.event.contains("type") && n.event.at("type").is_string()) frame += "event: " + n.event.at("type").get<std::string>() + "\n";
    // One line: dump() escapes newlines inside strings, so data never spans lines.
    frame += "data: " + n.event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
    return frame;
}

std::vector<std::string> EventSubscription::take(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, wait, [this] { return closed_ || !frames_.empty(); });
    std::vector<std::string> out(std::make_move_iterator(frames_.begin()), std::make_move_iterator(frames_.end()));
    frames_.clear();
    return out;
}

std::uint64_t EventSubscription::take_lost() {
    std::lock_guard lock(mutex_);
    return std::exchange(lost_, 0);
}

bool EventSubscription::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

void EventSubscription::offer(const live::Notification& notification) {
    if (admit_ && !admit_(notification.event)) return;
    std::string frame = sse_frame(notification);
    std::lock_guard lock(mutex_);
    if (closed_) return;
    if (frames_.size() >= capacity_) {
        ++lost_;
        return;
    }
    frames_.push_back(std::move(frame));
    arrived_.notify_all();
}

void EventSubscription::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    arrived_.notify_all();
}

std::shared_ptr<EventSubscription> EventHub::subscribe(EventSubscription::Admit admit, std::size_t capacity) {
    auto subscription = std::make_shared<EventSubscription>(std::move(admit), std::max<std::size_t>(1, capacity));
    std::lock_guard lock(mutex_);
    if (closed_) subscription->close();
    subscriptions_.erase(std::remove_if(subscriptions_.begin(), subscriptions_.end(),
                                        [](const std::weak_ptr<EventSubscription>& w) { return w.expired(); }),
                         subscriptions_.end());
    subscriptions_.push_back(subscription);
    return subscription;
}

void EventHub::deliver(const live::Notification& notification) {
    std::vector<std::shared_ptr<EventSubscription>> live;
    {
        std::lock_guard lock(mutex_);
        for (const auto& w : subscriptions_)
            if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (const auto& s : live) s->offer(notification);
}

bool EventHub::idle() {
    std::lock_guard lock(mutex_);
    subscriptions_.erase(std::remove_if(subscriptions_.begin(), subscriptions_.end(),
                                        [](const std::weak_ptr<EventSubscription>& w) { return w.expired(); }),
                         subscriptions_.end());
    return subscriptions_.empty();
}

void EventHub::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (const auto& w : subscriptions_)
        if (auto s = w.lock()) s->close();
}

}  // namespace twinsim::service
