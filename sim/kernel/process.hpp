#pragma once
// Process style on top of events: C++20 coroutines.
//
//   Process customer(Simulator& sim, Resource& server) {
//       co_await server.acquire();
//       co_await sim.delay(60);   // (see delay() below)
//       server.release();
//   }
//   start(sim, customer(sim, server));
//
// A process's frame is allocated once, when the coroutine is called; every
// suspension afterwards is an ordinary event (the frame's address is the
// payload), so waiting allocates nothing. The Simulator owns started frames:
// a frame is freed when its coroutine returns, or when the Simulator is
// destroyed. An exception escaping a process ends that process and is
// rethrown by the Simulator's run_until().

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include "twinsim/kernel/errors.hpp"
#include "twinsim/kernel/simulator.hpp"

namespace twinsim::kernel {

/// The return type of a process coroutine. Holds the not-yet-started frame
/// until start() hands it to a Simulator.
class [[nodiscard]] Process {
public:
    struct promise_type : detail::ProcessNode {
        Process get_return_object() noexcept {
            return Process(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct FinalAwaiter {
            bool await_ready() noexcept { return false; }
            void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                promise_type& p = h.promise();
                if (p.sim) p.sim->forget(p);
                h.destroy();
            }
            void await_resume() noexcept {}
        };
        FinalAwaiter final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept {
            if (sim) sim->fail(std::current_exception());
        }
    };

    Process(Process&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Process& operator=(Process&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process() {
        if (handle_) handle_.destroy();  // never started
    }

    /// Hands the frame to `sim` and schedules its first resumption `delay`
    /// seconds from now. Throws KernelError when already started (empty) or
    /// the delay is negative or not finite.
    void start(Simulator& sim, double delay = 0.0) {
        if (!handle_) throw KernelError("Process::start: this process was already started");
        sim.schedule_resume(handle_, delay);
        promise_type& p = handle_.promise();
        p.handle = handle_;
        sim.adopt(p);
        handle_ = {};
    }

private:
    explicit Process(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
    std::coroutine_handle<promise_type> handle_;
};

/// Starts `process` on `sim` after `delay` seconds (see Process::start).
inline void start(Simulator& sim, Process process, double delay = 0.0) { process.start(sim, delay); }

/// `co_await delay(sim, dt)`, the same as `co_await sim.delay(dt)`.
[[nodiscard]] inline DelayAwaiter delay(Simulator& sim, double dt, int priority = 0) { return sim.delay(dt, priority); }

namespace detail {
/// A suspended waiter, living in the waiting coroutine's frame.
struct WaitNode {
    WaitNode* next = nullptr;
    std::coroutine_handle<> handle;
    double since = 0.0;
};
/// An intrusive FIFO of waiters: no allocation.
struct WaitQueue {
    WaitNode* head = nullptr;
    WaitNode* tail = nullptr;
    std::size_t size = 0;
    void push(WaitNode* n) noexcept {
        n->next = nullptr;
        if (tail) tail->next = n; else head = n;
        tail = n;
        ++size;
    }
    WaitNode* pop() noexcept {
        WaitNode* n = head;
        head = n->next;
        if (!head) tail = nullptr;
        --size;
        return n;
    }
};
}  // namespace detail

/// Something processes wait for: `co_await signal.wait()` suspends until
/// notify_one()/notify_all(); woken processes resume at the current time, in
/// the order they started waiting.
class Signal {
public:
    explicit Signal(Simulator& sim) noexcept : sim_(sim) {}
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;

    class Awaiter {
    public:
        explicit Awaiter(Signal& s) noexcept : signal_(s) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) noexcept {
            node_.handle = h;
            node_.since = signal_.sim_.now();
            signal_.waiters_.push(&node_);
        }
        void await_resume() const noexcept {}

    private:
        Signal& signal_;
        detail::WaitNode node_;
    };
    [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }

    /// Wakes the longest-waiting process; false when none waits.
    bool notify_one() {
        if (waiters_.size == 0) return false;
        sim_.schedule_resume(waiters_.pop()->handle, 0.0);
        return true;
    }
    /// Wakes every waiting process; returns how many.
    std::size_t notify_all() {
        std::size_t n = 0;
        while (notify_one()) ++n;
        return n;
    }
    [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size; }

private:
    Simulator& sim_;
    detail::WaitQueue waiters_;
};

}  // namespace twinsim::kernel
