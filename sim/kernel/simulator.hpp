#pragma once
// The sequential discrete-event simulator of one run.
//
// Time is a double: seconds since the run's start instant (kept in
// start_instant() for results; the kernel itself never reads it).
//
// Events are typed: on<T>(handler) registers a handler for payload type T and
// returns an EventType<T>; schedule(type, delay, payload) queues a small POD
// (handler id + 16-byte payload) in the EventQueue, so scheduling and
// dispatching allocate nothing. Simultaneous events run in the order (time,
// priority (lower first), scheduling order).
//
// A Simulator is neither copyable nor movable: handlers and processes hold
// references to it.

#include <atomic>
#include <chrono>
#include <cmath>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "twinsim/kernel/errors.hpp"
#include "twinsim/kernel/event_queue.hpp"
#include "twinsim/kernel/periodic.hpp"

namespace twinsim::kernel {

class Simulator;

/// `co_await sim.delay(dt)` in a process: resumes dt seconds later (dt = 0
/// yields to the events already scheduled for now).
class DelayAwaiter {
public:
    DelayAwaiter(Simulator& sim, double dt, int priority) noexcept : sim_(sim), dt_(dt), priority_(priority) {}
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}

private:
    Simulator& sim_;
    double dt_;
    int priority_;
};

/// A registered handler for events carrying a T.
template <class T>
struct EventType {
    std::uint32_t id = 0;
};

/// Why run()/run_until() returned.
enum class StopReason : std::uint8_t {
    horizon,    ///< the next event lies beyond the horizon (the clock now reads the horizon)
    condition,  ///< the stop condition answered true after an event
    request,    ///< request_stop() was called
    empty,      ///< no event left (run() without a horizon)
};

/// A UTC instant (Unix epoch, nanoseconds).
using Instant = std::chrono::sys_time<std::chrono::nanoseconds>;

namespace detail {
/// The intrusive list node every live process frame carries (see process.hpp).
struct ProcessNode {
    ProcessNode* prev = nullptr;
    ProcessNode* next = nullptr;
    Simulator* sim = nullptr;
    std::coroutine_handle<> handle;
};
}  // namespace detail

