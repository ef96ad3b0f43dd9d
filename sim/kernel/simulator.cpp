#include "twinsim/kernel/simulator.hpp"

#include <string>

#include "twinsim/kernel/detail/periodic_state.hpp"

namespace twinsim::kernel {

Simulator::Simulator() {
    Handler resume;
    resume.invoke = [](void*, Simulator&, const Payload& payload) {
        std::coroutine_handle<>::from_address(payload.as<void*>()).resume();
    };
    handlers_.push_back(resume);
    resume_handler_ = 0;
    processes_.prev = processes_.next = &processes_;
    tick_type_ = on<PeriodicTick>([](Simulator& sim, const PeriodicTick& tick) { sim.on_tick(tick); });
    crossing_type_ = on<std::uint32_t>([](Simulator& sim, const std::uint32_t& index) {
        Monitor& m = *sim.monitors_[index];
        if (sim.periodics_[m.periodic]->active) m.on_cross(sim, m.last_rising);
    });
}

Simulator::~Simulator() {
    // Destroy suspended process frames first: their locals may refer to handlers.
    while (processes_.next != &processes_) {
        detail::ProcessNode* node = processes_.next;
        forget(*node);
        node->handle.destroy();
    }
    for (Handler& h : handlers_)
        if (h.destroy) h.destroy(h.object);
}

void Simulator::adopt(detail::ProcessNode& node) noexcept {
    node.sim = this;
    node.prev = processes_.prev;
    node.next = &processes_;
    processes_.prev->next = &node;
    processes_.prev = &node;
    ++live_processes_;
}

void Simulator::forget(detail::ProcessNode& node) noexcept {
    node.prev->next = node.next;
    node.next->prev = node.prev;
    node.prev = node.next = nullptr;
    --live_processes_;
}

EventHandle Simulator::reschedule(EventHandle h, double time) {
    if (!queue_.pending(h)) throw KernelError("reschedule: the event is not pending (it ran or was cancelled)");
    if (!(time >= now_) || !std::isfinite(time)) throw_bad_time(time);
    return queue_.reschedule(h, time);
}

double Simulator::time_of(EventHandle h) const {
    if (!queue_.pending(h)) throw KernelError("time_of: the event is not pending (it ran or was cancelled)");
    return queue_.time_of(h);
}

void Simulator::rethrow_failure() {
    std::exception_ptr e = std::move(failure_);
    failure_ = nullptr;
    attention_.fetch_and(~attend_failure, std::memory_order_relaxed);
    std::rethrow_exception(e);
}

// Start loading the state of the event after the next one while the next
// one runs (a hint: see on(handler, prefetch)).
void Simulator::prefetch_upcoming() noexcept {
    std::uint32_t handler;
    Payload payload;
    if (queue_.upcoming(handler, payload)) {
        const Handler& next = handlers_[handler];
        if (next.prefetch) next.prefetch(next.object, payload);
    }
}

StopReason Simulator::run_until(double horizon) {
    if (std::isnan(horizon) || horizon < now_)
        throw KernelError("run_until: the horizon " + std::to_string(horizon) + " lies before now (" +
                          std::to_string(now_) + ")");
    // Between events: a stop request, then (after each event) the prefetch
    // hint, a failure and the stop condition, in that order; all four are
    // bits of attention_, so a run needing none of them tests one word.
    unsigned attend = attention_.load(std::memory_order_relaxed);
    for (;;) {
        if (attend & attend_stop) [[unlikely]] {
            attention_.fetch_and(~attend_stop, std::memory_order_relaxed);
            return StopReason::request;
        }
        if (queue_.empty() || queue_.next_time() > horizon) break;
        // next_time() found the event: no second look.
        Payload payload;
        const TakenEvent e = queue_.take_prepared(payload, (attend & attend_prefetch) != 0);
        deliver(e, payload);
        attend = attention_.load(std::memory_order_relaxed);
        if (attend & ~attend_stop) [[unlikely]] {
            if (attend & attend_prefetch) prefetch_upcoming();
            if (attend & attend_failure) rethrow_failure();
            if ((attend & attend_condition) && condition_(*this)) return StopReason::condition;
            attend = attention_.load(std::memory_order_relaxed);  // the condition may have asked to stop
        }
    }
    if (std::isinf(horizon)) return StopReason::empty;
    now_ = horizon;
    return StopReason::horizon;
}

bool Simulator::step() {
    // One event, with run_until()'s checks after it (a stop condition or a
    // stop request only matter to run_until, and stay pending for it).
    if (queue_.empty()) return false;
    Payload payload;
    const TakenEvent e = queue_.take(payload);
    deliver(e, payload);
    const unsigned attend = attention_.load(std::memory_order_relaxed);
    if (attend & attend_prefetch) prefetch_upcoming();
    if (attend & attend_failure) rethrow_failure();
    return true;
}

void Simulator::throw_bad_delay(double delay) {
    throw KernelError("schedule: the delay must be finite and >= 0, not " + std::to_string(delay));
}
void Simulator::throw_bad_time(double time) const {
    throw KernelError("schedule: the time " + std::to_string(time) + " must be finite and >= now (" +
                      std::to_string(now_) + ")");
}
void Simulator::throw_bad_priority(int priority) {
    throw KernelError("schedule: the priority " + std::to_string(priority) + " lies outside [-32768, 32767]");
}

}  // namespace twinsim::kernel