class Simulator {
public:
    Simulator();
    ~Simulator();
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    // --- time ---------------------------------------------------------------
    /// Seconds since the start instant.
    [[nodiscard]] double now() const noexcept { return now_; }
    /// The UTC instant simulated time 0 stands for.
    [[nodiscard]] Instant start_instant() const noexcept { return start_instant_; }
    void set_start_instant(Instant start) noexcept { start_instant_ = start; }
    /// The UTC instant of simulated time `t` (rounded to the nanosecond).
    [[nodiscard]] Instant instant_at(double t) const noexcept {
        return start_instant_ + std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(t * 1e9)));
    }

    // --- handlers and events -----------------------------------------------
    /// Registers `handler`, callable as handler(Simulator&, const T&), for
    /// events carrying a T (trivially copyable, at most 16 bytes). The handler
    /// object is stored once; dispatch is one indirect call.
    template <class T, class F>
    EventType<T> on(F&& handler) {
        static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= Payload::capacity,
                      "an event payload must be trivially copyable and at most 16 bytes");
        using Fn = std::decay_t<F>;
        static_assert(std::is_invocable_v<Fn&, Simulator&, const T&>, "handler(Simulator&, const T&)");
        auto owned = std::make_unique<Fn>(std::forward<F>(handler));
        Handler h;
        h.invoke = [](void* object, Simulator& sim, const Payload& payload) {
            (*static_cast<Fn*>(object))(sim, payload.as<T>());
        };
        h.object = owned.get();
        h.destroy = [](void* object) noexcept { delete static_cast<Fn*>(object); };
        return EventType<T>{add_handler(h, owned)};
    }

    /// As on(handler), with a prefetch hint: `prefetch(const T&)` is called
    /// with the payload of an event about to run soon (usually the one after
    /// the next), so that it can start loading the state the handler will
    /// touch (e.g. `__builtin_prefetch(&lps[payload])`) while other events
    /// run. It must only hint: it is called for some events and not others,
    /// possibly for an event that is then cancelled, and must not change any
    /// state the simulation reads. Worth it when handlers touch per-entity
    /// state too large for the core's cache (tens of thousands of entities
    /// touched in no particular order); otherwise it only costs a call.
    template <class T, class F, class P>
    EventType<T> on(F&& handler, P&& prefetch) {
        static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= Payload::capacity,
                      "an event payload must be trivially copyable and at most 16 bytes");
        using Fn = std::decay_t<F>;
        using Pn = std::decay_t<P>;
        static_assert(std::is_invocable_v<Fn&, Simulator&, const T&>, "handler(Simulator&, const T&)");
        static_assert(std::is_nothrow_invocable_v<Pn&, const T&>, "prefetch(const T&) noexcept");
        struct Both {
            Fn handler;
            Pn prefetch;
        };
        auto owned = std::make_unique<Both>(Both{std::forward<F>(handler), std::forward<P>(prefetch)});
        Handler h;
        h.invoke = [](void* object, Simulator& sim, const Payload& payload) {
            static_cast<Both*>(object)->handler(sim, payload.as<T>());
        };
        h.prefetch = [](void* object, const Payload& payload) noexcept {
            static_cast<Both*>(object)->prefetch(payload.as<T>());
        };
        h.object = owned.get();
        h.destroy = [](void* object) noexcept { delete static_cast<Both*>(object); };
        const std::uint32_t id = add_handler(h, owned);
        attention_.fetch_or(attend_prefetch, std::memory_order_relaxed);
        return EventType<T>{id};
    }

    /// Schedules an event `delay` seconds from now.
    /// Throws KernelError when delay is negative or not finite, or priority is
    /// outside [min_priority, max_priority].
    template <class T>
    EventHandle schedule(EventType<T> type, double delay, const T& payload, int priority = 0) {
        if (!(delay >= 0.0 && delay <= std::numeric_limits<double>::max())) [[unlikely]]
            throw_bad_delay(delay);  // one test: NaN, negative or infinite
        return schedule_raw(now_ + delay, priority, type.id, Payload::of(payload));
    }
    /// Schedules an event at absolute time `time` (>= now(), finite). Throws KernelError otherwise.
    template <class T>
    EventHandle schedule_at(EventType<T> type, double time, const T& payload, int priority = 0) {
        if (!(time >= now_ && time <= std::numeric_limits<double>::max())) [[unlikely]]
            throw_bad_time(time);  // NaN, before now or infinite
        return schedule_raw(time, priority, type.id, Payload::of(payload));
    }

    /// Schedules an event `delay` seconds from now that nobody will cancel or
    /// reschedule: no handle is returned. Ordered exactly as schedule() would
    /// order it (time, priority, scheduling order, counted together with
    /// schedule()'s). Cheaper than schedule() when T is at most 4 bytes (an
    /// entity index...): the handler and payload travel in the queue's key,
    /// so no slot of the handle table is taken or read.
    /// Throws KernelError when delay is negative or not finite, or priority is
    /// outside [min_priority, max_priority].
    template <class T>
    [[gnu::always_inline]] void post(EventType<T> type, double delay, const T& payload, int priority = 0) {
        if (!(delay >= 0.0 && delay <= std::numeric_limits<double>::max())) [[unlikely]]
            throw_bad_delay(delay);  // one test: NaN, negative or infinite
        if (priority < min_priority || priority > max_priority) [[unlikely]]
            throw_bad_priority(priority);
        queue_.post(now_ + delay, priority, type.id, payload);
    }

    /// Cancels a pending event; false when it already ran or was cancelled.
    bool cancel(EventHandle h) noexcept { return queue_.cancel(h); }
    /// Moves a pending event to absolute time `time` (>= now(), finite), keeping
    /// handler, payload and priority; it is ordered as if scheduled now. Returns
    /// the new handle (the old one stops being pending).
    /// Throws KernelError when `h` is not pending or `time` is invalid.
    EventHandle reschedule(EventHandle h, double time);
    /// True while the event is scheduled (not yet run, not cancelled).
    [[nodiscard]] bool pending(EventHandle h) const noexcept { return queue_.pending(h); }
    /// Time of a pending event. Throws KernelError when it is not pending.
    [[nodiscard]] double time_of(EventHandle h) const;
    /// Events pending.
    [[nodiscard]] std::size_t pending_count() const noexcept { return queue_.size(); }
    /// Events dispatched so far.
    [[nodiscard]] std::uint64_t events_processed() const noexcept { return processed_; }
    /// Pre-sizes the future-event list for `n` pending events.
    void reserve(std::size_t n) { queue_.reserve(n); }

    // --- running ------------------------------------------------------------
    /// Dispatches events in order while their time is <= horizon; then the
    /// clock reads `horizon` (unless a stop came first). `horizon` may be
    /// +infinity (then an empty queue returns StopReason::empty). A handler's
    /// exception, or one escaping a process, propagates out of this call; the
    /// simulator stays usable. Precondition: not called from inside a handler.
    /// Throws KernelError when horizon < now() or is NaN.
    StopReason run_until(double horizon);
    /// run_until(+infinity).
    StopReason run() { return run_until(std::numeric_limits<double>::infinity()); }
    /// Dispatches the single next event if there is one; returns whether it did.
    bool step();

    /// A predicate checked after every event; run stops when it answers true.
    /// Pass an empty function to remove it.
    void set_stop_condition(std::function<bool(const Simulator&)> condition) {
        condition_ = std::move(condition);
        if (condition_)
            attention_.fetch_or(attend_condition, std::memory_order_relaxed);
        else
            attention_.fetch_and(~attend_condition, std::memory_order_relaxed);
    }
    /// Asks a running (or the next) run_until() to return before its next
    /// event. Safe to call from any thread; the request is consumed when honoured.
    void request_stop() noexcept { attention_.fetch_or(attend_stop, std::memory_order_relaxed); }

    // --- continuous dynamics (periodic.hpp) ----------------------------------
    /// Calls step(sim, t, dt) at t = first, first + dt, ... until remove_periodic.
    /// Throws KernelError unless dt > 0 and finite and first >= now().
    PeriodicId add_periodic(double dt, StepFunction step, double first, int priority = 0);
    /// add_periodic starting now.
    PeriodicId add_periodic(double dt, StepFunction step) { return add_periodic(dt, std::move(step), now_); }
    /// Stops a periodic step (its monitors fall silent). Throws KernelError for an unknown id.
    void remove_periodic(PeriodicId id);
    /// Watches `quantity` across each step of `periodic`; see periodic.hpp for
    /// the method. Throws KernelError for an unknown periodic or a non-finite threshold.
    MonitorId add_threshold(PeriodicId periodic, QuantityFunction quantity, double threshold, Crossing direction,
                            CrossingFunction on_cross);

    // --- processes (process.hpp) ---------------------------------------------
    /// `co_await sim.delay(dt)`. Throws KernelError, before suspending, when dt
    /// is negative or not finite or priority is out of range.
    [[nodiscard]] DelayAwaiter delay(double dt, int priority = 0) {
        if (!(dt >= 0.0) || !std::isfinite(dt)) throw_bad_delay(dt);
        if (priority < min_priority || priority > max_priority) throw_bad_priority(priority);
        return DelayAwaiter(*this, dt, priority);
    }
    /// Schedules a coroutine frame to resume `delay` seconds from now (used by awaitables).
    EventHandle schedule_resume(std::coroutine_handle<> h, double delay, int priority = 0) {
        if (!(delay >= 0.0 && delay <= std::numeric_limits<double>::max())) [[unlikely]]
            throw_bad_delay(delay);  // one test: NaN, negative or infinite
        return schedule_raw(now_ + delay, priority, resume_handler_, Payload::of(h.address()));
    }
    /// Takes ownership of a started process frame (called by start()).
    void adopt(detail::ProcessNode& node) noexcept;
    /// Unlinks a finished process frame (called from its final suspend).
    void forget(detail::ProcessNode& node) noexcept;
    /// Records an exception that escaped a process; run_until rethrows it.
    void fail(std::exception_ptr e) noexcept {
        if (!failure_) {
            failure_ = std::move(e);
            attention_.fetch_or(attend_failure, std::memory_order_relaxed);
        }
    }
    /// Processes alive (started, not finished).
    [[nodiscard]] std::size_t live_processes() const noexcept { return live_processes_; }

private:
    struct Handler {
        void (*invoke)(void*, Simulator&, const Payload&) = nullptr;
        void* object = nullptr;
        void (*destroy)(void*) noexcept = nullptr;
        void (*prefetch)(void*, const Payload&) noexcept = nullptr;
    };
    struct Periodic;
    struct Monitor;
    struct PeriodicTick {
        std::uint32_t index;
        std::uint32_t pad;
        std::uint64_t k;
    };

    template <class Fn>
    std::uint32_t add_handler(const Handler& h, std::unique_ptr<Fn>& owned) {
        handlers_.reserve(handlers_.size() + 1);
        handlers_.push_back(h);
        (void)owned.release();  // now owned by handlers_
        return static_cast<std::uint32_t>(handlers_.size() - 1);
    }

    EventHandle schedule_raw(double time, int priority, std::uint32_t handler, const Payload& payload) {
        if (priority < min_priority || priority > max_priority) throw_bad_priority(priority);
        return queue_.push(time, priority, handler, payload);
    }
    // Runs one taken event: the clock, the count, the handler, finish_take().
    void deliver(TakenEvent e, const Payload& payload) {
        now_ = e.time;
        ++processed_;
        const Handler& entry = handlers_[e.handler];
        const auto invoke = entry.invoke;  // copies: the handler may register others
        void* const object = entry.object;
        invoke(object, *this, payload);
        queue_.finish_take();
    }
    void prefetch_upcoming() noexcept;
    void on_tick(const PeriodicTick& tick);
    [[noreturn]] void rethrow_failure();
    [[noreturn]] static void throw_bad_delay(double delay);
    [[noreturn]] void throw_bad_time(double time) const;
    [[noreturn]] static void throw_bad_priority(int priority);

    EventQueue queue_;
    std::vector<Handler> handlers_;
    double now_ = 0.0;
    Instant start_instant_{};
    std::uint64_t processed_ = 0;
    std::function<bool(const Simulator&)> condition_;
    // What run_until() must look at between events, as bits, so that a run
    // with none of them (no stop asked for, no stop condition, no failure,
    // no prefetch hint) pays one load and one test per event for all four.
    // Atomic because request_stop() may come from another thread.
    static constexpr unsigned attend_stop = 1;       // request_stop() was called
    static constexpr unsigned attend_condition = 2;  // condition_ is set
    static constexpr unsigned attend_failure = 4;    // failure_ is set
    static constexpr unsigned attend_prefetch = 8;   // some handler has a prefetch hint
    std::atomic<unsigned> attention_{0};
    std::uint32_t resume_handler_ = 0;
    EventType<PeriodicTick> tick_type_{};
    EventType<std::uint32_t> crossing_type_{};
    std::vector<std::unique_ptr<Periodic>> periodics_;
    std::vector<std::unique_ptr<Monitor>> monitors_;
    detail::ProcessNode processes_;  // sentinel of the live-process list
    std::size_t live_processes_ = 0;
    std::exception_ptr failure_;
};

inline void DelayAwaiter::await_suspend(std::coroutine_handle<> h) { sim_.schedule_resume(h, dt_, priority_); }

}  // namespace twinsim::kernel
